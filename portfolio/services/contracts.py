"""Contracted awards and their lifecycle.

Rules, each defined here once:
- **Awarding.** Approving an allocation contracts the funded candidates the Mission CEO ticks:
  each gets a live contract for the option the approved run funds, since the quarter. A candidate
  already under a live contract keeps it; if the approved option differs and the CEO ticks the
  candidate again, the old contract is ended (superseded) and a new one made for the new option.
- **Holding.** A live contract is a commitment (``candidate/option``) in every later quarter's
  problem until it ends. An allocation that does not fund a live contract's candidate cannot be
  approved: the CEO ends the contract first. A failed stage gate does not end a contract (the
  contract is a legal fact); the optimiser page asks the CEO whether to end it.
- **Ending.** The CEO ends a live contract with a reason and maybe a break cost (£m, 0-100,000),
  which is spent money: a ``break_cost`` entry in the spend ledger, from the envelope named or else
  the first the candidate may draw on, in the current financial year.
- **Completing.** A contract whose option has no remaining planned cost (its planned total is no
  more than the actual spend recorded on it) completes when the next run's commitments are
  computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from portfolio.adapters.ports import UnitOfWork
from portfolio.domain import limits
from portfolio.domain.errors import Conflict, InvalidInput, validation_errors
from portfolio.domain.model import (
    Candidate,
    Contract,
    ContractState,
    EvidenceKind,
    FundingOption,
    OptimiserRun,
    SpendEntry,
    SpendKind,
)
from portfolio.services.ledger import check_entry, financial_year, record_spend, spent
from portfolio.services.missions import record
from portfolio.services.quarters import current

#: where the CEO ends a contract, as the error messages name it
END_HERE = "on the Optimiser page, under Live contracts"


def ref(contract: Contract) -> str:
    """The contract as a commitment of the optimiser's problem: ``candidate/option``."""
    return f"{contract.candidate}/{contract.option}"


def _option(candidate: Candidate | None, option_id: str) -> FundingOption | None:
    if candidate is None:
        return None
    return next((o for o in candidate.options if o.id == option_id), None)


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# -- what the pages, the API and the CLI show ----------------------------------------------------
@dataclass(frozen=True)
class ContractView:
    """A contract with what a person needs beside it: names, the money, and a failed stage gate
    since it began (a prompt to end it)."""

    contract: Contract
    candidate_name: str
    option_name: str
    planned_total: float | None
    spent: float
    failed_gate: str | None  # "2026-11-02: Gate failed", or None
    eligible_envelopes: tuple[str, ...] = ()  # where a break cost may come from

    def as_json(self) -> dict[str, Any]:
        return {
            **self.contract.model_dump(mode="json"),
            "candidate_name": self.candidate_name,
            "option_name": self.option_name,
            "planned_total": self.planned_total,
            "spent": round(self.spent, 9),
            "failed_stage_gate": self.failed_gate,
        }


def contract_views(uow: UnitOfWork, slug: str, *, live_only: bool = False) -> list[ContractView]:
    """The mission's contracts (only the live ones if ``live_only``), oldest first."""
    contracts = uow.contracts.live(slug) if live_only else uow.contracts.all(slug)
    if not contracts:
        return []
    candidates = {c.id: c for c in uow.candidates.all(slug)}
    by_option = spent(uow, slug).by_option
    failed: dict[str, list[tuple[str, str]]] = {}
    for ev in uow.evidence.all(slug):
        if ev.kind is EvidenceKind.stage_gate and ev.outcome is False:
            failed.setdefault(ev.candidate, []).append(
                (ev.quarter, f"{ev.date.isoformat()}: {ev.summary}")
            )
    out = []
    for c in contracts:
        candidate = candidates.get(c.candidate)
        option = _option(candidate, c.option)
        gates = [text for quarter, text in failed.get(c.candidate, []) if quarter >= c.since]
        out.append(
            ContractView(
                contract=c,
                candidate_name=candidate.name if candidate else c.candidate,
                option_name=option.name if option else c.option,
                planned_total=option.total_cost if option else None,
                spent=by_option.get((c.candidate, c.option), 0.0),
                failed_gate=gates[-1] if gates and c.state is ContractState.live else None,
                eligible_envelopes=tuple(candidate.eligible_envelopes) if candidate else (),
            )
        )
    return out


def live_by_candidate(uow: UnitOfWork, slug: str) -> dict[str, Contract]:
    """Candidate → its live contract (awarding keeps at most one live per candidate)."""
    return {c.candidate: c for c in uow.contracts.live(slug)}


# -- awarding, when an allocation is approved ----------------------------------------------------
def refuse_dropping_contracts(uow: UnitOfWork, slug: str, funded: dict[str, str]) -> None:
    """Refuse an allocation (``funded``: candidate → option) that leaves out a candidate under a
    live contract, naming each one and the way out."""
    dropped = [c for c in uow.contracts.live(slug) if c.candidate not in funded]
    if not dropped:
        return
    names = {c.id: c.name for c in uow.candidates.all(slug)}
    listed = [
        f"{names.get(c.candidate, c.candidate)} (contracted since {c.since})" for c in dropped
    ]
    raise Conflict(
        f"this run does not fund {_names(listed)}, under a live contract: end the contract "
        f"first ({END_HERE}), or approve a run that funds {'it' if len(dropped) == 1 else 'them'}"
    )


def award_contracts(
    uow: UnitOfWork,
    actor: str,
    slug: str,
    quarter: str,
    funded: dict[str, str],
    ticked: set[str],
) -> list[int]:
    """Contract the ``ticked`` funded candidates for the option ``funded`` gives each, since
    ``quarter``; returns the new contracts' ids. A live contract for the same option stays as it
    is; one for another option is ended as superseded by the new one."""
    live = live_by_candidate(uow, slug)
    now = uow.now()
    new_ids = []
    for candidate in sorted(ticked):
        option = funded[candidate]
        old = live.get(candidate)
        if old is not None and old.option == option:
            continue
        if old is not None:
            superseded = old.with_changes(
                state=ContractState.ended,
                ended_in=quarter,
                ended_by=actor,
                ended_at=now,
                end_reason=f"superseded by the contract for option {option} approved in {quarter}",
            )
            uow.contracts.update(slug, superseded)
            record(
                uow,
                actor,
                slug,
                "contract",
                str(old.id),
                "superseded",
                before={"state": old.state.value, "option": old.option},
                after={"state": "ended", "end_reason": superseded.end_reason},
            )
        contract = Contract(candidate=candidate, option=option, since=quarter, awarded_by=actor)
        contract_id = uow.contracts.add(slug, contract)
        record(
            uow,
            actor,
            slug,
            "contract",
            str(contract_id),
            "awarded",
            after=contract.model_dump(mode="json", exclude={"id"}),
        )
        new_ids.append(contract_id)
    return new_ids


# -- holding and completing, when a run's commitments are computed -------------------------------
def complete_finished(uow: UnitOfWork, actor: str, slug: str, quarter: str) -> list[Contract]:
    """Mark completed each live contract whose option has no remaining planned cost (audited);
    returns the contracts still live."""
    live = uow.contracts.live(slug)
    if not live:
        return []
    candidates = {c.id: c for c in uow.candidates.all(slug)}
    by_option = spent(uow, slug).by_option
    still = []
    for c in live:
        option = _option(candidates.get(c.candidate), c.option)
        actual = by_option.get((c.candidate, c.option), 0.0)
        if option is None or actual + 1e-9 < option.total_cost:
            still.append(c)
            continue
        done = c.with_changes(
            state=ContractState.completed,
            ended_in=quarter,
            ended_at=uow.now(),
            end_reason=f"completed: £{actual:,.1f}m spent of £{option.total_cost:,.1f}m planned",
        )
        uow.contracts.update(slug, done)
        record(
            uow,
            actor,
            slug,
            "contract",
            str(c.id),
            "completed",
            before={"state": c.state.value},
            after={"state": "completed", "spent": actual, "planned": option.total_cost},
        )
    return still


# -- ending --------------------------------------------------------------------------------------
def end_contract(
    uow: UnitOfWork,
    actor: str,
    slug: str,
    contract_id: int,
    reason: str,
    break_cost: float | None = None,
    *,
    envelope: str | None = None,
    expected_state: ContractState | None = ContractState.live,
) -> Contract:
    """End a live contract with ``reason``; a ``break_cost`` (£m) is recorded as spent from
    ``envelope`` (default: the first the candidate may draw on) in the current financial year.
    ``expected_state`` is the state the caller saw: if it has changed since, nothing is done."""
    contract = uow.contracts.get(slug, contract_id)
    candidate = uow.candidates.get(slug, contract.candidate)
    _check_still_as_seen(contract, candidate, expected_state)
    quarter = current(uow, slug).label
    year = financial_year(quarter)
    errors: list[tuple[str, str]] = []
    reason = reason.strip()
    if problem := limits.text_problem(reason, missing="give the reason for ending the contract"):
        errors.append(("reason", problem))
    ended, invalid = _ended_contract(uow, actor, contract, quarter, reason, break_cost)
    errors.extend(invalid)
    entry: SpendEntry | None = None
    if ended is not None and ended.break_cost:
        entry, wrong = _break_cost_entry(
            uow,
            slug,
            contract,
            candidate,
            ended.break_cost,
            envelope=envelope,
            quarter=quarter,
            year=year,
            reason=reason,
        )
        errors.extend(wrong)
    if errors or ended is None:
        raise InvalidInput(errors)
    uow.contracts.update(slug, ended)
    entry_ids = record_spend(uow, actor, slug, [entry], source="contract") if entry else []
    record(
        uow,
        actor,
        slug,
        "contract",
        str(contract_id),
        "ended",
        before={"state": contract.state.value},
        after={
            "state": ended.state.value,
            "reason": reason,
            "break_cost": ended.break_cost,
            "envelope": entry.envelope if entry else None,
            "year": year if entry else None,
            "spend_entry": entry_ids[0] if entry_ids else None,
        },
    )
    return ended


def _check_still_as_seen(
    contract: Contract, candidate: Candidate, expected_state: ContractState | None
) -> None:
    """Refuse to end a contract that is no longer live, or no longer in the state the caller
    saw."""
    if contract.state is not ContractState.live:
        by = f" by {contract.ended_by}" if contract.ended_by else ""
        raise Conflict(
            f"the contract with {candidate.name} is already {contract.state.value}"
            f"{by} in {contract.ended_in}: reload the page"
        )
    if expected_state is not None and contract.state is not expected_state:
        raise Conflict(f"the contract with {candidate.name} changed since you opened this page")


def _ended_contract(
    uow: UnitOfWork,
    actor: str,
    contract: Contract,
    quarter: str,
    reason: str,
    break_cost: float | None,
) -> tuple[Contract | None, list[tuple[str, str]]]:
    """The contract as ended in ``quarter``, or None and the (field, rule) errors that stop it."""
    errors: list[tuple[str, str]] = []
    try:
        ended = Contract.model_validate(
            {
                **contract.model_dump(),
                "state": ContractState.ended,
                "ended_in": quarter,
                "ended_by": actor,
                "ended_at": uow.now(),
                "end_reason": reason,
                "break_cost": break_cost,
            }
        )
    except ValidationError as exc:
        for field, rule in validation_errors(exc):
            errors.append(("reason" if field == "end_reason" else field, rule))
        return None, errors
    return ended, errors


def _break_cost_entry(
    uow: UnitOfWork,
    slug: str,
    contract: Contract,
    candidate: Candidate,
    amount: float,
    *,
    envelope: str | None,
    quarter: str,
    year: str,
    reason: str,
) -> tuple[SpendEntry | None, list[tuple[str, str]]]:
    """The break cost as spent money from ``envelope`` (default: the first the candidate may
    draw on) in ``year``, or None, with the (field, rule) errors of the entry."""
    mission = uow.missions.get(slug)
    source = envelope or candidate.eligible_envelopes[0]
    if source not in {e.id for e in mission.envelopes}:
        return None, [("envelope", f"{source} is not an envelope of this mission")]
    entry = SpendEntry(
        candidate=candidate.id,
        option=contract.option,
        envelope=source,
        year=year,
        amount=amount,
        quarter=quarter,
        kind=SpendKind.break_cost,
        note=f"break cost of ending the contract since {contract.since}: {reason}"[:10_000],
    )
    return entry, check_entry(mission, {candidate.id: candidate}, entry, year)


# -- the optimiser's words about a contract ------------------------------------------------------
def diagnosis_labels(run: OptimiserRun) -> list[str]:
    """The run's infeasibility diagnosis in words, a contracted commitment named by its candidate
    and option as the forms name them (the optimiser knows only ids)."""
    names = {c["id"]: c.get("name") or c["id"] for c in run.problem.get("candidates", [])}
    option_names = {
        (c["id"], o["id"]): o.get("name") or o["id"]
        for c in run.problem.get("candidates", [])
        for o in c.get("options", [])
    }
    out = []
    for d in run.result.diagnosis if run.result else []:
        key = d.get("key") or []
        if d.get("rule") == "commitment" and key:
            candidate, _, option = str(key[0]).partition("/")
            what = names.get(candidate, candidate)
            if option:
                what += f" ({option_names.get((candidate, option), option)})"
            out.append(
                f"The contract with {what} cannot be honoured together with the other rules: "
                f"relax another rule, or end the contract ({END_HERE})"
            )
        else:
            out.append(str(d.get("label") or d.get("rule") or "The rules conflict."))
    return out
