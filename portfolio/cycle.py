"""The quarterly cycle: evidence, approving an allocation, RAG and dissent, the update letter,
closing a quarter into a hash-chained audit pack, and the planned trajectory.

State machine of a quarter: ``open`` → ``approved`` (a run's allocation is approved; another run
may be approved instead while the quarter is not closed) → ``closed`` (needs the update published;
everything of the quarter is then frozen and the next quarter opens). Anything else is refused.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from portfolio.errors import Conflict, InvalidInput, PermissionDenied
from portfolio.model import (
    AllocationChange,
    ChangeKind,
    Dissent,
    Evidence,
    EvidenceKind,
    OptimiserRun,
    Quarter,
    QuarterlyUpdate,
    QuarterState,
    Rag,
    Role,
    TrajectoryPoint,
    next_quarter,
)
from portfolio.quarters import current, require_not_closed
from portfolio.services import record
from portfolio.unit_of_work import SqlUnitOfWork


def _json(model: BaseModel | None) -> dict[str, Any] | None:
    return model.model_dump(mode="json") if model is not None else None


# -- evidence ------------------------------------------------------------------------------------
def record_evidence(uow: SqlUnitOfWork, actor: str, slug: str, evidence: Evidence) -> None:
    """Record evidence about a candidate in the current quarter (never in a closed one)."""
    quarter = current(uow, slug)
    if evidence.quarter != quarter.label:
        raise InvalidInput.single(
            "quarter", f"evidence is recorded in the current quarter, {quarter.label}"
        )
    candidate = uow.candidates.get(slug, evidence.candidate)
    if evidence.option is not None and evidence.option not in {o.id for o in candidate.options}:
        raise InvalidInput.single("option", f"{evidence.option} is not an option of {candidate.id}")
    if evidence.kind is EvidenceKind.trl_change and evidence.trl is not None:
        before = candidate.trl
        if before != evidence.trl:
            uow.candidates.update(slug, candidate.model_copy(update={"trl": evidence.trl}), None)
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
    evidence = evidence.model_copy(update={"recorded_by": actor})
    uow.evidence.add(slug, evidence)
    record(uow, actor, slug, "evidence", candidate.id, "recorded", after=_json(evidence))


# -- approval ------------------------------------------------------------------------------------
Holding = tuple[str, float]  # (option, total amount in £m)


def holdings(run: OptimiserRun) -> dict[str, Holding]:
    """What a run funds: candidate → (option, total £m over envelopes and years)."""
    result = run.result or {}
    out: dict[str, Holding] = {}
    for row in result.get("funding", []):
        option, amount = out.get(row["candidate"], (row["option"], 0.0))
        out[row["candidate"]] = (option, amount + float(row["amount"]))
    for candidate, option in result.get("selected", {}).items():
        out.setdefault(candidate, (option, 0.0))
    return out


def previous_quarter(uow: SqlUnitOfWork, slug: str, label: str) -> Quarter | None:
    """The latest quarter before ``label`` that had an approved allocation."""
    earlier = [
        q for q in uow.missions.quarters(slug) if q.label < label and q.approved_run is not None
    ]
    return earlier[-1] if earlier else None


def previous_holdings(uow: SqlUnitOfWork, slug: str, label: str) -> dict[str, Holding]:
    prev = previous_quarter(uow, slug, label)
    if prev is None or prev.approved_run is None:
        return {}
    return holdings(uow.runs.get(slug, prev.approved_run))


def classify(
    before: dict[str, Holding], after: dict[str, Holding], quarter: str
) -> list[AllocationChange]:
    """start / continue / scale up / scale down / stop for each candidate in either allocation
    (continue = same option and amount within 1 %)."""
    changes = []
    for candidate in sorted(set(before) | set(after)):
        b, a = before.get(candidate), after.get(candidate)
        if b is None and a is not None:
            kind = ChangeKind.start
        elif a is None and b is not None:
            kind = ChangeKind.stop
        else:
            assert a is not None and b is not None
            if a[0] == b[0] and abs(a[1] - b[1]) <= 0.01 * max(b[1], 1e-9):
                kind = ChangeKind.continue_
            else:
                kind = ChangeKind.scale_up if a[1] >= b[1] else ChangeKind.scale_down
        changes.append(
            AllocationChange(
                quarter=quarter,
                candidate=candidate,
                kind=kind,
                option_before=b[0] if b else None,
                option_after=a[0] if a else None,
                amount_before=round(b[1], 6) if b else 0.0,
                amount_after=round(a[1], 6) if a else 0.0,
            )
        )
    return changes


def proposed_changes(uow: SqlUnitOfWork, slug: str, run_id: int) -> list[AllocationChange]:
    """The changes approving run ``run_id`` would make against the last approved allocation."""
    run = uow.runs.get(slug, run_id)
    return classify(previous_holdings(uow, slug, run.quarter), holdings(run), run.quarter)


def contracted_before(uow: SqlUnitOfWork, slug: str, label: str) -> dict[str, str]:
    """Contracted awards of the last approved quarter before ``label``: candidate → option."""
    prev = previous_quarter(uow, slug, label)
    if prev is None:
        return {}
    return {
        c.candidate: c.option_after
        for c in uow.cycle.changes(slug, prev.label)
        if c.contracted and c.option_after is not None
    }


def approve_run(
    uow: SqlUnitOfWork,
    actor: str,
    slug: str,
    run_id: int,
    *,
    reasons: dict[str, str],
    contracted: set[str],
) -> list[AllocationChange]:
    """Approve run ``run_id`` as the quarter's allocation. Each start, scale and stop needs a
    reason; ``contracted`` names the funded candidates whose awards are contracted (they must
    stay funded in later quarters)."""
    run = uow.runs.get(slug, run_id)
    quarter = require_not_closed(uow, slug, run.quarter)
    if quarter.label != current(uow, slug).label:
        raise Conflict(f"run {run_id} belongs to {run.quarter}, not the current quarter")
    if not run.found_portfolio:
        raise Conflict(f"run {run_id} found no portfolio ({run.status}); it cannot be approved")
    changes = proposed_changes(uow, slug, run_id)
    errors = []
    for c in changes:
        reason = reasons.get(c.candidate, "").strip()
        if c.kind is not ChangeKind.continue_ and not reason:
            errors.append((f"reason.{c.candidate}", f"give the reason for this {c.kind.value}"))
        c.reason = reason
        c.contracted = c.candidate in contracted and c.option_after is not None
    unknown = contracted - {c.candidate for c in changes if c.option_after is not None}
    if unknown:
        errors.append(("contracted", f"{sorted(unknown)[0]} is not funded by this run"))
    if errors:
        raise InvalidInput(errors)
    mission = uow.missions.get(slug)
    oos = ((run.result or {}).get("metrics") or {}).get("out_of_sample") or {}
    p_target = float(oos.get("p_target", 0.0))
    rag = (
        Rag.green
        if p_target >= mission.rag_green
        else Rag.amber
        if p_target >= mission.rag_amber
        else Rag.red
    )
    before = quarter.approved_run
    uow.missions.set_quarter(
        slug,
        quarter.label,
        state=QuarterState.approved.value,
        approved_run_id=run_id,
        approved_by=actor,
        approved_at=uow.now(),
        rag=rag.value,
    )
    uow.cycle.set_changes(slug, quarter.label, changes)
    record(
        uow,
        actor,
        slug,
        "quarter",
        quarter.label,
        "allocation approved",
        before={"approved_run": before} if before else None,
        after={
            "approved_run": run_id,
            "rag": rag.value,
            "p_target": p_target,
            "changes": [_json(c) for c in changes],
        },
    )
    return changes


# -- RAG and dissent -----------------------------------------------------------------------------
def override_rag(uow: SqlUnitOfWork, actor: str, slug: str, rag: Rag | None, reason: str) -> None:
    """The CEO's override of the computed RAG (with its justification), or its removal."""
    quarter = current(uow, slug)
    if quarter.state is not QuarterState.approved:
        raise Conflict("approve an allocation before rating the quarter")
    reason = reason.strip()
    if rag is not None and not reason:
        raise InvalidInput.single("rag_reason", "justify the override")
    if len(reason) > 5000:
        raise InvalidInput.single("rag_reason", "must be at most 5000 characters")
    uow.missions.set_quarter(
        slug,
        quarter.label,
        rag_override=rag.value if rag else None,
        rag_reason=reason if rag else "",
    )
    record(
        uow,
        actor,
        slug,
        "quarter",
        quarter.label,
        "RAG overridden" if rag else "RAG override removed",
        before={"rag_override": quarter.rag_override.value if quarter.rag_override else None},
        after={"rag_override": rag.value if rag else None, "reason": reason},
    )


def add_dissent(uow: SqlUnitOfWork, member: str, roles: set[Role], slug: str, text: str) -> None:
    if Role.council_member not in roles:
        raise PermissionDenied("only council members may dissent")
    quarter = current(uow, slug)
    if quarter.state is not QuarterState.approved:
        raise Conflict("there is no approved allocation to dissent from yet")
    text = text.strip()
    if not text:
        raise InvalidInput.single("text", "write your dissent")
    dissent = Dissent(quarter=quarter.label, author=member, text=text, created_at=uow.now())
    uow.cycle.add_dissent(slug, dissent)
    record(uow, member, slug, "dissent", quarter.label, "created", after=_json(dissent))


# -- the update letter ---------------------------------------------------------------------------
def save_update(
    uow: SqlUnitOfWork, actor: str, slug: str, body: str, *, publish: bool
) -> QuarterlyUpdate:
    quarter = current(uow, slug)
    if quarter.state is not QuarterState.approved:
        raise Conflict("approve an allocation before writing the quarter's update")
    body = body.strip()
    if not body:
        raise InvalidInput.single("body", "the update is empty")
    words = len(body.split())
    if words > 2000:
        raise InvalidInput.single("body", f"must be under 2,000 words (it has {words:,})")
    before = uow.cycle.update(slug, quarter.label)
    if before is not None and before.published:
        raise Conflict("the update is published; it can no longer be edited")
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


# -- trajectory ----------------------------------------------------------------------------------
def set_trajectory(
    uow: SqlUnitOfWork, actor: str, slug: str, points: list[TrajectoryPoint]
) -> None:
    closed = {q.label for q in uow.missions.quarters(slug) if q.state is QuarterState.closed}
    before = {p.quarter: p.planned_p_target for p in uow.cycle.trajectory(slug)}
    after = {p.quarter: p.planned_p_target for p in points}
    for label in closed:
        if before.get(label) != after.get(label):
            raise Conflict(f"quarter {label} is closed: its planned P(target) is frozen")
    uow.cycle.set_trajectory(slug, sorted(points, key=lambda p: p.quarter))
    record(uow, actor, slug, "trajectory", slug, "updated", before=before, after=after)


def quarters_to_deadline(uow: SqlUnitOfWork, slug: str) -> list[str]:
    """Every quarter from the mission's first to the one holding its deadline."""
    from portfolio.model import quarter_of

    mission = uow.missions.get(slug)
    quarters = uow.missions.quarters(slug)
    label = quarters[0].label if quarters else quarter_of(mission.deadline)
    last = quarter_of(mission.deadline)
    out = [label]
    while out[-1] < last and len(out) < 200:
        out.append(next_quarter(out[-1]))
    return out
