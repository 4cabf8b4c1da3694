"""Whole numbers in URLs, bounded to what the database holds, so a huge number in a path or a
query is a 422 (or a 404), never a 500 from the database driver.

Row ids are INTEGER columns: 32 bits on PostgreSQL (SQLite's are 64). Every route takes a row id
or a page number through these types; a test walks the app's routes and refuses any whole-number
parameter without an upper bound.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

#: the largest id an INTEGER column holds on PostgreSQL (and so on every supported database)
MAX_ROW_ID = 2**31 - 1
#: the last page a paged list may be asked for (50 rows a page: far beyond any real trail)
MAX_PAGE = 1_000_000

RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="a row's id (1 to 2,147,483,647)")]
RowIdQuery = Annotated[int, Query(ge=1, le=MAX_ROW_ID)]
Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description="the page, from 1")]
