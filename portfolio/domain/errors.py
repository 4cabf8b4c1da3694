"""Errors the domain raises; ``api/app.py`` turns each into its HTTP answer in one place."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from portfolio.domain.display import name_of
from portfolio.domain.model import SLUG_PATTERN, USERNAME_PATTERN

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


def validation_errors(
    exc: ValidationError, prefix: str = "", *, percent_fields: Collection[str] = ()
) -> list[tuple[str, str]]:
    """pydantic errors as (dotted field path, rule) pairs, in the order pydantic found them, each
    rule in the product's words ("must be at most 0.99", not "Input should be less than or equal
    to 0.99"). ``percent_fields`` names the fields its form shows as percentages (a share of 0.5
    typed as 50): their bounds are said in per cent ("must be at most 99 %")."""
    out: list[tuple[str, str]] = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        named = [part for part in loc if not part.isdigit()]
        percent = bool(named) and (named[-1] in percent_fields or ".".join(loc) in percent_fields)
        message = rule_in_words(err, percent=percent)
        # model validators name their field at the start of the message ("years: ...")
        head, sep, rest = message.partition(": ")
        if sep and FIELD_PATH.match(head):
            loc, message = loc + head.split("."), rest
        path = ".".join(([prefix] if prefix else []) + loc) or "document"
        out.append((path, message))
    return out


#: the words for a pattern a field must match (model.SLUG_PATTERN, model.USERNAME_PATTERN)
PATTERN_WORDS = {
    SLUG_PATTERN: (
        "use lower-case letters, digits and hyphens, starting and ending with a letter or digit"
    ),
    USERNAME_PATTERN: (
        "use lower-case letters, digits, dots, hyphens or underscores, starting with a letter or "
        "digit"
    ),
}
_QUOTED = re.compile(r"'([^']*)'")


def _amount(value: object, percent: bool) -> str:
    """A bound as a person reads it: ``0.99``, ``100,000``, or ``99 %`` for a percentage."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    number = round(value * 100, 6) if percent else value
    text = f"{number:,.6f}".rstrip("0").rstrip(".")
    return f"{text} %" if percent else text


def rule_in_words(err: ErrorDetails | Mapping[str, Any], *, percent: bool = False) -> str:
    """One pydantic error's rule in the product's words; ``percent``: the form shows the field
    as a percentage. A rule the product wrote itself (a validator's ``ValueError``) is kept."""
    kind = str(err.get("type", ""))
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    given = err.get("input")
    bounds = {
        "greater_than_equal": ("ge", "must be at least {}"),
        "less_than_equal": ("le", "must be at most {}"),
        "greater_than": ("gt", "must be more than {}"),
        "less_than": ("lt", "must be less than {}"),
    }
    if kind in bounds:
        key, words = bounds[kind]
        return words.format(_amount(ctx.get(key), percent))
    if kind == "missing" or (kind == "string_too_short" and given == ""):
        return "is required"
    if kind == "string_too_short":
        return f"must have at least {ctx.get('min_length', 1):,} characters"
    if kind == "string_too_long":
        return f"is too long: at most {ctx.get('max_length', 0):,} characters"
    if kind == "too_short":
        least = int(ctx.get("min_length", 1))
        return "give at least one" if least == 1 else f"give at least {least:,}"
    if kind == "too_long":
        return f"give at most {int(ctx.get('max_length', 0)):,}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be a whole number"
    if kind in ("float_parsing", "float_type", "decimal_parsing", "decimal_type"):
        return "must be a number"
    if kind == "finite_number":
        return "must be a finite number"
    if kind in ("bool_parsing", "bool_type"):
        return "must be yes or no"
    if kind.startswith(("date_", "datetime_")):
        return "must be a date such as 2030-03-31"
    if kind in ("enum", "literal_error"):
        choices = [name_of(code) for code in _QUOTED.findall(str(ctx.get("expected", "")))]
        if choices:
            listed = ", ".join(choices[:-1]) + (" or " if len(choices) > 1 else "") + choices[-1]
            return f"must be {listed}"
    if kind == "string_pattern_mismatch":
        return PATTERN_WORDS.get(str(ctx.get("pattern", "")), "is not in the form expected")
    if kind == "extra_forbidden":
        return "is not a recognised field"
    message = str(err.get("msg", "")).removeprefix("Value error, ")
    return re.sub(r"^(Input|String|List|Dictionary|Tuple|Set|Value) should", "must", message)
