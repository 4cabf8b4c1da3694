"""Contracts in the JSON API (under /api/v1): the mission's contracted awards, and ending one."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.deps import ManageCycle, UowDep, ViewMission
from api.params import RowId
from api.routes.json.common import UtcDateTime, v1_router
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.limits import TEXT_LIMIT
from portfolio.domain.model import Amount, ContractState
from portfolio.services import contracts

router = v1_router()


class ContractSummary(BaseModel):
    """A contracted award: a commitment of every later quarter's problem until it ends."""

    id: int
    candidate: str
    candidate_name: str
    option: str
    option_name: str
    since: str
    awarded_by: str | None
    state: ContractState
    ended_in: str | None
    ended_by: str | None
    ended_at: UtcDateTime | None
    end_reason: str
    break_cost: float | None
    planned_total: float | None = Field(description="the option's planned total cost, £m")
    spent: float = Field(description="actual spend recorded on the option, £m")
    failed_stage_gate: str | None = Field(
        description="a stage gate failed since the contract began: consider ending it"
    )


class EndContract(BaseModel):
    reason: str = Field(
        description=f"why the contract ends (required, at most {TEXT_LIMIT:,} characters)"
    )
    break_cost: Amount | None = Field(
        None, description="£ million, 0 to 100,000: recorded as spent money"
    )
    envelope: str | None = Field(
        None, description="the envelope the break cost comes from (default: the first eligible)"
    )
    expected_state: ContractState | None = Field(
        ContractState.live, description="the state you saw; a contract ended since is a 409"
    )


def _contracts(uow: SqlUnitOfWork, slug: str) -> dict[int, ContractSummary]:
    return {
        v.contract.id or 0: ContractSummary.model_validate(v.as_json())
        for v in contracts.contract_views(uow, slug)
    }


@router.get("/missions/{slug}/contracts", response_model=list[ContractSummary])
def contract_list(
    ctx: ViewMission, uow: UowDep, state: ContractState | None = None
) -> list[ContractSummary]:
    """The mission's contracts, oldest first (``?state=live`` for the live ones)."""
    return [c for c in _contracts(uow, ctx.slug).values() if state is None or c.state is state]


@router.post("/missions/{slug}/contracts/{contract_id}/end", response_model=ContractSummary)
def end_contract(
    ctx: ManageCycle, contract_id: RowId, body: EndContract, uow: UowDep
) -> ContractSummary:
    """End a live contract with a reason; a break cost is recorded in the spend ledger."""
    contracts.end_contract(
        uow,
        ctx.user.username,
        ctx.slug,
        contract_id,
        body.reason,
        body.break_cost,
        envelope=body.envelope,
        expected_state=body.expected_state,
    )
    uow.commit()
    return _contracts(uow, ctx.slug)[contract_id]
