"""What every model of the domain shares: slug and username patterns, the checks of financial
years and quarters, the annotated types of money and other typed-in quantities, the quarter
helpers and ``Strict``, the base of every model."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from optimiser.pert import MAX_QUANTITY

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,39}$"
FY_RE = re.compile(r"^(\d{4})-(\d{2})$")
QUARTER_RE = re.compile(r"^(\d{4}-\d{2}) Q([1-4])$")


def _check_financial_year(value: str) -> str:
    match = FY_RE.match(value)
    if not match or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        raise ValueError("must be a financial year such as 2026-27 (second year follows the first)")
    return value


def _check_quarter(value: str) -> str:
    match = QUARTER_RE.match(value)
    if not match:
        raise ValueError("must be a quarter such as 2026-27 Q3")
    _check_financial_year(match.group(1))
    return value


def _check_finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Slug = Annotated[
    str,
    StringConstraints(pattern=SLUG_PATTERN, max_length=64),
    Field(
        description="lower-case letters, digits and hyphens, starting and ending with a letter "
        "or digit"
    ),
]
Username = Annotated[str, StringConstraints(pattern=USERNAME_PATTERN, max_length=40)]
FinancialYear = Annotated[str, AfterValidator(_check_financial_year), Field(examples=["2026-27"])]
QuarterLabel = Annotated[str, AfterValidator(_check_quarter), Field(examples=["2026-27 Q3"])]
Money = Annotated[float, Field(ge=0, allow_inf_nan=False, description="£ million, >= 0")]
#: the largest amount of money a person may type anywhere, £ million (£100 billion)
MAX_MONEY = 100_000.0
#: money a person types (budgets, costs, spend): finite, 0 to £100 billion; ``Money`` is for
#: money the product computes (sums of these)
Amount = Annotated[
    float, Field(ge=0, le=MAX_MONEY, allow_inf_nan=False, description="£ million, 0 to 100,000")
]
#: the largest magnitude of any other quantity a person types: ``optimiser.pert.MAX_QUANTITY``
Quantity = Annotated[float, Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY, allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0.01, le=0.99, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
TRL = Annotated[int, Field(ge=1, le=9, strict=True)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


def quarter_of(day: dt.date) -> str:
    """The UK financial-year quarter containing ``day`` (April-June is Q1)."""
    start = day.year if day.month >= 4 else day.year - 1
    q = ((day.month - 4) % 12) // 3 + 1
    return f"{start}-{(start + 1) % 100:02d} Q{q}"


def quarter_dates(label: str) -> tuple[dt.date, dt.date]:
    """The first and last day of quarter ``label`` (``2026-27 Q1``: 1 April to 30 June 2026)."""
    year, q = label.split(" Q")
    month = 4 + 3 * (int(q) - 1)  # April, July, October, January (of the next calendar year)
    first = dt.date(int(year[:4]) + (month > 12), (month - 1) % 12 + 1, 1)
    after = dt.date(first.year + (first.month > 9), (first.month + 2) % 12 + 1, 1)
    return first, after - dt.timedelta(days=1)


def next_quarter(label: str) -> str:
    """The quarter after ``label`` (``2026-27 Q4`` → ``2027-28 Q1``)."""
    year, q = label.split(" Q")
    start = int(year[:4])
    if q == "4":
        return f"{start + 1}-{(start + 2) % 100:02d} Q1"
    return f"{year} Q{int(q) + 1}"


class Strict(BaseModel):
    """Base for domain models: unknown fields are an error, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    def with_changes(self, **changes: Any) -> Self:
        """A copy with ``changes``, validated as any input is (``model_copy(update=…)`` is not:
        it would store a NaN, an infinity or an out-of-range value as given)."""
        fields = self.model_dump(exclude=set(type(self).model_computed_fields))
        return self.model_validate({**fields, **changes})
