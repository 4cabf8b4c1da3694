"""Two to four optimiser runs side by side, for a decision: their key numbers (with the
differences that are within Monte-Carlo error marked as such, ``portfolio.domain.montecarlo``),
spend by
platform, what each funds and the policy rules they differ in — all in the words people read
(``portfolio.domain.display``), never identifiers or JSON."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from optimiser.optimality import Optimality
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain import display, montecarlo
from portfolio.domain.errors import InvalidInput
from portfolio.domain.model import OptimiserRun
from portfolio.services import cycle

MIN_RUNS, MAX_RUNS = 2, 4
TOLERANCE = 1e-6  # £m, and shares: two values closer than this are the same

# the key numbers, in the order the comparison shows them: (metric, how it is written)
KEY_METRICS: tuple[tuple[str, str], ...] = (
    ("p_target", "percent"),
    ("p_overrun", "percent"),
    ("expected_impact", "impact"),
    ("cvar_shortfall", "impact"),
    ("expected_overspend", "money"),
    ("spend", "money"),
    ("funded", "count"),
)
OPTIONAL_METRICS = frozenset({"p_overrun", "expected_overspend"})  # only once a run has them
MONTE_CARLO_METRICS = ("p_target", "p_overrun")


def count_refusal(run_ids: Sequence[int]) -> str | None:
    """Why this many runs cannot be compared, or None (two, three or four distinct runs)."""
    if not MIN_RUNS <= len(set(run_ids)) <= MAX_RUNS:
        return "tick two, three or four runs to compare"
    return None


def spend_by_platform(run: OptimiserRun) -> dict[str, float]:
    """The run's planned spend by platform, £m (none without a result)."""
    return dict(run.result.spend.by_platform) if run.result else {}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Column(_Frozen):
    """One run of the comparison."""

    run: OptimiserRun
    metrics: dict[str, float | None]
    approval_refusal: str | None = Field(
        description="why the run cannot be approved now (null: it can)"
    )
    optimality: Optimality | None = Field(
        None, description="how close to the best its portfolio is proven to be"
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        return f"Run {self.run.id}"


class MetricRow(_Frozen):
    key: str
    label: str
    style: str = Field(description="how it is written: percent, money, impact or count")
    values: list[float | None]
    differs: bool = Field(
        description="the values differ, beyond Monte-Carlo error where the metric has one"
    )
    noise: float | None = Field(
        None,
        description="the values differ but only within Monte-Carlo error: the widest ± margin "
        "(a share)",
    )
    intervals: list[montecarlo.Interval | None] | None = Field(
        None,
        description="each run's own 95 % Monte-Carlo interval, where the metric has one: what "
        "the comparison shows beside each value",
    )


class PairNote(_Frozen):
    """Two runs' values of one metric and whether their difference is beyond Monte-Carlo error."""

    metric: str
    label: str
    first: int
    second: int
    difference: montecarlo.Difference


class Row(_Frozen):
    """A labelled row: one value per run (text or a number), and whether they differ."""

    label: str
    values: list[Any]
    differs: bool
    key: str = Field(
        "", description="what the row is about (a candidate's or a platform's id), if anything"
    )


class Comparison(_Frozen):
    """Two to four runs side by side, in the order asked for."""

    columns: list[Column]
    metrics: list[MetricRow]
    pairs: list[PairNote] = Field(
        description="each pair of runs' difference in a Monte-Carlo metric, and its margin"
    )
    platforms: list[Row] = Field(description="spend by platform, £m per run")
    funding: list[Row] = Field(
        description="per candidate funded by any run: [option name, £m] per run, or null where "
        "not funded"
    )
    policy: list[Row] = Field(description="only the rules the runs differ in, as readable text")

    @property
    def runs(self) -> list[OptimiserRun]:
        return [c.run for c in self.columns]


def _metrics(run: OptimiserRun) -> dict[str, float | None]:
    """The run's key numbers: the out-of-sample metrics its result states (None where it
    states none: a result older than P(overrun)), its planned spend and how many it funds."""
    oos = montecarlo.block_values(run.out_of_sample)
    values: dict[str, float | None] = {
        key: (float(oos[key]) if oos.get(key) is not None else None)
        for key, _ in KEY_METRICS
        if key not in ("spend", "funded")
    }
    values["spend"] = run.result.spend.total if run.found_portfolio and run.result else None
    values["funded"] = float(len(cycle.holdings(run))) if run.found_portfolio else None
    return values


def _differ(values: Sequence[float | None]) -> bool:
    """Whether the values differ: some known and some not, or known ones apart."""
    known = [v for v in values if v is not None]
    if len(known) != len(values):
        return bool(known)
    return max(known) - min(known) > TOLERANCE if known else False


def _metric_rows(
    columns: list[Column], blocks: list[montecarlo.MetricsBlock]
) -> tuple[list[MetricRow], list[PairNote]]:
    rows: list[MetricRow] = []
    pairs: list[PairNote] = []
    for key, style in KEY_METRICS:
        values = [c.metrics[key] for c in columns]
        if key in OPTIONAL_METRICS and all(v is None for v in values):
            continue
        label = display.METRIC_NAMES.get(key, key)
        if key not in MONTE_CARLO_METRICS:
            rows.append(
                MetricRow(key=key, label=label, style=style, values=values, differs=_differ(values))
            )
            continue
        notes = [
            PairNote(
                metric=key,
                label=label,
                first=columns[i].run.id or 0,
                second=columns[j].run.id or 0,
                difference=d,
            )
            for i, j in itertools.combinations(range(len(columns)), 2)
            if (d := montecarlo.compare_metric(blocks[i], blocks[j], key)) is not None
        ]
        pairs.extend(notes)
        differs = _differ(values)
        noise = None
        if differs and notes and len(notes) == len(columns) * (len(columns) - 1) // 2:
            if not any(n.difference.significant for n in notes):
                differs, noise = False, max(n.difference.margin for n in notes)
        intervals = [montecarlo.interval(b, key) for b in blocks]
        rows.append(
            MetricRow(
                key=key,
                label=label,
                style=style,
                values=values,
                differs=differs,
                noise=noise,
                intervals=intervals,
            )
        )
    return rows, pairs


def _names(uow: SqlUnitOfWork, slug: str, runs: Sequence[OptimiserRun]) -> dict[str, str]:
    """Candidate ids and "candidate/option" references → names (the mission's, else the run's)."""
    names: dict[str, str] = {}
    for run in runs:
        for ref, name in display.problem_names(run.problem).items():
            names.setdefault(ref, name)
    names.update({c.id: c.name for c in uow.candidates.all(slug)})
    return names


def _option_names(runs: Sequence[OptimiserRun]) -> dict[tuple[str, str], str]:
    return {
        (c["id"], o["id"]): o.get("name") or o["id"]
        for run in runs
        for c in run.problem.get("candidates", [])
        for o in c.get("options", [])
    }


def _policy_value(key: str, value: Any) -> Any:
    """A rule's value in the shape ``display.rule_value`` names: last quarter's allocation as
    the list of its "candidate/option" references."""
    if key == "previous" and isinstance(value, Mapping):
        return [f"{c}/{o}" for c, o in sorted(value.items())]
    return value


def _policy_rows(runs: Sequence[OptimiserRun], names: Mapping[str, str]) -> list[Row]:
    policies = [r.problem.get("policy") or {} for r in runs]
    order = list(display.POLICY_RULE_NAMES)
    keys = sorted(
        {k for p in policies for k in p},
        key=lambda k: (order.index(k) if k in order else len(order), k),
    )
    rows = []
    for key in keys:
        raw = [p.get(key) for p in policies]
        if all(v == raw[0] for v in raw[1:]):
            continue
        texts = [display.rule_value(key, _policy_value(key, v), names) for v in raw]
        rows.append(Row(label=display.POLICY_RULE_NAMES.get(key, key), values=texts, differs=True))
    for field, label in (
        ("scenarios", "Optimisation scenarios"),
        ("evaluation", "Out-of-sample scenarios"),
    ):
        specs = [r.problem.get(field) or {} for r in runs]
        if any(s != specs[0] for s in specs[1:]):
            texts = [
                f"{s['count']:,} (seed {s['seed']})"
                if "count" in s
                else "given in the problem file"
                for s in specs
            ]
            rows.append(Row(label=label, values=texts, differs=True))
    scales = [r.budget_scale for r in runs]
    if any(abs(s - scales[0]) > 1e-12 for s in scales[1:]):
        texts = [
            f"What-if: envelopes at {s * 100:g} %" if r.what_if else "The real budgets"
            for r, s in zip(runs, scales, strict=True)
        ]
        rows.append(Row(label="Budgets", values=texts, differs=True))
    return rows


def compare_runs(uow: SqlUnitOfWork, slug: str, run_ids: Sequence[int]) -> Comparison:
    """The comparison of runs ``run_ids`` (two to four, in the order given)."""
    chosen = list(dict.fromkeys(run_ids))
    refusal = count_refusal(chosen)
    if refusal is not None:
        raise InvalidInput.single("run", refusal)
    runs = [uow.runs.get(slug, r) for r in chosen]
    columns = [
        Column(
            run=r,
            metrics=_metrics(r),
            approval_refusal=cycle.approval_refusal(uow, slug, r),
            optimality=r.optimality,
        )
        for r in runs
    ]
    metrics, pairs = _metric_rows(columns, [r.out_of_sample for r in runs])

    by_platform = [spend_by_platform(r) for r in runs]
    platforms = sorted({p for b in by_platform for p in b}, key=display.platform_name)
    platform_rows = []
    for platform in platforms:
        spends = [
            b.get(platform, 0.0) if r.found_portfolio else None
            for r, b in zip(runs, by_platform, strict=True)
        ]
        platform_rows.append(
            Row(
                label=display.platform_name(platform),
                values=spends,
                differs=_differ(spends),
                key=platform,
            )
        )

    names = _names(uow, slug, runs)
    option_names = _option_names(runs)
    holdings = [cycle.holdings(r) for r in runs]
    funded = sorted({c for h in holdings for c in h}, key=lambda c: names.get(c, c))
    funding = []
    for candidate in funded:
        held = [h.get(candidate) for h in holdings]
        cells = [
            None if x is None else (option_names.get((candidate, x[0]), x[0]), x[1]) for x in held
        ]
        options = {x[0] if x else None for x in held}
        amounts = [x[1] if x else 0.0 for x in held]
        differs = len(options) > 1 or max(amounts) - min(amounts) > TOLERANCE
        funding.append(
            Row(label=names.get(candidate, candidate), values=cells, differs=differs, key=candidate)
        )
    return Comparison(
        columns=columns,
        metrics=metrics,
        pairs=pairs,
        platforms=platform_rows,
        funding=funding,
        policy=_policy_rows(runs, names),
    )


__all__ = [
    "MAX_RUNS",
    "MIN_RUNS",
    "Column",
    "Comparison",
    "MetricRow",
    "PairNote",
    "Row",
    "compare_runs",
    "count_refusal",
    "spend_by_platform",
]
