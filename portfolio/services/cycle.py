"""The quarterly cycle: evidence, approving an allocation, RAG and dissent, closing a quarter into
a hash-chained audit pack, and the planned trajectory. What the quarter publishes (the update
letter, the open data) is ``portfolio.services.publication``; what is believed about each
candidate, ``portfolio.services.beliefs``.

State machine of a quarter: ``open`` → ``approved`` (a run's allocation is approved; another run
may be approved instead while the quarter is not closed) → ``closed`` (needs the update published;
everything of the quarter is then frozen and the next quarter opens). Anything else is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pydantic import BaseModel

from portfolio.adapters import auditpack
from portfolio.adapters.auditpack import canonical_json, pack_hash
from portfolio.adapters.ports import UnitOfWork
from portfolio.domain import limits
from portfolio.domain.errors import Conflict, InvalidInput, PermissionDenied
from portfolio.domain.model import (
    AllocationChange,
    ChangeKind,
    Dissent,
    Evidence,
    EvidenceKind,
    Mission,
    OptimiserRun,
    Quarter,
    QuarterState,
    Rag,
    Role,
    TrajectoryPoint,
    next_quarter,
    quarter_dates,
)
from portfolio.domain.quarterly_update import (
    classify_changes,
)
from portfolio.domain.rag import RagRating, apply_override, rate_delivery
from portfolio.services import contracts
from portfolio.services.missions import record
from portfolio.services.quarters import current, lock_current


def _json(model: BaseModel | None) -> dict[str, Any] | None:
    return model.model_dump(mode="json") if model is not None else None


# -- evidence ------------------------------------------------------------------------------------
def record_evidence(uow: UnitOfWork, actor: str, slug: str, evidence: Evidence) -> None:
    """Record evidence about a candidate in the current quarter (never in a closed one)."""
    quarter = current(uow, slug)
    if evidence.quarter != quarter.label:
        raise InvalidInput.single(
            "quarter", f"evidence is recorded in the current quarter, {quarter.label}"
        )
    candidate = uow.candidates.get(slug, evidence.candidate)
    if evidence.option is not None and evidence.option not in {o.id for o in candidate.options}:
        raise InvalidInput.single(
            "option", f"{evidence.option} is not an option of {candidate.name}"
        )
    earliest, latest = evidence_dates(uow.missions.get(slug), quarter.label, uow.now().date())
    if not earliest <= evidence.date <= latest:
        raise InvalidInput.single(
            "date",
            f"must be from {earliest.day} {earliest:%B %Y} (the start of the mission) to "
            f"{latest.day} {latest:%B %Y}",
        )
    if evidence.kind is EvidenceKind.trl_change and evidence.trl is not None:
        before = candidate.trl
        if before != evidence.trl:
            uow.candidates.update(slug, candidate.with_changes(trl=evidence.trl), None)
            record(
                uow,
                actor,
                slug,
                "candidate",
                candidate.id,
                "updated",
                before={"trl": before},
                after={"trl": evidence.trl},
            )
    evidence = evidence.with_changes(recorded_by=actor)
    uow.evidence.add(slug, evidence)
    record(uow, actor, slug, "evidence", candidate.id, "recorded", after=_json(evidence))


def evidence_dates(mission: Mission, quarter: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The dates evidence may carry: from the start of the mission's first financial year to
    today, or to the end of the quarter it is recorded in when that is later (evidence records
    what has happened; a date in the quarter is accepted whatever the clock says)."""
    earliest = dt.date(int(mission.years[0][:4]), 4, 1)
    return earliest, max(today, quarter_dates(quarter)[1])


# -- approval ------------------------------------------------------------------------------------
Holding = tuple[str, float]  # (option, total amount in £m)


def holdings(run: OptimiserRun) -> dict[str, Holding]:
    """What a run funds: candidate → (option, total £m over envelopes and years)."""
    out: dict[str, Holding] = {}
    for row in run.funding:
        option, amount = out.get(row.candidate, (row.option, 0.0))
        out[row.candidate] = (option, amount + row.amount)
    for candidate, option in run.selected.items():
        out.setdefault(candidate, (option, 0.0))
    return out


def previous_quarter(uow: UnitOfWork, slug: str, label: str) -> Quarter | None:
    """The latest quarter before ``label`` that had an approved allocation."""
    earlier = [
        q for q in uow.missions.quarters(slug) if q.label < label and q.approved_run is not None
    ]
    return earlier[-1] if earlier else None


def previous_holdings(uow: UnitOfWork, slug: str, label: str) -> dict[str, Holding]:
    prev = previous_quarter(uow, slug, label)
    if prev is None or prev.approved_run is None:
        return {}
    return holdings(uow.runs.get(slug, prev.approved_run))


def classify(
    before: dict[str, Holding], after: dict[str, Holding], quarter: str
) -> list[AllocationChange]:
    """start / continue / scale up / scale down / stop for each candidate in either allocation
    (``reports.classify_changes``: continue = same option and amount within 1 %)."""
    return [
        AllocationChange(quarter=quarter, **c.model_dump(exclude={"candidate_label"}))
        for c in classify_changes(before, after)
    ]


def proposed_changes(uow: UnitOfWork, slug: str, run_id: int) -> list[AllocationChange]:
    """The changes approving run ``run_id`` would make against the last approved allocation."""
    run = uow.runs.get(slug, run_id)
    return classify(previous_holdings(uow, slug, run.quarter), holdings(run), run.quarter)


def what_if_refusal(run: OptimiserRun) -> str:
    """Why a what-if run (made on scaled envelopes) is never an allocation."""
    return (
        f"run {run.id} is a what-if (envelopes at {run.budget_scale * 100:g} %): it answers a "
        "question and cannot be approved; approval needs a run on the real budgets "
        "(envelopes at 100 %)"
    )


def approval_refusal(uow: UnitOfWork, slug: str, run: OptimiserRun) -> str | None:
    """Why ``run`` cannot be approved as its quarter's allocation, in words, or None when it
    can: a what-if run, a run of a closed or an earlier quarter and a run that found no portfolio
    never can (``approve_run`` refuses them; pages offer approval only when this is None)."""
    if run.what_if:
        return what_if_refusal(run)
    if uow.missions.quarter(slug, run.quarter).state is QuarterState.closed:
        return f"quarter {run.quarter} is closed: its inputs and outputs are frozen"
    if run.quarter != current(uow, slug).label:
        return f"run {run.id} belongs to {run.quarter}, not the current quarter"
    if not run.found_portfolio:
        return f"run {run.id} found no portfolio ({run.status}); it cannot be approved"
    return None


def override_reasons(run: OptimiserRun) -> dict[str, str]:
    """Candidate → the reasons the CEO gave for locking or excluding it (or one of its options)
    in ``run``: the approval form starts each of its changes' reasons from these."""
    out: dict[str, list[str]] = {}
    for ref, reason in sorted(run.overrides.items()):
        if reason.strip():
            out.setdefault(ref.split("/", 1)[0], []).append(reason.strip())
    return {candidate: "; ".join(dict.fromkeys(reasons)) for candidate, reasons in out.items()}


def needs_reason(change: AllocationChange) -> bool:
    """A start, scale up, scale down or stop needs its reason (it is published with the
    quarter's update); a continue needs none."""
    return change.kind is not ChangeKind.continue_


def approve_run(
    uow: UnitOfWork,
    actor: str,
    slug: str,
    run_id: int,
    *,
    reasons: dict[str, str],
    contracted: set[str],
    expected_approved: int | str | None = "any",
) -> list[AllocationChange]:
    """Approve run ``run_id`` as the quarter's allocation. Each start, scale and stop needs a
    reason (``needs_reason``; a continue's reason, if given, is kept); ``contracted`` names the
    funded candidates whose awards are contracted now (each gets a live contract,
    ``portfolio.services.contracts``). A run ``approval_refusal`` names, or one that leaves out a
    candidate under a live contract, is refused. The quarter is rated anew
    (``rating_on_approval``)."""
    run = uow.runs.get(slug, run_id)
    quarter = _lock_for_approval(uow, slug, run, expected_approved)
    changes = proposed_changes(uow, slug, run_id)
    funded = {c.candidate: c.option_after for c in changes if c.option_after is not None}
    contracts.refuse_dropping_contracts(uow, slug, funded)
    _give_reasons(uow, slug, changes, set(funded), reasons=reasons, contracted=contracted)
    p_target = run.p_target or 0.0
    rating = rating_on_approval(uow.missions.get(slug), quarter, p_target)
    uow.missions.set_quarter(
        slug,
        quarter.label,
        state=QuarterState.approved.value,
        approved_run_id=run_id,
        approved_by=actor,
        approved_at=uow.now(),
        rag=rating.computed.value,
        rag_override=rating.override.value if rating.override else None,
        rag_reason=rating.reason,
    )
    contracts.award_contracts(uow, actor, slug, quarter.label, funded, contracted)
    under_contract = contracts.live_by_candidate(uow, slug)
    for c in changes:
        c.contracted = c.candidate in under_contract
    uow.cycle.set_changes(slug, quarter.label, changes)
    after: dict[str, Any] = {"approved_run": run_id, "rag": rating.computed.value}
    if quarter.rag_override is not None:  # the CEO's override, kept or now no override
        after["rag_override"] = rating.override.value if rating.override else None
    after |= {"p_target": p_target, "changes": [_json(c) for c in changes]}
    before = {"approved_run": quarter.approved_run} if quarter.approved_run else None
    record(uow, actor, slug, "quarter", quarter.label, "allocation approved", before, after)
    return changes


def _lock_for_approval(
    uow: UnitOfWork, slug: str, run: OptimiserRun, expected_approved: int | str | None
) -> Quarter:
    """The run's quarter, locked (a concurrent close waits, or has ended), once it is clear the
    run may be approved (``approval_refusal``) and nobody approved another allocation since the
    approver's page showed ``expected_approved`` (``"any"``: not checked)."""
    if run.what_if:
        raise Conflict(what_if_refusal(run))
    quarter = uow.missions.lock_quarter(slug, run.quarter)
    refusal = approval_refusal(uow, slug, run)
    if refusal is not None:
        raise Conflict(refusal)
    if expected_approved != "any" and quarter.approved_run != expected_approved:
        raise Conflict(
            "someone approved another allocation for this quarter since you opened "
            "this page; review it before approving again"
        )
    return quarter


def _give_reasons(
    uow: UnitOfWork,
    slug: str,
    changes: list[AllocationChange],
    funded: set[str],
    *,
    reasons: dict[str, str],
    contracted: set[str],
) -> None:
    """Set each change's reason; refuse (every error at once) a start, scale or stop without
    one, a reason over ``TEXT_LIMIT`` characters, and a contracted candidate the run does not
    fund."""
    errors = []
    for c in changes:
        field = f"reason.{c.candidate}"
        try:
            c.reason = limits.checked_text(field, reasons.get(c.candidate, ""))
        except InvalidInput as exc:
            errors.extend(exc.errors)
            continue
        if needs_reason(c) and not c.reason:
            errors.append((field, f"give the reason for this {c.kind.value}"))
    unknown = contracted - funded
    if unknown:
        names = {c.id: c.name for c in uow.candidates.all(slug)}
        first = sorted(unknown)[0]
        errors.append(("contracted", f"{names.get(first, first)} is not funded by this run"))
    if errors:
        raise InvalidInput(errors)


def rating_on_approval(mission: Mission, quarter: Quarter, p_target: float) -> RagRating:
    """The quarter's rating once an allocation of out-of-sample ``p_target`` is approved: the
    rating computed against the mission's thresholds, with the CEO's stored override re-applied
    (``portfolio.domain.rag``): kept with its reason while it differs from the new computed
    rating, no override once it equals it."""
    return rate_delivery(
        p_target,
        green=mission.rag_green,
        amber=mission.rag_amber,
        override=quarter.rag_override,
        reason=quarter.rag_reason,
    )


# -- RAG and dissent -----------------------------------------------------------------------------
RAG_SAVED = {True: "RAG overridden", False: "RAG override removed"}
"""The audit actions of the CEO saving the quarter's rating: an override, or the computed
rating kept (no override)."""


def rating_saved(uow: UnitOfWork, slug: str, label: str) -> bool:
    """Has the CEO saved the rating of quarter ``label`` since its allocation was last
    approved (approving another run recomputes the rating)?"""
    for entry in uow.audit.all(slug, entity="quarter", entity_id=label):  # newest first
        if entry.action in RAG_SAVED.values():
            return True
        if entry.action == "allocation approved":
            return False
    return False


def override_rag(uow: UnitOfWork, actor: str, slug: str, rag: Rag | None, reason: str) -> None:
    """The CEO's override of the computed RAG (with its justification), or its removal. An
    override equal to the computed rating is stored as no override, without a reason
    (``portfolio.domain.rag.apply_override``)."""
    quarter = current(uow, slug)
    if quarter.state is not QuarterState.approved or quarter.rag is None:
        raise Conflict("approve an allocation before rating the quarter")
    reason = limits.checked_text("rag_reason", reason)
    try:
        rating = apply_override(quarter.rag, rag, reason)
    except ValueError:
        raise InvalidInput.single("rag_reason", "justify the override") from None
    override = rating.override.value if rating.override else None
    uow.missions.set_quarter(slug, quarter.label, rag_override=override, rag_reason=rating.reason)
    record(
        uow,
        actor,
        slug,
        "quarter",
        quarter.label,
        RAG_SAVED[rating.overridden],
        before={"rag_override": quarter.rag_override.value if quarter.rag_override else None},
        after={"rag_override": override, "reason": rating.reason},
    )


def add_dissent(uow: UnitOfWork, member: str, roles: set[Role], slug: str, text: str) -> None:
    """A council member's dissent from the quarter's approved allocation or rating (published
    with the member's sector); refused over ``TEXT_LIMIT`` characters."""
    if Role.council_member not in roles:
        raise PermissionDenied("only council members may dissent")
    quarter = current(uow, slug)
    if quarter.state is not QuarterState.approved:
        raise Conflict("there is no approved allocation to dissent from yet")
    text = limits.checked_text("text", text, missing="write your dissent")
    dissent = Dissent(quarter=quarter.label, author=member, text=text, created_at=uow.now())
    uow.cycle.add_dissent(slug, dissent)
    record(uow, member, slug, "dissent", quarter.label, "created", after=_json(dissent))


# -- trajectory ----------------------------------------------------------------------------------
def set_trajectory(uow: UnitOfWork, actor: str, slug: str, points: list[TrajectoryPoint]) -> None:
    closed = {q.label for q in uow.missions.quarters(slug) if q.state is QuarterState.closed}
    before = {p.quarter: p.planned_p_target for p in uow.cycle.trajectory(slug)}
    after = {p.quarter: p.planned_p_target for p in points}
    for label in closed:
        if before.get(label) != after.get(label):
            raise Conflict(f"quarter {label} is closed: its planned P(target) is frozen")
    uow.cycle.set_trajectory(slug, sorted(points, key=lambda p: p.quarter))
    record(uow, actor, slug, "trajectory", slug, "updated", before=before, after=after)


def quarters_to_deadline(uow: UnitOfWork, slug: str) -> list[str]:
    """Every quarter from the mission's first to the one holding its deadline."""
    from portfolio.domain.model import quarter_of

    mission = uow.missions.get(slug)
    quarters = uow.missions.quarters(slug)
    label = quarters[0].label if quarters else quarter_of(mission.deadline)
    last = quarter_of(mission.deadline)
    out = [label]
    while out[-1] < last and len(out) < 200:
        out.append(next_quarter(out[-1]))
    return out


# -- closing a quarter ---------------------------------------------------------------------------
def pack_content(uow: UnitOfWork, slug: str, label: str) -> dict[str, Any]:
    """Everything that decided quarter ``label``: the approved run's problem file and result
    (seed, solver and version in them), the policy, the CEO's overrides with reasons, the
    changes with reasons, RAG, dissents, the update, and the council's inputs."""
    quarter = uow.missions.quarter(slug, label)
    assert quarter.approved_run is not None
    run = uow.runs.get(slug, quarter.approved_run)
    update = uow.cycle.update(slug, label)
    return {
        "format": "mission-portfolio/audit-pack",
        # 2: close_quarter adds "history", the audit chain's length and head at the close
        "version": 2,
        "mission": slug,
        "quarter": label,
        "approved": {"by": quarter.approved_by, "at": quarter.approved_at},
        "run": {
            "objective": run.objective,
            "solver": run.solver,
            "note": run.note,
            "started_by": run.started_by,
            "seed": (run.problem.get("scenarios") or {}).get("seed"),
            "policy": run.problem.get("policy"),
            # as stored (``OptimiserRun.result_document``): a sealed pack matches it key for key
            "solver_report": run.result.solver.model_dump(mode="json", exclude_unset=True)
            if run.result
            else None,
            # mission-portfolio, Python, numpy, PuLP and HiGHS versions that solved the run
            # (None for runs solved before results recorded them)
            "software": (run.result.solver.environment or None) if run.result else None,
            "problem": run.problem,
            "result": run.result_document(),
        },
        "overrides": [
            {
                "candidate": ref,
                "kind": "lock" if ref in run.problem["policy"].get("locks", []) else "exclusion",
                "reason": reason,
            }
            for ref, reason in sorted(run.overrides.items())
        ],
        "changes": [_json(c) for c in uow.cycle.changes(slug, label)],
        "rag": {
            "computed": quarter.rag,
            "override": quarter.rag_override,
            "reason": quarter.rag_reason,
        },
        "dissents": [_json(d) for d in uow.cycle.dissents(slug, label)],
        "update": _json(update),
        "inputs": {
            "scores": [_json(s) for s in uow.scores.all(slug, label)],
            "aggregates": [_json(a) for a in uow.aggregates.all(slug, label)],
            "evidence": [_json(e) for e in uow.evidence.all(slug) if e.quarter == label],
            # the money recorded this quarter (sunk from the next quarter's problem on), and the
            # contracts as they stand when the quarter closes
            "spend": [_json(e) for e in uow.spend.all(slug) if e.quarter == label],
            "contracts": [_json(c) for c in uow.contracts.all(slug)],
        },
    }


def close_refusal(uow: UnitOfWork, slug: str, quarter: Quarter) -> str | None:
    """Why ``quarter`` cannot close yet, in words, or None when it can: it needs an approved
    allocation and its update published (a closed quarter never closes again)."""
    if quarter.state is QuarterState.closed:
        return f"quarter {quarter.label} is closed already"
    if quarter.state is not QuarterState.approved:
        return f"{quarter.label} has no approved allocation; approve one first"
    update = uow.cycle.update(slug, quarter.label)
    if update is None or not update.published:
        return "publish the quarter's update before closing it"
    return None


def close_quarter(uow: UnitOfWork, actor: str, slug: str) -> Quarter:
    """Freeze the current quarter into its audit pack (chained to the previous quarter's hash)
    and open the next quarter. Needs an approved allocation and a published update. The quarter
    is locked first, so runs started or approved at the same moment finish before it closes, or
    wait and then find it closed."""
    quarter = lock_current(uow, slug)
    refusal = close_refusal(uow, slug, quarter)
    if refusal is not None:
        raise Conflict(refusal)
    closed = [
        q
        for q in uow.missions.quarters(slug)
        if q.state is QuarterState.closed and q.pack_hash is not None
    ]
    previous = closed[-1] if closed else None
    previous_hash = previous.pack_hash if previous else None
    content = pack_content(uow, slug, quarter.label)
    # the audit trail as it stands at the close: the seal vouches for it up to this entry
    head = uow.audit.head(slug)
    content["history"] = {
        "audit_entries": head[0] if head else 0,
        "audit_head": head[1] if head else None,
    }
    content = json.loads(canonical_json(content))
    digest = pack_hash(content, previous_hash)
    # keyed with the server's history key, chained to the previous quarter's seal (or to its
    # plain hash if it closed before seals existed): see portfolio/services/history.py
    seal = auditpack.pack_seal(
        uow.history_key, (previous.pack_seal or previous.pack_hash) if previous else None, digest
    )
    uow.missions.set_quarter(
        slug,
        quarter.label,
        state=QuarterState.closed.value,
        closed_at=uow.now(),
        pack=content,
        pack_hash=digest,
        pack_previous_hash=previous_hash,
        pack_seal=seal,
    )
    nxt = next_quarter(quarter.label)
    if nxt not in {q.label for q in uow.missions.quarters(slug)}:
        uow.missions.add_quarter(slug, Quarter(label=nxt))
    record(
        uow,
        actor,
        slug,
        "quarter",
        quarter.label,
        "closed",
        after={
            "pack_hash": digest,
            "previous_hash": previous_hash,
            "seal": seal,
            "next_quarter": nxt,
        },
    )
    return uow.missions.quarter(slug, quarter.label)


def verify(uow: UnitOfWork, slug: str) -> list[str]:
    """Problems with the mission's history, in words (empty when it is intact): its audit
    chain, its packs' chain and seals, and every closed quarter's live rows against its pack
    (``portfolio.services.history.check`` has the whole report)."""
    from portfolio.services import history

    return history.check(uow, slug).problems
