"""Files the product serves and receives: every CSV, spreadsheet, zip and JSON download is an
attachment named for what it holds, and every upload is read the same way."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import Response

CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP = "application/zip"
JSON = "application/json"


def attachment(body: str | bytes, media_type: str, filename: str) -> Response:
    """``body`` as a file the browser saves under ``filename``."""
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def quarter_file(slug: str, quarter: str, what: str) -> str:
    """A file name for one quarter's file: ``demo-2026-27-Q3-allocation.csv``."""
    return f"{slug}-{quarter.replace(' ', '-')}-{what}"


async def uploaded_file(form: Any) -> bytes | None:
    """The bytes of the form's ``file`` field; None when no file, or an empty one, was sent."""
    upload = form.get("file")
    # starlette's class: FastAPI's UploadFile is a subclass that parsed forms never hold
    if isinstance(upload, UploadFile):
        data = await upload.read()
        return data if data else None
    return None
