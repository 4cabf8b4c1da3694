"""Cooke's classical model: weight experts by calibration × information on seed questions.

Follows the conventions of EXCALIBUR and anduryl so the numbers agree with them (issue 4):

- quantiles 5 / 50 / 95 %; the inter-quantile bins have p = (0.05, 0.45, 0.45, 0.05); a
  realisation equal to a quantile falls in the **lower** bin;
- calibration C(e) = 1 − F_χ²(3)(2 N I(s, p)), I(s, p) = Σ_{s_j>0} s_j ln(s_j / p_j), with s the
  expert's empirical bin frequencies (counts over the seed items the expert answered, divided by
  how many that is, as anduryl does) and N the fewest seed items any expert answered;
- information against a uniform background on each item's intrinsic range [L*, U*]:
  L, U = min and max of every expert's quantiles and the realisation, L* = L − k(U − L),
  U* = U + k(U − L), k = 0.1; an expert's density is uniform between consecutive points
  x = (L*, q5, q50, q95, U*), so I_item = Σ_j p_j ln(p_j / ((x_{j+1} − x_j) / (U* − L*)));
  an expert's information score is the mean over the seed items they answered;
- global weights ∝ C · Info · 1{C ≥ α}; the decision maker (DM) is the weighted mixture of the
  experts' piecewise-linear CDFs through (L*, 0), (q5, .05), (q50, .5), (q95, .95), (U*, 1),
  inverted exactly for its quantiles (experts who did not answer an item are left out of that
  item's mixture and the others' weights renormalised); the DM is scored like an expert on the
  same intrinsic ranges; "optimise" tries α = each expert's calibration score (α = 0 gives the
  same DM as the smallest of them) and keeps the DM with the largest C(DM) · Info(DM), the
  smallest such α on ties;
- an item on the "log" scale is transformed with ln before everything (ranges, overshoot,
  information, DM) and its DM quantiles transformed back, as anduryl does.

Warnings (``classical_warnings``, in the result's ``warnings`` and on the seed-questions and
council pages): when one expert takes more than ``MAX_WEIGHT_SHARE`` = 80 % of the weight (the
decision maker then rests on a single person), and when fewer than ``MIN_SEED_ITEMS`` = 8 seed
items have a known realisation (calibration scores on so few items cannot tell experts apart: with
5 seeds one lucky answer decides the weights). The model still runs; the warnings say how far to
trust it.

Everything here is pure; the command line (``api/cli/council.py``) reads the file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from portfolio.domain.errors import InvalidInput
from portfolio.domain.model import SeedAnswer, SeedQuestion

QUANTILES = (0.05, 0.5, 0.95)
BIN_P = (0.05, 0.45, 0.45, 0.05)
OVERSHOOT = 0.1
FORMAT = "mission-portfolio/elicitation"
MAX_WEIGHT_SHARE = 0.8
"""More than this share of the weight on one expert is warned about."""
MIN_SEED_ITEMS = 8
"""Fewer seed items (with a known realisation) than this are warned about."""

Triple = tuple[float, float, float]


# -- the elicitation file ------------------------------------------------------------------------


def _increasing(value: Triple) -> Triple:
    if not value[0] < value[1] < value[2]:
        raise ValueError("quantiles must increase strictly: q5 < q50 < q95")
    return value


def _standard_quantiles(value: list[float]) -> list[float]:
    if value != list(QUANTILES):
        raise ValueError("must be exactly [0.05, 0.5, 0.95]")
    return value


FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Assessment = Annotated[tuple[FiniteFloat, FiniteFloat, FiniteFloat], AfterValidator(_increasing)]


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ElicitationItem(_Document):
    """A question: a seed item when its realization is known, a target item when it is null."""

    id: str = Field(min_length=1, max_length=200)
    realization: FiniteFloat | None = None
    scale: Literal["uniform", "log"] = "uniform"
    assessments: dict[Annotated[str, Field(min_length=1)], Assessment] = Field(min_length=1)

    @property
    def is_seed(self) -> bool:
        return self.realization is not None


class ElicitationDocument(_Document):
    """``mission-portfolio/elicitation`` version 1: experts' 5/50/95 % quantiles per item."""

    format: Literal["mission-portfolio/elicitation"]
    version: Literal[1]
    quantiles: Annotated[list[float], AfterValidator(_standard_quantiles)]
    experts: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    items: list[ElicitationItem] = Field(min_length=1)


def check_elicitation(document: ElicitationDocument) -> list[tuple[str, str]]:
    """Rules across fields, as (field path, rule) pairs; empty when the document is usable."""
    errors: list[tuple[str, str]] = []
    experts = document.experts
    seen: set[str] = set()
    for i, expert in enumerate(experts):
        if expert in seen:
            errors.append((f"experts.{i}", f"expert {expert!r} is listed twice"))
        seen.add(expert)
    ids: set[str] = set()
    for i, item in enumerate(document.items):
        if item.id in ids:
            errors.append((f"items.{i}.id", f"item id {item.id!r} is used twice"))
        ids.add(item.id)
        for expert in item.assessments:
            if expert not in seen:
                errors.append(
                    (f"items.{i}.assessments", f"names expert {expert!r}, who is not in experts")
                )
        if item.scale == "log":
            if any(v <= 0 for q in item.assessments.values() for v in q):
                errors.append((f"items.{i}.assessments", "a log-scale item needs quantiles > 0"))
            if item.realization is not None and item.realization <= 0:
                errors.append((f"items.{i}.realization", "a log-scale item needs a value > 0"))
    for i, expert in enumerate(experts):
        if not any(item.is_seed and expert in item.assessments for item in document.items):
            errors.append(
                (
                    f"experts.{i}",
                    f"expert {expert!r} answers no seed item (an item with a realization); "
                    "every expert must answer at least one",
                )
            )
    return errors


def parse_elicitation(data: Any) -> ElicitationDocument:
    """Validate a decoded elicitation file; raises InvalidInput naming every broken field."""
    try:
        document = ElicitationDocument.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc) from None
    errors = check_elicitation(document)
    if errors:
        raise InvalidInput(errors)
    return document


def elicitation_from_seeds(
    questions: Sequence[SeedQuestion], answers: Sequence[SeedAnswer]
) -> dict[str, Any]:
    """The elicitation document of a mission's seed questions and its members' answers.

    Experts are the members who answered at least one question with a known realization (the
    classical model cannot score anyone else), in the order of their first answer; items are the
    questions somebody answered, in the order given. Validate it with :func:`parse_elicitation`
    (or pass it straight to :func:`classical_model`).
    """
    seeds = {q.id for q in questions if q.realization is not None}
    experts: list[str] = []
    for a in answers:
        if a.question in seeds and a.member not in experts:
            experts.append(a.member)
    items = []
    for q in questions:
        given = {a.member: [a.q5, a.q50, a.q95] for a in answers if a.question == q.id}
        given = {m: v for m, v in given.items() if m in experts}
        if given:
            items.append(
                {"id": q.id, "realization": q.realization, "scale": q.scale, "assessments": given}
            )
    return {
        "format": FORMAT,
        "version": 1,
        "quantiles": list(QUANTILES),
        "experts": experts,
        "items": items,
    }


# -- scores --------------------------------------------------------------------------------------


def chi2_cdf_3(x: float) -> float:
    """F(x; 3) = erf(√(x/2)) − √(2x/π) e^(−x/2), the χ² CDF with 3 degrees of freedom."""
    if x <= 0:
        return 0.0
    return math.erf(math.sqrt(x / 2)) - math.sqrt(2 * x / math.pi) * math.exp(-x / 2)


def chi2_sf_3(x: float) -> float:
    """1 − F(x; 3) = erfc(√(x/2)) + √(2x/π) e^(−x/2), without cancellation for large x."""
    if x <= 0:
        return 1.0
    value = math.erfc(math.sqrt(x / 2)) + math.sqrt(2 * x / math.pi) * math.exp(-x / 2)
    return min(max(value, 0.0), 1.0)


def relative_information(s: Sequence[float], p: Sequence[float] = BIN_P) -> float:
    """I(s, p) = Σ_{s_j>0} s_j ln(s_j / p_j)."""
    return math.fsum(sj * math.log(sj / pj) for sj, pj in zip(s, p, strict=True) if sj > 0)


def calibration_score(counts: Sequence[int], n_min: int) -> float:
    """C = 1 − F_χ²(3)(2 N I(s, p)) with s = counts / Σ counts and N = ``n_min``."""
    total = sum(counts)
    if total == 0:
        raise ValueError("counts: calibration needs at least one seed item")
    s = [c / total for c in counts]
    return chi2_sf_3(2 * n_min * relative_information(s))


def realization_bin(quantiles: Triple, realization: float) -> int:
    """Index 0-3 of the inter-quantile bin holding the realisation; ties go to the lower bin."""
    return sum(1 for q in quantiles if realization > q)


def intrinsic_range(values: Sequence[float], k: float = OVERSHOOT) -> tuple[float, float]:
    """[L*, U*] = [L − k(U − L), U + k(U − L)] with L, U the min and max of ``values``."""
    low, high = min(values), max(values)
    return low - k * (high - low), high + k * (high - low)


def item_information(quantiles: Triple, lower: float, upper: float) -> float:
    """Σ_j p_j ln(p_j / ((x_{j+1} − x_j) / (U* − L*))), x = (L*, q5, q50, q95, U*)."""
    x = (lower, *quantiles, upper)
    width = upper - lower
    return math.fsum(pj * math.log(pj * width / (x[j + 1] - x[j])) for j, pj in enumerate(BIN_P))


# -- the model -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """An item on its background scale (ln applied for log items) with its intrinsic range."""

    id: str
    log: bool
    realization: float | None
    lower: float
    upper: float
    assessments: dict[str, Triple]


def _prepare(document: ElicitationDocument) -> list[_Item]:
    items = []
    for item in document.items:
        f = math.log if item.scale == "log" else float
        assessments = {e: (f(q[0]), f(q[1]), f(q[2])) for e, q in item.assessments.items()}
        realization = None if item.realization is None else f(item.realization)
        values = [v for q in assessments.values() for v in q]
        if realization is not None:
            values.append(realization)
        lower, upper = intrinsic_range(values)
        items.append(_Item(item.id, item.scale == "log", realization, lower, upper, assessments))
    return items


@dataclass(frozen=True)
class _Scored:
    calibration: float
    information: float


def _score(answers: Mapping[str, Triple], items: Sequence[_Item], n_min: int) -> _Scored:
    """Calibration and mean information over the seed items in ``answers`` (item id → q)."""
    counts = [0, 0, 0, 0]
    infos = []
    for item in items:
        if item.realization is None or item.id not in answers:
            continue
        q = answers[item.id]
        counts[realization_bin(q, item.realization)] += 1
        infos.append(item_information(q, item.lower, item.upper))
    return _Scored(calibration_score(counts, n_min), math.fsum(infos) / len(infos))


def _interp(x: float, xp: Sequence[float], fp: Sequence[float]) -> float:
    """Linear interpolation in increasing ``xp``, clamped at the ends."""
    if x <= xp[0]:
        return fp[0]
    for i in range(1, len(xp)):
        if x <= xp[i]:
            t = (x - xp[i - 1]) / (xp[i] - xp[i - 1])
            return fp[i - 1] + t * (fp[i] - fp[i - 1])
    return fp[-1]


def _expert_cdf(item: _Item, q: Triple) -> tuple[list[float], list[float]]:
    return [item.lower, *q, item.upper], [0.0, *QUANTILES, 1.0]


def _dm_quantiles(item: _Item, weights: Mapping[str, float]) -> Triple | None:
    """Quantiles of the weighted mixture of the answering experts' CDFs, on the background scale.

    The mixture is piecewise linear between the union of every answering expert's points and
    strictly increasing on [L*, U*], so it is inverted exactly by interpolation. None when no
    expert with a positive weight answered the item.
    """
    answering = {e: w for e, w in weights.items() if w > 0 and e in item.assessments}
    total = math.fsum(answering.values())
    if total <= 0:
        return None
    xs = sorted({item.lower, item.upper, *(v for q in item.assessments.values() for v in q)})
    mixture = [0.0] * len(xs)
    for expert, w in answering.items():
        xp, fp = _expert_cdf(item, item.assessments[expert])
        for i, x in enumerate(xs):
            mixture[i] += w / total * _interp(x, xp, fp)
    q5, q50, q95 = (_interp(level, mixture, xs) for level in QUANTILES)
    return q5, q50, q95


class ExpertResult(BaseModel):
    calibration: float
    information: float
    weight: float


class DecisionMakerResult(BaseModel):
    calibration: float
    information: float
    quantiles: dict[str, list[float] | None]


class ClassicalResult(BaseModel):
    """The classical model's answer; ``alpha`` is None for equal weights (no cut-off).
    ``warnings`` are ``classical_warnings`` in words (empty when there is nothing to warn of)."""

    alpha: float | None
    experts: dict[str, ExpertResult]
    decision_maker: DecisionMakerResult
    seed_items: int
    warnings: list[str]


def classical_warnings(
    weights: Mapping[str, float], seed_items: int, names: Mapping[str, str] | None = None
) -> list[str]:
    """What to be wary of in a classical-model result, in words: one expert with more than
    ``MAX_WEIGHT_SHARE`` of the weight, fewer than ``MIN_SEED_ITEMS`` seed items. ``names``
    (expert id → the name people read) names the expert; the id otherwise."""
    out = []
    for expert, weight in weights.items():
        if weight > MAX_WEIGHT_SHARE:
            name = (names or {}).get(expert, expert)
            out.append(
                f"{name} takes {weight * 100:.0f} % of the weight (more than "
                f"{MAX_WEIGHT_SHARE * 100:.0f} %): "
                "the decision maker rests on one member. Check their answers, or pool with "
                "equal weights."
            )
    if seed_items < MIN_SEED_ITEMS:
        questions = "question has" if seed_items == 1 else "questions have"
        out.append(
            f"Only {seed_items} seed {questions} a known answer (at least {MIN_SEED_ITEMS} are "
            "needed): calibration scores on so few questions cannot tell members apart "
            "reliably, so treat the weights as provisional."
        )
    return out


@dataclass(frozen=True)
class _Dm:
    quantiles: dict[str, Triple | None]
    scored: _Scored

    @property
    def combined(self) -> float:
        return self.scored.calibration * self.scored.information


def _decision_maker(items: Sequence[_Item], weights: Mapping[str, float], n_min: int) -> _Dm:
    quantiles = {item.id: _dm_quantiles(item, weights) for item in items}
    answered = {k: q for k, q in quantiles.items() if q is not None}
    return _Dm(quantiles, _score(answered, items, n_min))


def _global_weights(scores: Mapping[str, _Scored], alpha: float) -> dict[str, float]:
    raw = {
        e: s.calibration * s.information if s.calibration >= alpha else 0.0
        for e, s in scores.items()
    }
    total = math.fsum(raw.values())
    return {e: (w / total if total > 0 else 0.0) for e, w in raw.items()}


def _optimised_alpha(
    items: list[_Item], scores: dict[str, _Scored], n_min: int
) -> tuple[float, dict[str, float], _Dm]:
    """The cut-off α (one of the experts' calibration scores) whose decision maker has the
    largest calibration × information, the smallest such α on ties."""
    best: tuple[float, dict[str, float], _Dm] | None = None
    for candidate in sorted({s.calibration for s in scores.values()}):
        w = _global_weights(scores, candidate)
        if not any(v > 0 for v in w.values()):
            continue
        trial = _decision_maker(items, w, n_min)
        if best is None or trial.combined > best[2].combined:
            best = (candidate, w, trial)
    if best is None:
        raise InvalidInput.single(
            "experts",
            "every expert has calibration × information 0, so none can be weighted; "
            "use equal weights",
        )
    return best


def _choose_weights(
    items: list[_Item],
    scores: dict[str, _Scored],
    n_min: int,
    alpha: Literal["optimise"] | float,
    weights: Literal["global", "equal"],
) -> tuple[float | None, dict[str, float], _Dm]:
    """(α used, each expert's weight, the decision maker) for the weighting asked for."""
    if weights == "equal":
        expert_weights = {e: 1 / len(scores) for e in scores}
        return None, expert_weights, _decision_maker(items, expert_weights, n_min)
    if alpha == "optimise":
        return _optimised_alpha(items, scores, n_min)
    top = max(s.calibration for s in scores.values())
    if alpha > top:
        raise InvalidInput.single(
            "alpha",
            f"{alpha} is above every expert's calibration score (the highest is {top:.6g}), "
            "so no expert would have weight; choose a lower value",
        )
    expert_weights = _global_weights(scores, alpha)
    if not any(v > 0 for v in expert_weights.values()):
        raise InvalidInput.single(
            "alpha", "no expert above this α has information × calibration > 0"
        )
    return alpha, expert_weights, _decision_maker(items, expert_weights, n_min)


def run_classical_model(
    document: ElicitationDocument | Mapping[str, Any],
    alpha: Literal["optimise"] | float = "optimise",
    weights: Literal["global", "equal"] = "global",
) -> ClassicalResult:
    """Score the experts on the seed items and build the decision maker. See the module doc.

    Raises InvalidInput for a malformed document, an α outside [0, 1) or above every expert's
    calibration score, or an unknown weighting.
    """
    if isinstance(document, ElicitationDocument):
        errors = check_elicitation(document)
        if errors:
            raise InvalidInput(errors)
    else:
        document = parse_elicitation(document)
    if weights not in ("global", "equal"):
        raise InvalidInput.single("weights", "must be 'global' or 'equal'")
    if alpha != "optimise" and (
        isinstance(alpha, str) or not math.isfinite(alpha) or not 0 <= alpha < 1
    ):
        raise InvalidInput.single("alpha", "must be 'optimise' or a number in [0, 1)")

    items = _prepare(document)
    answers = {
        e: {item.id: item.assessments[e] for item in items if e in item.assessments}
        for e in document.experts
    }
    seeds_answered = {
        e: sum(1 for item in items if item.realization is not None and e in item.assessments)
        for e in document.experts
    }
    n_min = min(seeds_answered.values())
    scores = {e: _score(answers[e], items, n_min) for e in document.experts}

    chosen_alpha, expert_weights, dm = _choose_weights(items, scores, n_min, alpha, weights)

    log_items = {item.id for item in items if item.log}
    seed_items = sum(1 for item in items if item.realization is not None)
    return ClassicalResult(
        alpha=chosen_alpha,
        experts={
            e: ExpertResult(
                calibration=s.calibration, information=s.information, weight=expert_weights[e]
            )
            for e, s in scores.items()
        },
        decision_maker=DecisionMakerResult(
            calibration=dm.scored.calibration,
            information=dm.scored.information,
            quantiles={
                k: None if q is None else [math.exp(v) if k in log_items else v for v in q]
                for k, q in dm.quantiles.items()
            },
        ),
        seed_items=seed_items,
        warnings=classical_warnings(expert_weights, seed_items),
    )


def classical_model(
    document: ElicitationDocument | Mapping[str, Any],
    alpha: Literal["optimise"] | float = "optimise",
    weights: Literal["global", "equal"] = "global",
) -> dict[str, Any]:
    """:func:`run_classical_model` as the plain JSON the CLI prints (issue 4's shape, with the
    number of seed items and the warnings added by issue 18)."""
    return run_classical_model(document, alpha, weights).model_dump(mode="json")


def parse_alpha(text: str) -> Literal["optimise"] | float:
    """``--alpha``: "optimise" (or "optimize") or a number in [0, 1)."""
    if text.strip().lower() in ("optimise", "optimize"):
        return "optimise"
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput.single("alpha", "must be 'optimise' or a number in [0, 1)") from None
    if not math.isfinite(value) or not 0 <= value < 1:
        raise InvalidInput.single("alpha", "must be 'optimise' or a number in [0, 1)")
    return value
