"""Money across quarters: the ledger of money spent, contracted awards that bind later quarters,
and Treasury's approval of awards above the Delegated Authority Limit."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import Field

from portfolio.domain.model.common import (
    Amount,
    FinancialYear,
    QuarterLabel,
    Slug,
    Strict,
    Text,
    Username,
)


class SpendKind(StrEnum):
    actual = "actual"
    break_cost = "break_cost"


class SpendEntry(Strict):
    """Money actually spent on one option, from one envelope, in one financial year (the ledger).
    Spent money is sunk: the next quarter's problem plans only what remains."""

    id: int | None = None
    candidate: Slug
    option: Slug
    envelope: Slug
    year: FinancialYear
    amount: Amount
    quarter: QuarterLabel = Field(description="the quarter in which it was recorded")
    kind: SpendKind = SpendKind.actual
    note: Text = ""
    recorded_by: Username | None = None
    recorded_at: dt.datetime | None = None


class ContractState(StrEnum):
    live = "live"
    ended = "ended"
    completed = "completed"


class Contract(Strict):
    """A contracted award: a commitment in every later quarter's problem until the CEO ends it
    (with a reason, maybe a break cost, which is then spent money) or it completes."""

    id: int | None = None
    candidate: Slug
    option: Slug
    since: QuarterLabel
    awarded_by: Username | None = None
    state: ContractState = ContractState.live
    ended_in: QuarterLabel | None = None
    ended_by: Username | None = None
    ended_at: dt.datetime | None = None
    end_reason: Text = ""
    break_cost: Amount | None = None


class ApprovalState(StrEnum):
    requested = "requested"
    approved = "approved"
    refused = "refused"


class TreasuryApproval(Strict):
    """The CEO's request that Treasury approve an award above the Delegated Authority Limit, and
    Treasury's decision (only a Treasury reviewer decides)."""

    id: int | None = None
    candidate: Slug
    requested_by: Username
    requested_at: dt.datetime
    request_reason: Text = ""
    state: ApprovalState = ApprovalState.requested
    decided_by: Username | None = None
    decided_at: dt.datetime | None = None
    decision_reason: Text = ""
