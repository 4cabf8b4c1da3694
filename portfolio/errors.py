"""Errors the domain raises; ``api/app.py`` turns each into its HTTP answer in one place."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import ValidationError

FIELD_PATH = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*$")


class PortfolioError(Exception):
    """Base of the domain's errors."""

    status = 400


class NotFound(PortfolioError):
    """The thing asked for does not exist (or the caller may not know it exists)."""

    status = 404


class Conflict(PortfolioError):
    """The change clashes with the current state (duplicate id, stale version, frozen data)."""

    status = 409


class PermissionDenied(PortfolioError):
    """The caller's role does not allow this."""

    status = 403


class InvalidInput(PortfolioError):
    """Input broke a rule; ``errors`` holds (field, rule) pairs, every one found."""

    status = 422

    def __init__(self, errors: Iterable[tuple[str, str]]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{field}: {rule}" for field, rule in self.errors))

    @classmethod
    def single(cls, field: str, rule: str) -> InvalidInput:
        return cls([(field, rule)])

    @classmethod
    def from_validation(cls, exc: ValidationError, prefix: str = "") -> InvalidInput:
        return cls(validation_errors(exc, prefix))


def validation_errors(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    """pydantic errors as (dotted field path, rule) pairs, in the order pydantic found them."""
    out: list[tuple[str, str]] = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        message = err["msg"].removeprefix("Value error, ")
        # model validators name their field at the start of the message ("years: ...")
        head, sep, rest = message.partition(": ")
        if sep and FIELD_PATH.match(head):
            loc, message = loc + head.split("."), rest
        path = ".".join(([prefix] if prefix else []) + loc) or "document"
        out.append((path, message))
    return out
