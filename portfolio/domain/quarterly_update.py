"""The changes between two allocations, and the quarterly update letter.

DESIGN.md sections 3 and 2. Pure functions and pydantic models, no I/O. Delivery confidence (the
RAG rating, its thresholds, wording and the CEO's override) is defined in
``portfolio.domain.rag``; the letter's word limit and word count in ``portfolio.domain.limits``.

The letter is plain text: a ``# `` title line, ``## `` section headings, paragraphs separated by a
blank line and ``- `` bullets — no HTML. Text the caller supplies (reasons, dissents, flags) is put
in as it is, on one line: a template must still escape it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Annotated, Self

from pydantic import Field, model_validator

from portfolio.domain import montecarlo
from portfolio.domain.limits import count_words, letter_within_limit
from portfolio.domain.model import Candidate, ChangeKind, EvidenceKind, Sector, Strict
from portfolio.domain.rag import (
    AMBER_THRESHOLD,
    GREEN_THRESHOLD,
    RAG_LABELS,
    RAG_WORDING,
    Rag,
    check_thresholds,
    rag_from_p,
)

__all__ = [
    "CHANGE_LABELS",
    "SECTOR_WORDS",
    "Change",
    "ChangeKind",
    "ProposedStop",
    "PublicDissent",
    "UpdateContext",
    "classify_changes",
    "draft_update",
    "public_label",
]

LISTED_CHANGES = 25
CONTINUE_TOLERANCE = 0.01

Prob = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]

# -- changes -------------------------------------------------------------------------------------


CHANGE_LABELS = {
    ChangeKind.start: "Start",
    ChangeKind.continue_: "Continue",
    ChangeKind.scale_up: "Scale up",
    ChangeKind.scale_down: "Scale down",
    ChangeKind.stop: "Stop",
}


class Change(Strict):
    """One candidate's change against last quarter's allocation, £ million over all years.

    Field names follow ``model.AllocationChange`` (plus ``candidate_label``, what public outputs
    show — see ``public_label``); ``reason`` is the CEO's.
    """

    kind: ChangeKind
    candidate: str
    candidate_label: str
    option_before: str | None = None
    option_after: str | None = None
    amount_before: Amount = 0.0
    amount_after: Amount = 0.0
    reason: str = ""

    @property
    def amount_change(self) -> float:
        return self.amount_after - self.amount_before


def classify_changes(
    previous: Mapping[str, tuple[str, float]],
    current: Mapping[str, tuple[str, float]],
    *,
    labels: Mapping[str, str] | None = None,
    tolerance: float = CONTINUE_TOLERANCE,
) -> list[Change]:
    """Start / continue / scale up / scale down / stop per candidate, in candidate order.

    ``previous`` and ``current`` map candidate → (funded option, total amount). An amount of 0
    counts as not funded. Funded in both: *continue* when the amount is within ``tolerance``
    (1 %) of last quarter's — whatever the option — else *scale up* / *scale down* by the total
    amount (so a changed option with a higher amount is a scale up). ``labels`` maps candidate →
    public label (default: the candidate id — pass ``public_label``s for public outputs).
    """
    labels = labels or {}
    out: list[Change] = []
    for cand in sorted(set(previous) | set(current)):
        before_option, before = previous.get(cand, (None, 0.0))
        after_option, after = current.get(cand, (None, 0.0))
        for amount in (before, after):
            if not (math.isfinite(amount) and amount >= 0):
                raise ValueError(f"{cand}: amounts must be finite and >= 0, got {amount}")
        if before <= 0 and after <= 0:
            continue
        if before <= 0:
            kind = ChangeKind.start
        elif after <= 0:
            kind = ChangeKind.stop
        elif abs(after - before) <= tolerance * before:
            kind = ChangeKind.continue_
        elif after > before:
            kind = ChangeKind.scale_up
        else:
            kind = ChangeKind.scale_down
        out.append(
            Change(
                kind=kind,
                candidate=cand,
                candidate_label=labels.get(cand, cand),
                option_before=before_option if before > 0 else None,
                option_after=after_option if after > 0 else None,
                amount_before=max(before, 0.0),
                amount_after=max(after, 0.0),
            )
        )
    return out


# -- public labels -------------------------------------------------------------------------------


def public_label(candidate: Candidate) -> str:
    """The name, or only tier and platform for a commercially sensitive candidate
    (e.g. "A moonshot hydrogen-combustion candidate") — never its name or organisation."""
    if not candidate.commercially_sensitive:
        return candidate.name
    return f"A {candidate.tier.value} {candidate.platform} candidate"


# -- the letter ----------------------------------------------------------------------------------


class ProposedStop(Strict):
    candidate_label: str
    posterior_p: Prob
    threshold: Prob | None = None


class PublicDissent(Strict):
    """A council member's dissent; published with the member's sector, not their name."""

    member_sector: Sector
    text: str


class UpdateContext(Strict):
    """Everything the quarterly update needs, as plain data (£ million, probabilities 0-1).

    Candidate labels (in ``changes`` and ``proposed_stops``) must already be public: the caller
    passes ``public_label(candidate)`` so a commercially sensitive candidate appears only as its
    tier and platform. ``candidate`` ids in ``changes`` are never printed.
    """

    mission_name: str
    target: float = Field(gt=0, allow_inf_nan=False)
    unit: str
    deadline: dt.date
    quarter: str
    rag: Rag = Field(description="the published rating (the CEO's, when overridden)")
    rag_computed: Rag | None = Field(None, description="the rating P(target) alone gives")
    rag_override_reason: str = ""
    green_threshold: Prob = GREEN_THRESHOLD
    amber_threshold: Prob = AMBER_THRESHOLD
    p_target: Prob | None = Field(None, description="out-of-sample P(target)")
    p_target_scenarios: int | None = Field(
        None, ge=1, description="how many out-of-sample scenarios P(target) is measured on"
    )
    planned_p_target: Prob | None = Field(None, description="the trajectory's plan this quarter")
    previous_p_target: Prob | None = Field(None, description="last quarter's P(target)")
    expected_impact: float = Field(ge=0, allow_inf_nan=False)
    cvar_shortfall: Amount | None = None
    cvar_alpha: Prob | None = None
    spend_total: Amount
    budget_total: Amount | None = None
    spent_to_date: Amount | None = Field(None, description="actual spend so far (the ledger)")
    p_overrun: Prob | None = Field(None, description="out-of-sample P(realised spend overruns)")
    expected_overspend: Amount | None = None
    spend_by_platform: dict[str, Amount] = Field(default_factory=dict)
    n_funded: int = Field(ge=0)
    n_candidates: int | None = Field(None, ge=0)
    changes: list[Change] = Field(default_factory=list)
    evidence_counts: dict[EvidenceKind, int] = Field(default_factory=dict)
    stage_gates_passed: int = Field(0, ge=0)
    stage_gates_failed: int = Field(0, ge=0)
    flags: list[str] = Field(default_factory=list, description="risk flags in words")
    proposed_stops: list[ProposedStop] = Field(default_factory=list)
    dissents: list[PublicDissent] = Field(default_factory=list)
    next_quarter: str
    next_planned_p_target: Prob | None = None

    @model_validator(mode="after")
    def _thresholds(self) -> Self:
        check_thresholds(self.green_threshold, self.amber_threshold)
        return self


SECTOR_WORDS = {
    Sector.business: "business",
    Sector.academia: "academia",
    Sector.public_sector: "the public sector",
    Sector.civil_society: "civil society",
}


def _clip(text: str, words: int) -> str:
    """``text`` on one line, cut to ``words`` words with "…" when longer."""
    tokens = text.split()
    if len(tokens) <= words:
        return " ".join(tokens)
    return " ".join(tokens[:words]) + " …"


def _pct(p: float) -> str:
    return f"{round(p * 100)}%"


def _pct_with_error(p: float, n: int | None) -> str:
    """``p`` as a whole percentage with its 95 % Monte-Carlo interval when n is known:
    "51% (95% interval 50–52%)" (``montecarlo.interval_text``)."""
    if n is None:
        return _pct(p)
    return montecarlo.interval_text(montecarlo.share_interval(p, n), digits=0, percent="%")


def _scenarios(n: int | None) -> str:
    return "scenarios" if n is None else f"{n:,} scenarios"


def _m(x: float) -> str:
    return "£0" if x == 0 else f"£{x:,.1f} million"


def _num(x: float) -> str:
    return f"{x:,.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def _date(d: dt.date) -> str:
    return f"{d.day} {d:%B %Y}"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


class _Limits(Strict):
    changes: int
    reason_words: int
    dissent_words: int
    dissents: int
    flags: int
    stops: int
    label_words: int = 12


# Tighter and tighter until the letter is under the word limit; the last one is bounded whatever
# the input.
_LEVELS = (
    _Limits(
        changes=LISTED_CHANGES, reason_words=30, dissent_words=150, dissents=5, flags=8, stops=10
    ),
    _Limits(changes=15, reason_words=20, dissent_words=80, dissents=4, flags=6, stops=6),
    _Limits(changes=8, reason_words=12, dissent_words=40, dissents=3, flags=4, stops=4),
    _Limits(changes=0, reason_words=0, dissent_words=15, dissents=2, flags=2, stops=2),
)


def _state_of_play(c: UpdateContext, lim: _Limits) -> list[str]:
    platforms = [k for k, v in c.spend_by_platform.items() if v > 0]
    of = f" of {c.n_candidates}" if c.n_candidates is not None else ""
    spend = f"spending {_m(c.spend_total)}"
    if c.spent_to_date:
        spend = f"planning {_m(c.spend_total)} more on top of {_m(c.spent_to_date)} already spent"
    if c.budget_total:
        spend += f" of the {_m(c.budget_total)} available"
    first = (
        f"The mission's target is {_num(c.target)} {c.unit} by {_date(c.deadline)}. In "
        f"{c.quarter} the portfolio funds {c.n_funded}{of} candidate solutions across "
        f"{_plural(len(platforms), 'platform')}, {spend}. If the funded candidates perform as the "
        f"Expert Council expects, they deliver {_num(c.expected_impact)} {c.unit} on average, "
        f"{_pct(c.expected_impact / c.target)} of the target."
    )
    if c.p_target is None:
        second = "There is no estimate this quarter of the chance of reaching the target."
    else:
        second = (
            f"Our best estimate of the chance that the portfolio reaches the target by the "
            f"deadline is {_pct_with_error(c.p_target, c.p_target_scenarios)}, tested on "
            f"{_scenarios(c.p_target_scenarios)} the optimiser did not see."
        )
        if c.previous_p_target is not None:
            delta = round(c.p_target * 100) - round(c.previous_p_target * 100)
            move = "unchanged from" if delta == 0 else ("up from" if delta > 0 else "down from")
            second += f" That is {move} {_pct(c.previous_p_target)} last quarter."
        if c.planned_p_target is not None:
            second += f" Our plan for this quarter was {_pct(c.planned_p_target)}."
    return [first, second]


def _rag_section(c: UpdateContext, lim: _Limits) -> list[str]:
    label = RAG_LABELS[c.rag]
    basis = (
        f"Our thresholds: Green when the chance of reaching the target is "
        f"{_pct(c.green_threshold)} or more, Amber at {_pct(c.amber_threshold)} or more, Red "
        f"below that."
    )
    computed = c.rag_computed
    if computed is None and c.p_target is not None:
        computed = rag_from_p(c.p_target, c.green_threshold, c.amber_threshold)
    if c.p_target is not None:
        basis += f" At {_pct(c.p_target)} the estimate gives {RAG_LABELS[computed or c.rag]}."
    paragraphs = [f"We rate delivery confidence {label}. {basis}"]
    if computed is not None and computed is not c.rag:
        reason = _clip(c.rag_override_reason, max(lim.dissent_words, 40)) or "no reason recorded"
        paragraphs.append(
            f"The Mission CEO has rated it {label} rather than {RAG_LABELS[computed]}, "
            f"because: {reason}"
        )
    paragraphs.append(
        f"In the Infrastructure and Projects Authority's words, {label} means: {RAG_WORDING[c.rag]}"
    )
    return paragraphs


def _change_line(ch: Change, lim: _Limits) -> str:
    label = _clip(ch.candidate_label, lim.label_words)
    if ch.kind is ChangeKind.continue_:
        money = f"{_m(ch.amount_after)}"
    else:
        money = f"{_m(ch.amount_before)} to {_m(ch.amount_after)}"
    line = f"- {CHANGE_LABELS[ch.kind]}: {label} ({money})."
    if lim.reason_words:
        reason = _clip(ch.reason, lim.reason_words)
        line += f" {reason}" if reason else " No reason recorded."
    return line


def _changes_section(c: UpdateContext, lim: _Limits) -> list[str]:
    if not c.changes:
        return ["No changes to report against last quarter's allocation."]
    counts = {k: sum(1 for ch in c.changes if ch.kind is k) for k in ChangeKind}
    words = {
        ChangeKind.start: "started",
        ChangeKind.continue_: "continued",
        ChangeKind.scale_up: "scaled up",
        ChangeKind.scale_down: "scaled down",
        ChangeKind.stop: "stopped",
    }
    parts = [f"{n} {words[k]}" for k, n in counts.items() if n]
    out = [f"Compared with last quarter: {', '.join(parts)}."]
    ordered = sorted(
        c.changes,
        key=lambda ch: (ch.kind is ChangeKind.continue_, -abs(ch.amount_change), ch.candidate),
    )
    shown = ordered[: lim.changes]
    lines = [_change_line(ch, lim) for ch in shown]
    rest = len(ordered) - len(shown)
    if rest:
        smaller = "smaller change" if rest == 1 else "smaller changes"
        lines.append(f"- and {rest} {smaller}, listed in the open data.")
    out.append("\n".join(lines))
    return out


def _indicators_section(c: UpdateContext, lim: _Limits) -> list[str]:
    counts = c.evidence_counts
    lines: list[str] = []
    if c.p_target is not None and c.planned_p_target is not None:
        gap = round(c.p_target * 100) - round(c.planned_p_target * 100)
        where = (
            "on plan"
            if gap == 0
            else f"{abs(gap)} points {'ahead of' if gap > 0 else 'behind'} plan"
        )
        lines.append(
            f"- Chance of reaching the target: planned {_pct(c.planned_p_target)}, actual "
            f"{_pct(c.p_target)} ({where})."
        )
    elif c.p_target is not None:
        lines.append(
            f"- Chance of reaching the target: {_pct(c.p_target)} (no plan set this quarter)."
        )
    met = counts.get(EvidenceKind.milestone_met, 0)
    missed = counts.get(EvidenceKind.milestone_missed, 0)
    lines.append(f"- Milestones this quarter: {met} met, {missed} missed.")
    if c.stage_gates_passed or c.stage_gates_failed:
        lines.append(
            f"- Stage gates: {c.stage_gates_passed} passed, {c.stage_gates_failed} failed."
        )
    trl = counts.get(EvidenceKind.trl_change, 0)
    cost = counts.get(EvidenceKind.cost_actuals, 0)
    if trl or cost:
        lines.append(f"- Readiness changes recorded: {trl}; cost reports against plan: {cost}.")
    return ["\n".join(lines)]


def _risks_section(c: UpdateContext, lim: _Limits) -> list[str]:
    lines: list[str] = []
    if c.spend_total > 0 and c.spend_by_platform:
        platform, amount = max(sorted(c.spend_by_platform.items()), key=lambda kv: kv[1])
        lines.append(
            f"- Concentration: the largest platform, {_clip(platform, lim.label_words)}, takes "
            f"{_pct(amount / c.spend_total)} of spend ({_m(amount)})."
        )
    if c.cvar_shortfall is not None:
        worst = f"worst {_pct(1 - c.cvar_alpha)}" if c.cvar_alpha is not None else "worst"
        lines.append(
            f"- Downside: in the {worst} of scenarios the portfolio falls short of the target by "
            f"{_num(c.cvar_shortfall)} {c.unit} on average."
        )
    if c.p_overrun is not None:
        excess = (
            f", by {_m(c.expected_overspend)} on average across all scenarios"
            if c.expected_overspend
            else ""
        )
        lines.append(
            f"- Money: in {_pct(c.p_overrun)} of scenarios the realised spend runs over the "
            f"money available{excess}."
        )
    for flag in c.flags[: lim.flags]:
        lines.append(f"- {_clip(flag, 30)}")
    if len(c.flags) > lim.flags:
        lines.append(f"- and {len(c.flags) - lim.flags} more flags, listed in the open data.")
    if c.proposed_stops:
        shown = c.proposed_stops[: lim.stops]
        names = "; ".join(
            f"{_clip(s.candidate_label, lim.label_words)} (p {s.posterior_p:.2f})" for s in shown
        )
        more = len(c.proposed_stops) - len(shown)
        extra = f"; and {more} more" if more else ""
        lines.append(
            "- Proposed for stopping, because the evidence has pushed their chance of success "
            f"below the kill threshold: {names}{extra}."
        )
    paragraphs = ["\n".join(lines)] if lines else []
    if c.dissents:
        dissent_lines = [
            f"- A council member from {SECTOR_WORDS[d.member_sector]}: "
            f"“{_clip(d.text, lim.dissent_words)}”"
            for d in c.dissents[: lim.dissents]
        ]
        more = len(c.dissents) - lim.dissents
        if more > 0:
            dissent_lines.append(f"- and {_plural(more, 'more dissent')}, published in full.")
        paragraphs.append(
            f"Dissents recorded by members of the Expert Council ({len(c.dissents)}):\n"
            + "\n".join(dissent_lines)
        )
    else:
        paragraphs.append("No member of the Expert Council recorded a dissent this quarter.")
    return paragraphs


def _next_section(c: UpdateContext, lim: _Limits) -> list[str]:
    text = (
        f"In {c.next_quarter} we will record new evidence against each candidate's milestones, "
        "ask the Expert Council to rescore the candidates, and rebalance the portfolio."
    )
    if c.next_planned_p_target is not None:
        text += (
            f" Our plan is for the chance of reaching the target to be "
            f"{_pct(c.next_planned_p_target)}."
        )
    if c.proposed_stops:
        text += " We will decide on the candidates proposed for stopping."
    return [text]


def _render(c: UpdateContext, lim: _Limits) -> str:
    sections = [
        ("State of play", _state_of_play),
        (f"Delivery confidence: {RAG_LABELS[c.rag]} — why", _rag_section),
        ("What changed in the portfolio and why", _changes_section),
        ("Leading indicators", _indicators_section),
        ("Risks", _risks_section),
        ("Next quarter", _next_section),
    ]
    blocks = [f"# {_clip(c.mission_name, 20)}: quarterly update, {c.quarter}"]
    for title, build in sections:
        blocks.append(f"## {title}")
        blocks.extend(build(c, lim))
    return "\n\n".join(blocks) + "\n"


def draft_update(context: UpdateContext) -> str:
    """The quarterly update letter, in plain language and under 2,000 words.

    Sections: State of play; Delivery confidence: <RAG> — why; What changed in the portfolio and
    why; Leading indicators; Risks; Next quarter. Up to 25 changes are listed, largest first
    (continues last), then "and N smaller changes, listed in the open data". When the draft
    would reach the word limit, fewer items are listed and long texts are cut (with "…").
    Labels must already be public (see ``UpdateContext``).
    """
    text = ""
    for lim in _LEVELS:
        text = _render(context, lim)
        if letter_within_limit(count_words(text)):
            return text
    return text
