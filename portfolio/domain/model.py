"""The domain of a technological innovation mission, as pydantic models with no I/O.

Validation follows DESIGN.md sections 2 and 4: probabilities 0.01-0.99, low <= most likely <= high,
TRL 1-9, financial years like ``2026-27``, quarters like ``2026-27 Q3``, money >= 0, ids slug-safe.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_serializer,
    model_validator,
)

# part of this model, defined once where they are stated: the three-point estimate and PERT
# (optimiser.pert) and the delivery-confidence rating (portfolio.domain.rag)
from optimiser.pert import MAX_QUANTITY as MAX_QUANTITY
from optimiser.pert import ORDER_RULE as ORDER_RULE
from optimiser.pert import ThreePoint as ThreePoint
from optimiser.result import FundingRow, Metrics, Result
from portfolio.domain.limits import LimitedText
from portfolio.domain.rag import AMBER_THRESHOLD, GREEN_THRESHOLD
from portfolio.domain.rag import Rag as Rag

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


class Sector(StrEnum):
    business = "business"
    academia = "academia"
    public_sector = "public_sector"
    civil_society = "civil_society"


class Tier(StrEnum):
    conventional = "conventional"
    moonshot = "moonshot"


class OrganisationType(StrEnum):
    incumbent = "incumbent"
    rising_star = "rising_star"


class Confidence(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class Role(StrEnum):
    mission_ceo = "mission_ceo"
    council_member = "council_member"
    treasury_reviewer = "treasury_reviewer"


ROLE_LABELS = {
    Role.mission_ceo: "Mission CEO",
    Role.council_member: "Expert Council member",
    Role.treasury_reviewer: "Treasury reviewer",
}


class QuarterState(StrEnum):
    """open → approved (an allocation is approved; it may be re-approved) → closed (frozen)."""

    open = "open"
    approved = "approved"
    closed = "closed"


class ChangeKind(StrEnum):
    start = "start"
    continue_ = "continue"
    scale_up = "scale up"
    scale_down = "scale down"
    stop = "stop"


class ScoringState(StrEnum):
    not_opened = "not_opened"
    open = "open"
    closed = "closed"


class AggregationMethod(StrEnum):
    equal = "equal"
    brier = "brier"
    classical = "classical"


AGGREGATION_LABELS = {
    AggregationMethod.equal: "Equal weights (linear pool)",
    AggregationMethod.brier: "Performance weights from Brier scores of resolved forecasts",
    AggregationMethod.classical: "Cooke's classical model (weights from seed questions)",
}


class ScoreStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"


class EvidenceKind(StrEnum):
    milestone_met = "milestone_met"
    milestone_missed = "milestone_missed"
    trl_change = "trl_change"
    cost_actuals = "cost_actuals"
    stage_gate = "stage_gate"


class Strict(BaseModel):
    """Base for domain models: unknown fields are an error, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    def with_changes(self, **changes: Any) -> Self:
        """A copy with ``changes``, validated as any input is (``model_copy(update=…)`` is not:
        it would store a NaN, an infinity or an out-of-range value as given)."""
        fields = self.model_dump(exclude=set(type(self).model_computed_fields))
        return self.model_validate({**fields, **changes})


class Envelope(Strict):
    """A source of money with a budget per financial year."""

    id: Slug
    name: Name
    budget: dict[FinancialYear, Amount] = Field(default_factory=dict)
    min_spend: Amount | None = None

    @property
    def total(self) -> float:
        return sum(self.budget.values())


class Mission(Strict):
    slug: Slug
    name: Name
    description: Text = ""
    target: FiniteFloat = Field(
        gt=0, le=MAX_QUANTITY, description="impact the portfolio must reach"
    )
    unit: Name = "MtCO2e/yr"
    deadline: dt.date
    years: list[FinancialYear] = Field(min_length=1)
    envelopes: list[Envelope] = Field(min_length=1)
    dal: Amount = Field(50.0, description="Delegated Authority Limit, £ million")
    dal_mode: str = Field("flag", pattern="^(flag|cap)$")
    aggregation: AggregationMethod = Field(
        AggregationMethod.equal, description="how the council's scores are pooled"
    )
    kill_threshold: Share = Field(
        0.1, description="a candidate whose posterior p falls below this is proposed for stopping"
    )
    rag_green: Share = Field(
        GREEN_THRESHOLD, description="P(target) at or above which the rating is green"
    )
    rag_amber: Share = Field(
        AMBER_THRESHOLD, description="P(target) at or above which the rating is amber"
    )
    policy: dict[str, Any] | None = Field(
        None, description="the CEO's optimiser policy for this mission (the form's last settings)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(set(self.years)) != len(self.years):
            raise ValueError("years: each financial year may appear once")
        if self.rag_amber >= self.rag_green:
            raise ValueError("rag_amber: must be below the green threshold")
        if self.years != sorted(self.years):
            raise ValueError("years: must be in order")
        ids = [e.id for e in self.envelopes]
        if len(set(ids)) != len(ids):
            raise ValueError("envelopes: ids must be unique")
        for env in self.envelopes:
            extra = set(env.budget) - set(self.years)
            if extra:
                raise ValueError(
                    f"envelopes: budget of {env.id} names {sorted(extra)[0]}, "
                    "which is not one of the mission's years"
                )
        return self


class FundingOption(Strict):
    """A fundable tranche of a candidate with its planned cost profile, p and impact."""

    id: Slug
    name: Name
    cost_profile: dict[FinancialYear, Amount] = Field(
        min_length=1, description="planned spend per financial year, £ million"
    )
    cost_range: ThreePoint | None = Field(
        None, description="three-point total cost (£ million) used to sample overruns"
    )
    p_success: Probability
    impact: ThreePoint

    @property
    def total_cost(self) -> float:
        return sum(self.cost_profile.values())


MAX_OPTIONS = 5
"""Most funding options a candidate has (it has at least one)."""


class Candidate(Strict):
    id: Slug
    name: Name
    description: Text = ""
    organisation: Name
    organisation_type: OrganisationType
    platform: Slug
    tier: Tier
    trl: TRL
    eligible_envelopes: list[Slug] = Field(min_length=1)
    ncr: bool = Field(False, description="novel, contentious or repercussive spending")
    treasury_approved: bool = False
    commercially_sensitive: bool = False
    registered_by: Username | None = None
    options: list[FundingOption] = Field(min_length=1, max_length=MAX_OPTIONS)

    @model_validator(mode="after")
    def _unique_options(self) -> Self:
        ids = [o.id for o in self.options]
        if len(set(ids)) != len(ids):
            raise ValueError("options: option ids must be unique within a candidate")
        if len(set(self.eligible_envelopes)) != len(self.eligible_envelopes):
            raise ValueError("eligible_envelopes: each envelope may appear once")
        return self


def check_candidate_fits_mission(candidate: Candidate, mission: Mission) -> list[tuple[str, str]]:
    """Cross-checks between a candidate and its mission, as (field, rule) pairs."""
    errors: list[tuple[str, str]] = []
    envelope_ids = {e.id for e in mission.envelopes}
    for env in candidate.eligible_envelopes:
        if env not in envelope_ids:
            errors.append(("eligible_envelopes", f"{env} is not an envelope of this mission"))
    for i, option in enumerate(candidate.options):
        for year in option.cost_profile:
            if year not in mission.years:
                errors.append(
                    (f"options.{i}.cost_profile", f"{year} is not one of the mission's years")
                )
    return errors


class CouncilMember(Strict):
    username: Username
    sector: Sector


class Score(Strict):
    """One council member's estimate for one funding option in one quarter."""

    member: Username
    quarter: QuarterLabel
    candidate: Slug
    option: Slug
    status: ScoreStatus = ScoreStatus.draft
    not_competent: bool = False
    p_success: Probability | None = None
    cost: ThreePoint | None = None
    impact: ThreePoint | None = None
    trl: TRL | None = None
    confidence: Confidence | None = None
    rationale: Text = ""

    @model_validator(mode="after")
    def _complete_when_submitted(self) -> Self:
        if self.status is ScoreStatus.submitted and not self.not_competent:
            for field in ("p_success", "cost", "impact", "trl", "confidence"):
                if getattr(self, field) is None:
                    raise ValueError(f"{field}: required to submit a score")
        return self


#: cost actuals larger than this multiple of the planned cost to date are a typing error (the
#: uplift they imply would make every later cost meaningless)
MAX_COST_OVERRUN = 1000.0


class Evidence(Strict):
    """A piece of evidence about a candidate recorded in a quarter."""

    candidate: Slug
    quarter: QuarterLabel
    kind: EvidenceKind
    date: dt.date
    summary: Name
    diagnosticity: float = Field(1.0, gt=0, le=10, allow_inf_nan=False)
    trl: TRL | None = None
    cost_actual: Amount | None = None
    cost_planned: Amount | None = None
    outcome: bool | None = Field(None, description="stage gate: True succeeded, False failed")
    option: Slug | None = Field(
        None, description="the funding option a stage gate concerns (default: the first)"
    )
    recorded_by: Username | None = None

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Self:
        if self.kind is EvidenceKind.trl_change and self.trl is None:
            raise ValueError("trl: required for a TRL change")
        if self.kind is EvidenceKind.cost_actuals and (
            self.cost_actual is None or not self.cost_planned
        ):
            raise ValueError("cost_actual: cost actuals need the actual and a planned cost > 0")
        if (
            self.kind is EvidenceKind.cost_actuals
            and self.cost_actual is not None
            and self.cost_planned
            and self.cost_actual > MAX_COST_OVERRUN * self.cost_planned
        ):
            raise ValueError(
                f"cost_actual: more than {MAX_COST_OVERRUN:,.0f} times the planned cost to date; "
                "check both are in £ million"
            )
        if self.kind is EvidenceKind.stage_gate and self.outcome is None:
            raise ValueError("outcome: a stage gate needs its outcome")
        return self


class Quarter(Strict):
    label: QuarterLabel
    state: QuarterState = QuarterState.open
    scoring: ScoringState = Field(
        ScoringState.not_opened, description="the council's scoring round of the quarter"
    )
    approved_run: int | None = Field(None, description="the run approved as the allocation")
    approved_by: Username | None = None
    approved_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    rag: Rag | None = Field(None, description="computed from out-of-sample P(target)")
    rag_override: Rag | None = None
    rag_reason: Text = ""
    pack_hash: str | None = None
    pack_previous_hash: str | None = None
    pack_seal: str | None = Field(
        None, description="keyed seal of the pack, chained to the previous quarter's seal"
    )

    @property
    def rag_shown(self) -> Rag | None:
        """The published rating: the CEO's override, else the computed one. A stored override
        always differs from the computed rating (``portfolio.domain.rag.apply_override``)."""
        return self.rag_override or self.rag


def next_quarter(label: str) -> str:
    """The quarter after ``label`` (``2026-27 Q4`` → ``2027-28 Q1``)."""
    year, q = label.split(" Q")
    start = int(year[:4])
    if q == "4":
        return f"{start + 1}-{(start + 2) % 100:02d} Q1"
    return f"{year} Q{int(q) + 1}"


class AllocationChange(Strict):
    """How the approved allocation of a quarter changed a candidate's funding, and why."""

    quarter: QuarterLabel
    candidate: Slug
    kind: ChangeKind
    option_before: Slug | None = None
    option_after: Slug | None = None
    amount_before: Money = 0.0
    amount_after: Money = 0.0
    reason: Text = ""
    contracted: bool = Field(False, description="the award is contracted: it must stay funded")


class Dissent(Strict):
    """A council member's dissent from the quarter's RAG rating or allocation; shown publicly."""

    quarter: QuarterLabel
    author: Username
    text: LimitedText
    created_at: dt.datetime


class QuarterlyUpdate(Strict):
    """The CEO's letter for a quarter: drafted by the product, edited, then published."""

    quarter: QuarterLabel
    body: Annotated[str, StringConstraints(max_length=40_000)]
    published: bool = False
    published_at: dt.datetime | None = None
    published_by: Username | None = None


class TrajectoryPoint(Strict):
    """The P(target) the CEO plans to have reached by a quarter."""

    quarter: QuarterLabel
    planned_p_target: Share


class Challenge(Strict):
    """A council member's red-team challenge on a candidate, with the CEO's reply."""

    candidate: Slug
    quarter: QuarterLabel
    author: Username
    text: LimitedText
    created_at: dt.datetime
    reply: Text = ""
    replied_by: Username | None = None
    replied_at: dt.datetime | None = None


class SeedQuestion(Strict):
    """A quantity whose true value is (or becomes) known: lets the council measure itself."""

    id: Slug
    question: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)
    ]
    unit: Text = ""
    scale: str = Field("uniform", pattern="^(uniform|log)$")
    realization: Quantity | None = Field(
        None, description="the true value, once known; None for a target item"
    )

    @model_validator(mode="after")
    def _positive_on_log_scale(self) -> Self:
        if self.scale == "log" and self.realization is not None and self.realization <= 0:
            raise ValueError("realization: a question on the log scale needs a value above 0")
        return self


class SeedAnswer(Strict):
    """A member's 5 % / 50 % / 95 % quantiles for a seed question."""

    question: Slug
    member: Username
    q5: Quantity
    q50: Quantity
    q95: Quantity

    @model_validator(mode="after")
    def _increasing(self) -> Self:
        if not self.q5 < self.q50 < self.q95:
            raise ValueError("q5 < q50 < q95 must hold")
        return self


class StoredAggregate(Strict):
    """The council's pooled estimate of one option in one quarter, as computed when the round
    closed, with the scores and weights that made it (``data``)."""

    quarter: QuarterLabel
    candidate: Slug
    option: Slug
    method: AggregationMethod
    data: dict[str, Any]


class ReviewComment(Strict):
    """A Treasury reviewer's comment on a quarter's allocation report, with the CEO's reply."""

    quarter: QuarterLabel
    author: Username
    text: LimitedText
    created_at: dt.datetime
    reply: Text = ""
    replied_by: Username | None = None
    replied_at: dt.datetime | None = None


ANALYTICS_KINDS = ("baseline", "frontier", "risk_frontier", "core", "voi", "price")


class RunAnalysis(Strict):
    """A cached analysis of a run, computed in the background."""

    run: int
    kind: str = Field(pattern="^(" + "|".join(ANALYTICS_KINDS) + ")$")
    status: str = Field("queued", pattern="^(queued|running|done|failed)$")
    progress: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    requested_by: str
    created_at: dt.datetime
    finished_at: dt.datetime | None = None


class Allocation(Strict):
    """The funded option of a candidate in an optimiser run."""

    candidate: Slug
    option: Slug
    amounts: dict[str, dict[FinancialYear, Money]] = Field(
        default_factory=dict, description="envelope -> year -> £ million"
    )


RUN_ACTIVE = ("queued", "running")
RUN_STATUSES = ("queued", "running", "optimal", "feasible", "infeasible", "error", "failed")


class OptimiserRun(Strict):
    """One solve of a mission's problem file, kept with the exact problem and result."""

    id: int | None = None
    mission: Slug
    quarter: QuarterLabel
    objective: str
    solver: str = "highs"
    status: str = Field("queued", pattern="^(" + "|".join(RUN_STATUSES) + ")$")
    started_by: Username | str
    note: Text = ""
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    problem: dict[str, Any]
    result: Result | None = Field(
        None, description="what the solve produced (mission-portfolio/result), once finished"
    )
    progress: dict[str, Any] | None = None
    error: str | None = None
    budget_scale: float = Field(
        1.0,
        ge=0.1,
        le=3.0,
        allow_inf_nan=False,
        description="what-if: the envelopes were scaled by this; only 1.0 can be approved",
    )
    overrides: dict[str, str] = Field(
        default_factory=dict, description="the CEO's locks and exclusions -> the reason for each"
    )

    @property
    def active(self) -> bool:
        return self.status in RUN_ACTIVE

    @property
    def found_portfolio(self) -> bool:
        return self.status in ("optimal", "feasible")

    @property
    def what_if(self) -> bool:
        """Made on scaled budgets: a question, never an allocation."""
        return abs(self.budget_scale - 1.0) > 1e-12

    # -- the result, typed: every page, route, export and letter reads a run's numbers here --
    def result_document(self) -> dict[str, Any] | None:
        """The result document as the solve wrote it and storage keeps it: exactly the fields
        stored (``exclude_unset``), so a result of an older version, without the fields added
        since, reads back key for key. The result file, the exchange format and the sealed audit
        packs hold this form; a pack sealed over it still matches its live rows."""
        if self.result is None:
            return None
        document = self.result.model_dump(mode="json", exclude_unset=True)
        return {"format": self.result.format, "version": self.result.version, **document}

    @field_serializer("result")
    def _stored_result(self, result: Result | None) -> dict[str, Any] | None:
        return self.result_document()

    @property
    def out_of_sample(self) -> Metrics | None:
        """The run's metrics on fresh scenarios the optimiser never saw (the problem file's
        ``evaluation``): the honest numbers every page, letter and the API state; None before
        a result has them."""
        return self.result.metrics.out_of_sample if self.result else None

    @property
    def in_sample(self) -> Metrics | None:
        """The run's metrics on the scenarios it was optimised on (they flatter it)."""
        return self.result.metrics.in_sample if self.result else None

    @property
    def p_target(self) -> float | None:
        """P(target) out of sample: the share of fresh scenarios whose impact reaches the
        mission's target; None without an out-of-sample result."""
        oos = self.out_of_sample
        return oos.p_target if oos else None

    @property
    def funding(self) -> list[FundingRow]:
        """The run's funding rows: candidate, option, envelope, year and £m (none without a
        result)."""
        return self.result.funding if self.result else []

    @property
    def selected(self) -> dict[str, str]:
        """The option the run funds of each candidate it funds (none without a result)."""
        return self.result.selected if self.result else {}


class User(Strict):
    username: Username
    display_name: Name
    is_admin: bool = False
    active: bool = True


class RoleAssignment(Strict):
    username: Username
    mission: Slug
    role: Role


class AuditEntry(Strict):
    """One change: who, when, what, before -> after. Never edited or deleted."""

    at: dt.datetime
    actor: str
    mission: Slug | None
    entity: str
    entity_id: str
    action: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


Hash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class ChainedAuditEntry(AuditEntry):
    """An audit entry with its place in its mission's hash chain
    (``portfolio/adapters/auditpack.py``),
    as exported and restored: ``seq`` None for an entry written before the chain existed."""

    seq: int | None = Field(None, ge=1)
    previous_hash: Hash | None = None
    entry_hash: Hash | None = None


# -- money across quarters (issue 15) ------------------------------------------------------------
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
