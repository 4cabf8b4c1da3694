"""What a mission publishes each quarter: the update letter (drafted from the quarter's data,
checked, saved, published) and the open data of a published quarter.

The letter is drafted by ``portfolio.domain.quarterly_update.draft_update`` from
``update_context``; the CEO edits it, and it is saved only when it is under the word limit
(``portfolio.domain.limits``, the same count as the draft's). Public outputs name a commercially
sensitive candidate only by its platform and tier (``quarterly_update.public_label``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from optimiser.result import Spend
from portfolio.adapters.ports import UnitOfWork
from portfolio.domain import limits
from portfolio.domain.errors import Conflict
from portfolio.domain.model import (
    EvidenceKind,
    OptimiserRun,
    Quarter,
    QuarterlyUpdate,
    QuarterState,
    Sector,
    next_quarter,
)
from portfolio.domain.quarterly_update import (
    Change,
    ProposedStop,
    PublicDissent,
    UpdateContext,
    draft_update,
    public_label,
)
from portfolio.services.beliefs import all_beliefs
from portfolio.services.cycle import holdings, previous_quarter
from portfolio.services.ledger import spent_by_end_of
from portfolio.services.missions import record
from portfolio.services.quarters import current


# -- the update letter ---------------------------------------------------------------------------
def checked_update(uow: UnitOfWork, slug: str, body: str) -> tuple[Quarter, str, int]:
    """The current quarter, the letter as it would be saved and its word count
    (``limits.count_words``, as the draft is counted); refuses what ``save_update`` refuses (no
    approved allocation, an empty letter or one not under ``limits.LETTER_WORD_LIMIT`` words, an
    update already published), so a confirmation is asked only for what can be done."""
    quarter = current(uow, slug)
    if quarter.state is not QuarterState.approved:
        raise Conflict("approve an allocation before writing the quarter's update")
    body, words = limits.checked_letter("body", body)
    before = uow.cycle.update(slug, quarter.label)
    if before is not None and before.published:
        raise Conflict("the update is published; it can no longer be edited")
    return quarter, body, words


def save_update(
    uow: UnitOfWork, actor: str, slug: str, body: str, *, publish: bool
) -> QuarterlyUpdate:
    quarter, body, words = checked_update(uow, slug, body)
    update = QuarterlyUpdate(
        quarter=quarter.label,
        body=body,
        published=publish,
        published_at=uow.now() if publish else None,
        published_by=actor if publish else None,
    )
    uow.cycle.set_update(slug, update)
    record(
        uow,
        actor,
        slug,
        "quarterly_update",
        quarter.label,
        "published" if publish else "saved draft",
        after={"words": words},
    )
    return update


# -- the update letter's content -----------------------------------------------------------------
def public_names(uow: UnitOfWork, slug: str) -> dict[str, str]:
    """Candidate id → what public outputs show (platform and tier only if sensitive)."""
    return {c.id: public_label(c) for c in uow.candidates.all(slug)}


def update_context(uow: UnitOfWork, slug: str, label: str) -> UpdateContext:
    """Everything the letter of quarter ``label`` says, from the stored cycle data."""
    mission = uow.missions.get(slug)
    quarter = uow.missions.quarter(slug, label)
    if quarter.approved_run is None or quarter.rag is None:
        raise Conflict("approve an allocation before drafting the update")
    run = uow.runs.get(slug, quarter.approved_run)
    oos = run.out_of_sample
    spend = run.result.spend if run.result else Spend()
    names = public_names(uow, slug)
    planned = {p.quarter: p.planned_p_target for p in uow.cycle.trajectory(slug)}
    evidence = [e for e in uow.evidence.all(slug) if e.quarter == label]
    nxt = next_quarter(label)
    return UpdateContext(
        mission_name=mission.name,
        target=mission.target,
        unit=mission.unit,
        deadline=mission.deadline,
        quarter=label,
        rag=quarter.rag_shown or quarter.rag,
        rag_computed=quarter.rag,
        rag_override_reason=quarter.rag_reason,
        green_threshold=mission.rag_green,
        amber_threshold=mission.rag_amber,
        p_target=run.p_target,
        p_target_scenarios=(oos.scenarios or None) if oos else None,
        planned_p_target=planned.get(label),
        previous_p_target=_previous_p_target(uow, slug, label),
        expected_impact=max(oos.expected_impact, 0.0) if oos else 0.0,
        cvar_shortfall=oos.cvar_shortfall if oos else None,
        cvar_alpha=(run.problem.get("policy") or {}).get("cvar_alpha"),
        spend_total=spend.total,
        budget_total=sum(e.total for e in mission.envelopes),
        spent_to_date=spent_by_end_of(uow.spend.all(slug), label),
        p_overrun=oos.p_overrun if oos else None,
        expected_overspend=oos.expected_overspend if oos else None,
        spend_by_platform=dict(spend.by_platform),
        n_funded=len(holdings(run)),
        n_candidates=len(names),
        changes=_public_changes(uow, slug, label, names),
        evidence_counts=dict(Counter(e.kind for e in evidence)),
        stage_gates_passed=sum(
            1 for e in evidence if e.kind is EvidenceKind.stage_gate and e.outcome
        ),
        stage_gates_failed=sum(
            1 for e in evidence if e.kind is EvidenceKind.stage_gate and e.outcome is False
        ),
        flags=_flags_in_words(run, names),
        proposed_stops=_proposed_stops(uow, slug, names, mission.kill_threshold),
        dissents=_public_dissents(uow, slug, label),
        next_quarter=nxt,
        next_planned_p_target=planned.get(nxt),
    )


def _previous_p_target(uow: UnitOfWork, slug: str, label: str) -> float | None:
    """P(target) of the allocation approved in the latest quarter before ``label``."""
    prev = previous_quarter(uow, slug, label)
    if prev is None or prev.approved_run is None:
        return None
    return uow.runs.get(slug, prev.approved_run).p_target


def _public_changes(uow: UnitOfWork, slug: str, label: str, names: dict[str, str]) -> list[Change]:
    """The quarter's changes, each candidate by its public label."""
    return [
        Change(
            candidate_label=names.get(c.candidate, c.candidate),
            **c.model_dump(exclude={"quarter", "contracted"}),
        )
        for c in uow.cycle.changes(slug, label)
    ]


def _flags_in_words(run: OptimiserRun, names: dict[str, str]) -> list[str]:
    """The approved run's risk flags in words, each candidate by its public label."""
    flags = []
    for flag in run.result.flags if run.result else []:
        words = (
            "an award above the Delegated Authority Limit"
            if flag.kind == "above_dal"
            else "novel, contentious or repercussive spending"
        )
        flags.append(f"{names.get(flag.candidate, flag.candidate)}: {words} (£{flag.amount:,.1f}m)")
    return flags


def _proposed_stops(
    uow: UnitOfWork, slug: str, names: dict[str, str], threshold: float
) -> list[ProposedStop]:
    """Candidates proposed for stopping (``portfolio.domain.beliefs``), by public label, with
    their best option's posterior p."""
    return [
        ProposedStop(
            candidate_label=names[belief.candidate.id],
            posterior_p=max(o.posterior for o in belief.options),
            threshold=threshold,
        )
        for belief in all_beliefs(uow, slug)
        if belief.proposed_for_stopping
    ]


def _public_dissents(uow: UnitOfWork, slug: str, label: str) -> list[PublicDissent]:
    """The quarter's dissents, each with its author's sector instead of their name."""
    sectors = {m.username: m.sector for m in uow.missions.council(slug)}
    return [
        PublicDissent(member_sector=sectors.get(d.author, Sector.civil_society), text=d.text)
        for d in uow.cycle.dissents(slug, label)
    ]


def draft_letter(uow: UnitOfWork, slug: str, label: str) -> str:
    return draft_update(update_context(uow, slug, label))


# -- public outputs ------------------------------------------------------------------------------
PUBLIC_COLUMNS = [
    "candidate",
    "organisation",
    "platform",
    "tier",
    "option",
    "envelope",
    "year",
    "amount_m",
]


def published_quarters(uow: UnitOfWork, slug: str) -> list[QuarterlyUpdate]:
    return [u for u in uow.cycle.updates(slug) if u.published]


def public_risk(uow: UnitOfWork, slug: str, label: str) -> dict[str, float | None]:
    """The open data's headline numbers of a quarter's approved allocation (out of sample):
    P(target), P(overrun) and expected overspend, planned remaining spend and spend to date."""
    quarter = uow.missions.quarter(slug, label)
    if quarter.approved_run is None:
        return {}
    run = uow.runs.get(slug, quarter.approved_run)
    oos = run.out_of_sample
    return {
        "p_target": run.p_target,
        "p_overrun": oos.p_overrun if oos else None,
        "expected_overspend_m": oos.expected_overspend if oos else None,
        "planned_remaining_m": run.result.spend.total if run.result else None,
        "spent_to_date_m": spent_by_end_of(uow.spend.all(slug), label),
    }


def public_allocation(uow: UnitOfWork, slug: str, label: str) -> list[dict[str, Any]]:
    """The approved allocation of a published quarter as open data: a commercially sensitive
    candidate appears only as its platform and tier, never by name or organisation."""
    quarter = uow.missions.quarter(slug, label)
    if quarter.approved_run is None:
        return []
    run = uow.runs.get(slug, quarter.approved_run)
    candidates = {c.id: c for c in uow.candidates.all(slug)}
    rows = []
    for f in run.funding:
        c = candidates.get(f.candidate)
        sensitive = c is None or c.commercially_sensitive
        rows.append(
            {
                "candidate": public_label(c) if c else "A withdrawn candidate",
                "organisation": "" if sensitive or c is None else c.organisation,
                "platform": c.platform if c else "",
                "tier": c.tier.value if c else "",
                "option": f.option,
                "envelope": f.envelope,
                "year": f.year,
                "amount_m": round(f.amount, 6),
            }
        )
    return sorted(rows, key=lambda r: (r["platform"], r["candidate"], r["year"], r["envelope"]))
