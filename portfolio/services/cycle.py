"""The quarterly cycle: evidence, approving an allocation, RAG and dissent, the update letter,
closing a quarter into a hash-chained audit pack, and the planned trajectory.

State machine of a quarter: ``open`` → ``approved`` (a run's allocation is approved; another run
may be approved instead while the quarter is not closed) → ``closed`` (needs the update published;
everything of the quarter is then frozen and the next quarter opens). Anything else is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from portfolio.adapters import auditpack
from portfolio.adapters.auditpack import build_zip, canonical_json, pack_hash
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput, PermissionDenied
from portfolio.domain.evidence import (
    BeliefStep,
    CostOutlook,
    KillProposal,
    belief_history,
    kill_proposal,
    n0_for,
    posterior_belief,
    uplifted_cost,
)
from portfolio.domain.model import (
    AllocationChange,
    Candidate,
    ChangeKind,
    Confidence,
    Dissent,
    Evidence,
    EvidenceKind,
    Mission,
    OptimiserRun,
    Quarter,
    QuarterlyUpdate,
    QuarterState,
    Rag,
    Role,
    Sector,
    StoredAggregate,
    TrajectoryPoint,
    next_quarter,
    quarter_dates,
)
from portfolio.domain.quarterly_update import (
    Change,
    ProposedStop,
    PublicDissent,
    UpdateContext,
    classify_changes,
    draft_update,
    public_label,
)
from portfolio.services import contracts
from portfolio.services.ledger import spent_by_end_of
from portfolio.services.missions import record
from portfolio.services.quarters import current, lock_current


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
    (``reports.classify_changes``: continue = same option and amount within 1 %)."""
    return [
        AllocationChange(quarter=quarter, **c.model_dump(exclude={"candidate_label"}))
        for c in classify_changes(before, after)
    ]


def proposed_changes(uow: SqlUnitOfWork, slug: str, run_id: int) -> list[AllocationChange]:
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


def approval_refusal(uow: SqlUnitOfWork, slug: str, run: OptimiserRun) -> str | None:
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
    uow: SqlUnitOfWork,
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
    candidate
    under a live contract, is refused."""
    run = uow.runs.get(slug, run_id)
    if run.what_if:
        raise Conflict(what_if_refusal(run))
    quarter = uow.missions.lock_quarter(slug, run.quarter)  # a concurrent close waits, or ended
    refusal = approval_refusal(uow, slug, run)
    if refusal is not None:
        raise Conflict(refusal)
    if expected_approved != "any" and quarter.approved_run != expected_approved:
        raise Conflict(
            "someone approved another allocation for this quarter since you opened "
            "this page; review it before approving again"
        )
    changes = proposed_changes(uow, slug, run_id)
    funded = {c.candidate: c.option_after for c in changes if c.option_after is not None}
    contracts.refuse_dropping_contracts(uow, slug, funded)
    errors = []
    for c in changes:
        reason = reasons.get(c.candidate, "").strip()
        if needs_reason(c) and not reason:
            errors.append((f"reason.{c.candidate}", f"give the reason for this {c.kind.value}"))
        c.reason = reason
    unknown = contracted - set(funded)
    if unknown:
        names = {c.id: c.name for c in uow.candidates.all(slug)}
        first = sorted(unknown)[0]
        errors.append(("contracted", f"{names.get(first, first)} is not funded by this run"))
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
    contracts.award_contracts(uow, actor, slug, quarter.label, funded, contracted)
    under_contract = contracts.live_by_candidate(uow, slug)
    for c in changes:
        c.contracted = c.candidate in under_contract
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
RAG_SAVED = {True: "RAG overridden", False: "RAG override removed"}
"""The audit actions of the CEO saving the quarter's rating: an override, or the computed
rating kept (no override)."""


def rating_saved(uow: SqlUnitOfWork, slug: str, label: str) -> bool:
    """Has the CEO saved the rating of quarter ``label`` since its allocation was last
    approved (approving another run recomputes the rating)?"""
    for entry in uow.audit.all(slug, entity="quarter", entity_id=label):  # newest first
        if entry.action in RAG_SAVED.values():
            return True
        if entry.action == "allocation approved":
            return False
    return False


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
        RAG_SAVED[rag is not None],
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
def checked_update(uow: SqlUnitOfWork, slug: str, body: str) -> tuple[Quarter, str, int]:
    """The current quarter, the letter as it would be saved and its word count; refuses what
    ``save_update`` refuses (no approved allocation, an empty or too long letter, an update
    already published), so a confirmation is asked only for what can be done."""
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
    return quarter, body, words


def save_update(
    uow: SqlUnitOfWork, actor: str, slug: str, body: str, *, publish: bool
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
    from portfolio.domain.model import quarter_of

    mission = uow.missions.get(slug)
    quarters = uow.missions.quarters(slug)
    label = quarters[0].label if quarters else quarter_of(mission.deadline)
    last = quarter_of(mission.deadline)
    out = [label]
    while out[-1] < last and len(out) < 200:
        out.append(next_quarter(out[-1]))
    return out


# -- belief over time and the estimates the optimiser reads --------------------------------------
@dataclass
class OptionBelief:
    """What is believed about one option: the council's prior, the evidence since, the
    posterior p fed to the optimiser, and (per candidate) the uplifted remaining cost."""

    option: str
    prior_p: float
    prior_source: str
    n0: float
    steps: list[BeliefStep]
    posterior: float
    kill: KillProposal


@dataclass
class CandidateBelief:
    candidate: Candidate
    options: list[OptionBelief]
    cost: CostOutlook

    @property
    def proposed_for_stopping(self) -> bool:
        return all(o.kill.proposed for o in self.options)


def _median_confidence(data: dict[str, Any]) -> Confidence:
    order = [Confidence.low, Confidence.medium, Confidence.high]
    levels = sorted(
        order.index(Confidence(c["confidence"]))
        for c in data.get("contributions", [])
        if c.get("confidence")
    )
    return order[levels[len(levels) // 2]] if levels else Confidence.medium


def candidate_belief(
    uow: SqlUnitOfWork,
    slug: str,
    candidate: Candidate,
    *,
    aggregates: dict[tuple[str, str], StoredAggregate] | None = None,
    evidence: list[Evidence] | None = None,
    kill_threshold: float | None = None,
    history: bool = True,
) -> CandidateBelief:
    """The prior of each option is the council's latest frozen aggregate (its p, with the
    scorers' median confidence as the weight of the prior), else the p registered with the
    candidate; evidence recorded in that round's quarter or later updates it (DESIGN.md §4)."""
    if aggregates is None:
        aggregates = {(a.candidate, a.option): a for a in uow.aggregates.all(slug)}
    if evidence is None:
        evidence = uow.evidence.all(slug, candidate.id)
    if kill_threshold is None:
        kill_threshold = uow.missions.get(slug).kill_threshold
    order = [o.id for o in candidate.options]  # nested: smallest first
    option_names = {o.id: o.name for o in candidate.options}
    options = []
    for option in candidate.options:
        agg = aggregates.get((candidate.id, option.id))
        if agg is not None:
            prior_p, source = float(agg.data["p"]), f"council, {agg.quarter}"
            n0 = n0_for(_median_confidence(agg.data))
            since = [e for e in evidence if e.quarter >= agg.quarter]
        else:
            prior_p, source, n0 = option.p_success, "registered estimate", n0_for("medium")
            since = list(evidence)
        # a stage gate bears on every option, by the nesting rule of ``evidence.gate_weight``
        if history:
            steps = belief_history(
                prior_p, n0, since, option=option.id, options=order, names=option_names
            )
            mean = steps[-1].mean
        else:  # the posterior alone: no quantiles per step (the dashboard, the problem file)
            steps = []
            mean = posterior_belief(prior_p, n0, since, option=option.id, options=order).mean
        posterior = min(max(mean, 0.01), 0.99)
        options.append(
            OptionBelief(
                option.id,
                prior_p,
                source,
                n0,
                steps,
                posterior,
                kill_proposal(posterior, kill_threshold),
            )
        )
    total = max((o.total_cost for o in candidate.options), default=0.0)
    return CandidateBelief(candidate, options, uplifted_cost(total, evidence))


def all_beliefs(
    uow: SqlUnitOfWork, slug: str, candidates: list[Candidate] | None = None
) -> list[CandidateBelief]:
    """Every candidate's belief, reading the aggregates and evidence once."""
    aggregates = {(a.candidate, a.option): a for a in uow.aggregates.all(slug)}
    evidence_by: dict[str, list[Evidence]] = {}
    for ev in uow.evidence.all(slug):
        evidence_by.setdefault(ev.candidate, []).append(ev)
    threshold = uow.missions.get(slug).kill_threshold
    return [
        candidate_belief(
            uow,
            slug,
            c,
            aggregates=aggregates,
            evidence=evidence_by.get(c.id, []),
            kill_threshold=threshold,
            history=False,
        )
        for c in (candidates if candidates is not None else uow.candidates.all(slug))
    ]


def proposed_stops(
    uow: SqlUnitOfWork, slug: str, candidates: list[Candidate] | None = None
) -> list[Candidate]:
    """Candidates whose every option's posterior p is below the kill threshold."""
    return [b.candidate for b in all_beliefs(uow, slug, candidates) if b.proposed_for_stopping]


def scores_quarter(uow: SqlUnitOfWork, slug: str) -> str | None:
    """The quarter whose council scores a run started now uses: that of the latest closed
    scoring round (``current_estimates`` reads each option's latest frozen aggregate, frozen when
    a round closes), or None before any round has closed (the estimates registered with the
    candidates). While the current quarter's round is open, runs use an earlier quarter's."""
    frozen = {a.quarter for a in uow.aggregates.all(slug)}
    return max(frozen) if frozen else None


def current_estimates(uow: SqlUnitOfWork, slug: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Per option, what the problem file uses: the council's pooled impact and total cost (latest
    closed round), the posterior p after evidence, and the candidate's cost-actuals uplift
    (``cost_uplift``), which `portfolio.services.to_problem` applies to the remaining cost only."""
    aggregates = {(a.candidate, a.option): a for a in uow.aggregates.all(slug)}
    evidence_by: dict[str, list[Evidence]] = {}
    for ev in uow.evidence.all(slug):
        evidence_by.setdefault(ev.candidate, []).append(ev)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for candidate in uow.candidates.all(slug):
        belief = candidate_belief(
            uow,
            slug,
            candidate,
            aggregates=aggregates,
            evidence=evidence_by.get(candidate.id, []),
            kill_threshold=0.0,
            history=False,
        )
        factor = belief.cost.uplift_factor if belief.cost.has_actuals else 1.0
        for option, ob in zip(candidate.options, belief.options, strict=True):
            agg = aggregates.get((candidate.id, option.id))
            if agg is not None:
                impact, cost = agg.data["impact"], agg.data["cost"]
            else:
                impact = option.impact.model_dump()
                cost = option.cost_range.model_dump() if option.cost_range else None
            if agg is None and ob.posterior == option.p_success and factor == 1.0:
                continue
            out[(candidate.id, option.id)] = {
                "p": ob.posterior,
                "impact": impact,
                "cost": cost,
                "cost_uplift": factor,
            }
    return out


# -- the update letter's content -----------------------------------------------------------------
def public_names(uow: SqlUnitOfWork, slug: str) -> dict[str, str]:
    """Candidate id → what public outputs show (platform and tier only if sensitive)."""
    return {c.id: public_label(c) for c in uow.candidates.all(slug)}


def update_context(uow: SqlUnitOfWork, slug: str, label: str) -> UpdateContext:
    """Everything the letter of quarter ``label`` says, from the stored cycle data."""
    mission = uow.missions.get(slug)
    quarter = uow.missions.quarter(slug, label)
    if quarter.approved_run is None or quarter.rag is None:
        raise Conflict("approve an allocation before drafting the update")
    run = uow.runs.get(slug, quarter.approved_run)
    result = run.result or {}
    oos = (result.get("metrics") or {}).get("out_of_sample") or {}
    spend = result.get("spend") or {}
    names = public_names(uow, slug)
    planned = {p.quarter: p.planned_p_target for p in uow.cycle.trajectory(slug)}
    prev = previous_quarter(uow, slug, label)
    prev_p = None
    if prev is not None and prev.approved_run is not None:
        prev_result = uow.runs.get(slug, prev.approved_run).result or {}
        prev_p = ((prev_result.get("metrics") or {}).get("out_of_sample") or {}).get("p_target")
    evidence = [e for e in uow.evidence.all(slug) if e.quarter == label]
    counts: dict[EvidenceKind, int] = {}
    for e in evidence:
        counts[e.kind] = counts.get(e.kind, 0) + 1
    sectors = {m.username: m.sector for m in uow.missions.council(slug)}
    stops = []
    for belief in all_beliefs(uow, slug):
        candidate = belief.candidate
        if belief.proposed_for_stopping:
            stops.append(
                ProposedStop(
                    candidate_label=names[candidate.id],
                    posterior_p=max(o.posterior for o in belief.options),
                    threshold=mission.kill_threshold,
                )
            )
    flags = []
    for flag in result.get("flags", []):
        words = (
            "an award above the Delegated Authority Limit"
            if flag["kind"] == "above_dal"
            else "novel, contentious or repercussive spending"
        )
        flags.append(
            f"{names.get(flag['candidate'], flag['candidate'])}: {words} (£{flag['amount']:,.1f}m)"
        )
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
        p_target=oos.get("p_target"),
        p_target_scenarios=oos.get("scenarios") or None,
        planned_p_target=planned.get(label),
        previous_p_target=prev_p,
        expected_impact=max(float(oos.get("expected_impact", 0.0)), 0.0),
        cvar_shortfall=oos.get("cvar_shortfall"),
        cvar_alpha=(run.problem.get("policy") or {}).get("cvar_alpha"),
        spend_total=float(spend.get("total", 0.0)),
        budget_total=sum(e.total for e in mission.envelopes),
        spent_to_date=spent_by_end_of(uow.spend.all(slug), label),
        p_overrun=oos.get("p_overrun"),
        expected_overspend=oos.get("expected_overspend"),
        spend_by_platform=spend.get("by_platform", {}),
        n_funded=len(holdings(run)),
        n_candidates=len(names),
        changes=[
            Change(
                candidate_label=names.get(c.candidate, c.candidate),
                **c.model_dump(exclude={"quarter", "contracted"}),
            )
            for c in uow.cycle.changes(slug, label)
        ],
        evidence_counts=counts,
        stage_gates_passed=sum(
            1 for e in evidence if e.kind is EvidenceKind.stage_gate and e.outcome
        ),
        stage_gates_failed=sum(
            1 for e in evidence if e.kind is EvidenceKind.stage_gate and e.outcome is False
        ),
        flags=flags,
        proposed_stops=stops,
        dissents=[
            PublicDissent(member_sector=sectors.get(d.author, Sector.civil_society), text=d.text)
            for d in uow.cycle.dissents(slug, label)
        ],
        next_quarter=nxt,
        next_planned_p_target=planned.get(nxt),
    )


def draft_letter(uow: SqlUnitOfWork, slug: str, label: str) -> str:
    return draft_update(update_context(uow, slug, label))


# -- closing a quarter ---------------------------------------------------------------------------
def pack_content(uow: SqlUnitOfWork, slug: str, label: str) -> dict[str, Any]:
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
            "solver_report": (run.result or {}).get("solver"),
            # mission-portfolio, Python, numpy, PuLP and HiGHS versions that solved the run
            # (None for runs solved before results recorded them)
            "software": ((run.result or {}).get("solver") or {}).get("environment") or None,
            "problem": run.problem,
            "result": run.result,
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


def close_refusal(uow: SqlUnitOfWork, slug: str, quarter: Quarter) -> str | None:
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


def close_quarter(uow: SqlUnitOfWork, actor: str, slug: str) -> Quarter:
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


def audit_pack_zip(uow: SqlUnitOfWork, slug: str, label: str) -> bytes:
    """The closed quarter's audit pack as one zip: the problem and result files, the pack and
    its hash, and the update letter."""
    quarter = uow.missions.quarter(slug, label)
    content = uow.missions.pack(slug, label)
    if quarter.state is not QuarterState.closed or content is None:
        raise Conflict(f"{label} is not closed: its audit pack is made when it closes")
    files: dict[str, bytes | str] = {
        "pack.json": json.dumps(content, indent=2, sort_keys=True),
        "problem.json": json.dumps(content["run"]["problem"], indent=2),
        "result.json": json.dumps(content["run"]["result"], indent=2),
        "hash.txt": (
            f"sha256 {quarter.pack_hash}\nprevious {quarter.pack_previous_hash}\n"
            f"seal {quarter.pack_seal}\n"
        ),
        "README.txt": (
            f"Audit pack of {slug}, quarter {label}.\n"
            "pack.json holds everything that decided the quarter; problem.json re-solves with\n"
            "`mission-portfolio solve problem.json` to the same allocation (result.json);\n"
            "`--compare result.json` also says whether it ran on the same software, which\n"
            "pack.json records under run.software.\n"
            "hash.txt: SHA-256 of the canonical JSON of {previous, content}, chained to the\n"
            "previous quarter's pack, and the seal: HMAC-SHA-256 of that hash under the\n"
            "server's key, chained to the previous quarter's seal (the seal printed on the\n"
            "public update). `mission-portfolio verify MISSION` checks both chains, the audit\n"
            "trail and the quarter's live rows against pack.json; `--head SEAL` checks that\n"
            "the history still holds a seal someone kept.\n"
        ),
    }
    if content.get("update"):
        files["update.md"] = content["update"]["body"]
    return build_zip(files)


def verify(uow: SqlUnitOfWork, slug: str) -> list[str]:
    """Problems with the mission's history, in words (empty when it is intact): its audit
    chain, its packs' chain and seals, and every closed quarter's live rows against its pack
    (``portfolio.services.history.check`` has the whole report)."""
    from portfolio.services import history

    return history.check(uow, slug).problems


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


def published_quarters(uow: SqlUnitOfWork, slug: str) -> list[QuarterlyUpdate]:
    return [u for u in uow.cycle.updates(slug) if u.published]


def public_risk(uow: SqlUnitOfWork, slug: str, label: str) -> dict[str, float | None]:
    """The open data's headline numbers of a quarter's approved allocation (out of sample):
    P(target), P(overrun) and expected overspend, planned remaining spend and spend to date."""
    quarter = uow.missions.quarter(slug, label)
    if quarter.approved_run is None:
        return {}
    result = uow.runs.get(slug, quarter.approved_run).result or {}
    oos = (result.get("metrics") or {}).get("out_of_sample") or {}
    return {
        "p_target": oos.get("p_target"),
        "p_overrun": oos.get("p_overrun"),
        "expected_overspend_m": oos.get("expected_overspend"),
        "planned_remaining_m": (result.get("spend") or {}).get("total"),
        "spent_to_date_m": spent_by_end_of(uow.spend.all(slug), label),
    }


def public_allocation(uow: SqlUnitOfWork, slug: str, label: str) -> list[dict[str, Any]]:
    """The approved allocation of a published quarter as open data: a commercially sensitive
    candidate appears only as its platform and tier, never by name or organisation."""
    quarter = uow.missions.quarter(slug, label)
    if quarter.approved_run is None:
        return []
    run = uow.runs.get(slug, quarter.approved_run)
    candidates = {c.id: c for c in uow.candidates.all(slug)}
    rows = []
    for f in (run.result or {}).get("funding", []):
        c = candidates.get(f["candidate"])
        sensitive = c is None or c.commercially_sensitive
        rows.append(
            {
                "candidate": public_label(c) if c else "A withdrawn candidate",
                "organisation": "" if sensitive or c is None else c.organisation,
                "platform": c.platform if c else "",
                "tier": c.tier.value if c else "",
                "option": f["option"],
                "envelope": f["envelope"],
                "year": f["year"],
                "amount_m": round(float(f["amount"]), 6),
            }
        )
    return sorted(rows, key=lambda r: (r["platform"], r["candidate"], r["year"], r["envelope"]))
