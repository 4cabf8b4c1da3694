"""The problem document (``mission-portfolio/problem`` versions 1 and 2) as a pydantic schema.

Version 2 adds money that behaves like money (docs/problem-format.md): `bring_forward`,
`over_programming` and `max_overrun_probability` in the policy, and realised `spend` rows beside
explicit impacts. A version 1 file is read as it always was, and may not use them.

`load_problem` parses JSON text, bytes or a dict and reports *every* error with its JSON path,
e.g. ``candidates[0].options[1].p_success: must be at most 1``. Unknown fields are refused so that
typos are caught rather than silently ignored.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_serializer,
)

from optimiser.errors import ProblemError
from optimiser.pert import ThreePoint

Money = Annotated[float, Field(ge=0)]
Probability = Annotated[float, Field(ge=0, le=1)]
Id = Annotated[str, Field(min_length=1)]
#: the longest a solve may be given, seconds (a day)
MAX_TIME_LIMIT_S = 86_400.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class Mission(_Strict):
    name: str = ""
    target: float = Field(ge=0)
    unit: str = ""
    deadline: str | None = None


class Envelope(_Strict):
    id: Id
    name: str = ""
    budget: dict[str, Money] = Field(default_factory=dict)
    min_spend: Money | None = None


class Option(_Strict):
    """A funding option; its three-point ``impact`` and ``cost_range`` are written with their
    middle value as ``mode`` (``ThreePoint.problem_file``), as the problem format names it."""

    id: Id
    name: str = ""
    cost: Money | dict[str, Money]
    p_success: Probability
    impact: ThreePoint
    cost_range: ThreePoint | None = None

    @field_serializer("impact", "cost_range")
    def _three_point(self, value: ThreePoint | None) -> dict[str, float] | None:
        return value.problem_file() if value is not None else None


class Candidate(_Strict):
    id: Id
    name: str = ""
    platform: str = "default"
    tier: Literal["conventional", "moonshot"] = "conventional"
    organisation: str = ""
    organisation_type: Literal["incumbent", "rising_star"] = "incumbent"
    eligible_envelopes: list[str]
    ncr: bool = False
    treasury_approved: bool = False
    options: list[Option] = Field(min_length=1)


class Policy(_Strict):
    objective: Literal["expected", "capped", "p_target", "cvar"] = "p_target"
    carry_forward: bool = True
    max_platform_share: Probability = 0.5
    min_platforms: int = Field(default=2, ge=0, le=1000)
    min_moonshot_share: Probability = 0.0
    min_rising_star_share: Probability = 0.0
    max_organisation_share: Probability = 1.0
    dal: Money | None = 50.0
    dal_mode: Literal["flag", "cap"] = "flag"
    locks: list[str] = Field(default_factory=list)
    exclusions: list[str] = Field(default_factory=list)
    commitments: list[str] = Field(default_factory=list)
    previous: dict[str, str] = Field(default_factory=dict)
    switching_cost: Money = 0.0
    correlation: float = Field(default=0.5, ge=0, lt=1)
    min_p_any_success: Probability | None = None
    cvar_alpha: float = Field(default=0.9, ge=0, lt=1)
    cvar_lambda: float = Field(default=1.0, ge=0, le=1e6)
    time_limit_s: float = Field(default=60, gt=0, le=MAX_TIME_LIMIT_S)
    gap: float = Field(default=0.0, ge=0, le=1)
    # version 2: money movable between years, deliberate over-programming, overrun risk
    bring_forward: Probability = 0.0
    over_programming: float = Field(default=0.0, ge=0, le=1)
    max_overrun_probability: Probability | None = None


VERSION_2_POLICY = ("bring_forward", "over_programming", "max_overrun_probability")


class SampledScenarios(_Strict):
    count: int = Field(default=2000, ge=1, le=1_000_000)
    seed: int = Field(default=42, ge=0)


class ExplicitScenarios(_Strict):
    impact: dict[str, list[Money]]
    # version 2: per option, one row per scenario of its realised spend in each of `years`
    spend: dict[str, list[list[Money]]] | None = None


def _scenario_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "explicit" if "impact" in value else "sampled"
    return "explicit" if isinstance(value, ExplicitScenarios) else "sampled"


class Evaluation(_Strict):
    count: int = Field(default=20000, ge=1, le=10_000_000)
    seed: int = Field(default=7, ge=0)


class Problem(_Strict):
    format: Literal["mission-portfolio/problem"] = "mission-portfolio/problem"
    version: Literal[1, 2] = 1
    mission: Mission
    years: list[Id] = Field(min_length=1)
    envelopes: list[Envelope] = Field(min_length=1)
    candidates: list[Candidate]
    policy: Policy = Field(default_factory=Policy)
    scenarios: Annotated[
        Annotated[SampledScenarios, Tag("sampled")] | Annotated[ExplicitScenarios, Tag("explicit")],
        Discriminator(_scenario_kind),
    ] = Field(default_factory=SampledScenarios)
    evaluation: Evaluation = Field(default_factory=Evaluation)

    def option_keys(self) -> list[str]:
        """Every option as ``candidate/option``, in document order."""
        return [f"{c.id}/{o.id}" for c in self.candidates for o in c.options]


def load_problem(source: str | bytes | dict[str, Any]) -> Problem:
    """Parse and check a problem document; raise `ProblemError` listing every error found."""
    if isinstance(source, str | bytes):
        non_finite: list[str] = []

        def constant(name: str) -> float:  # NaN, Infinity, -Infinity: Python's json takes them
            non_finite.append(name)
            return float(name)

        try:
            document = json.loads(source, parse_constant=constant)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ProblemError("", f"not valid JSON ({exc})") from None
        except ValueError:  # an integer longer than int() accepts (4,300 digits)
            raise ProblemError("", "not valid JSON (a number has too many digits)") from None
        except RecursionError:
            raise ProblemError("", "not valid JSON (nested too deeply)") from None
        walk = bool(non_finite)  # name the fields of the non-finite numbers
    else:
        document, walk = source, not _all_finite(source)
    bad = _non_finite_paths(document, "") if walk else []
    if bad:
        raise ProblemError.from_errors([(p, "must be a finite number") for p in bad])
    if not isinstance(document, dict):
        raise ProblemError("", "the document must be a JSON object")
    try:
        problem = Problem.model_validate(document)
    except ValidationError as exc:
        described = list(dict.fromkeys(_describe(e) for e in exc.errors()))
        raise ProblemError.from_errors(_one_per_path(described)) from None
    errors = check_references(problem)
    if errors:
        raise ProblemError.from_errors(errors)
    return problem


def check_references(problem: Problem) -> list[tuple[str, str]]:
    """Rules that span fields: unique ids, known years/envelopes/options, lock vs exclusion."""
    errors: list[tuple[str, str]] = []
    years = set(problem.years)
    _duplicates(errors, "years", problem.years)
    envelope_ids = [e.id for e in problem.envelopes]
    _duplicates(errors, "envelopes", envelope_ids, ".id")
    for j, env in enumerate(problem.envelopes):
        for year in env.budget:
            if year not in years:
                errors.append((f"envelopes[{j}].budget.{year}", "is not one of the years"))
    _duplicates(errors, "candidates", [c.id for c in problem.candidates], ".id")
    known_envelopes = set(envelope_ids)
    options: dict[str, set[str]] = {}
    for i, cand in enumerate(problem.candidates):
        if "/" in cand.id:
            errors.append((f"candidates[{i}].id", "must not contain '/'"))
        options[cand.id] = {o.id for o in cand.options}
        _duplicates(errors, f"candidates[{i}].options", [o.id for o in cand.options], ".id")
        for j, ref in enumerate(cand.eligible_envelopes):
            if ref not in known_envelopes:
                errors.append(
                    (f"candidates[{i}].eligible_envelopes[{j}]", f"'{ref}' is not an envelope id")
                )
        for j, opt in enumerate(cand.options):
            if "/" in opt.id:
                errors.append((f"candidates[{i}].options[{j}].id", "must not contain '/'"))
            if isinstance(opt.cost, dict):
                for year in opt.cost:
                    if year not in years:
                        errors.append(
                            (f"candidates[{i}].options[{j}].cost.{year}", "is not one of the years")
                        )
    policy = problem.policy
    for field in ("locks", "exclusions", "commitments"):
        for j, ref in enumerate(getattr(policy, field)):
            rule = _reference_rule(ref, options)
            if rule:
                errors.append((f"policy.{field}[{j}]", rule))
    for cand_id, opt_id in policy.previous.items():
        rule = _reference_rule(f"{cand_id}/{opt_id}", options)
        if rule:
            errors.append((f"policy.previous.{cand_id}", rule))
    must_fund = {*policy.locks, *policy.commitments}
    for j, ref in enumerate(policy.exclusions):
        cand_id = ref.split("/")[0]
        clash = sorted(
            r for r in must_fund if r == ref or ("/" not in ref and r.split("/")[0] == cand_id)
        )
        if clash:
            errors.append(
                (
                    f"policy.exclusions[{j}]",
                    f"'{ref}' is also locked or committed ({', '.join(clash)})",
                )
            )
    if isinstance(problem.scenarios, ExplicitScenarios):
        errors.extend(_check_explicit(problem))
    errors.extend(_check_version(problem))
    return errors


def _check_version(problem: Problem) -> list[tuple[str, str]]:
    """Version 2 fields need version 2; bring_forward needs carry_forward."""
    errors: list[tuple[str, str]] = []
    policy = problem.policy
    if problem.version == 1:
        for name in VERSION_2_POLICY:
            if getattr(policy, name) not in (None, 0):  # an explicit 0 or null changes nothing
                errors.append((f"policy.{name}", 'is a version 2 field: set "version": 2'))
        scenarios = problem.scenarios
        if isinstance(scenarios, ExplicitScenarios) and scenarios.spend is not None:
            errors.append(("scenarios.spend", 'is a version 2 field: set "version": 2'))
    if policy.bring_forward > 0 and not policy.carry_forward:
        errors.append(
            (
                "policy.bring_forward",
                "must be 0 when policy.carry_forward is false (money can be brought forward "
                "only where it can also be carried forward)",
            )
        )
    return errors


def _check_explicit(problem: Problem) -> list[tuple[str, str]]:
    assert isinstance(problem.scenarios, ExplicitScenarios)
    impact = problem.scenarios.impact
    errors: list[tuple[str, str]] = []
    expected = problem.option_keys()
    for key in expected:
        if key not in impact:
            errors.append((f"scenarios.impact.{key}", "is required (one row per option)"))
    for key in impact:
        if key not in set(expected):
            errors.append((f"scenarios.impact.{key}", "is not a candidate/option of this problem"))
    lengths = {len(v) for v in impact.values()}
    if len(lengths) > 1:
        errors.append(("scenarios.impact", "every option must have the same number of scenarios"))
    elif lengths == {0}:
        errors.append(("scenarios.impact", "needs at least one scenario"))
    spend = problem.scenarios.spend or {}
    count = next(iter(lengths)) if len(lengths) == 1 else None
    for key, rows in spend.items():
        if key not in set(expected):
            errors.append((f"scenarios.spend.{key}", "is not a candidate/option of this problem"))
            continue
        if count is not None and len(rows) != count:
            errors.append(
                (
                    f"scenarios.spend.{key}",
                    f"must have one row per scenario ({count}, as in scenarios.impact)",
                )
            )
        for s, row in enumerate(rows):
            if len(row) != len(problem.years):
                errors.append(
                    (
                        f"scenarios.spend.{key}[{s}]",
                        f"must give the spend in each of the {len(problem.years)} years",
                    )
                )
                break
    return errors


def _reference_rule(ref: str, options: dict[str, set[str]]) -> str | None:
    cand_id, _, opt_id = ref.partition("/")
    if cand_id not in options:
        return f"'{cand_id}' is not a candidate id"
    if "/" in ref and opt_id not in options[cand_id]:
        return f"'{opt_id}' is not an option of candidate '{cand_id}'"
    return None


def _duplicates(errors: list[tuple[str, str]], path: str, ids: list[str], suffix: str = "") -> None:
    seen: set[str] = set()
    for j, value in enumerate(ids):
        if value in seen:
            errors.append((f"{path}[{j}]{suffix}", f"duplicate id '{value}'"))
        seen.add(value)


def _all_finite(document: Any) -> bool:
    """True when serialising finds no NaN or infinity (C speed); False may also mean "not JSON"."""
    try:
        json.dumps(document, allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        return False
    return True


def _non_finite_paths(value: Any, path: str) -> list[str]:
    """Paths of the NaN / infinite floats in ``value``, in document order (iterative, so hostile
    nesting cannot exhaust the stack)."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        here, node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            found.append(here)
        elif isinstance(node, dict):
            stack.extend((_join(here, str(k)), v) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((f"{here}[{j}]", v) for j, v in reversed(list(enumerate(node))))
    return found


def _one_per_path(errors: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: set[str] = set()
    kept = []
    paths = [p for p, _ in errors]
    for path, rule in errors:
        deeper = any(q.startswith((f"{path}.", f"{path}[")) for q in paths)
        if path not in seen and not deeper:
            kept.append((path, rule))
            seen.add(path)
    return kept


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


_UNION_TAGS = {"sampled", "explicit", "float", "constrained-float"}


def _describe(error: Any) -> tuple[str, str]:
    path = ""
    for part in error["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in _UNION_TAGS or str(part).startswith(("function-", "dict[", "list[")):
            continue
        else:
            path = _join(path, str(part))
    ctx = error.get("ctx") or {}
    kind = error["type"]
    rules = {
        "missing": "is required",
        "extra_forbidden": "is not a known field (check the spelling)",
        "greater_than_equal": f"must be at least {_num(ctx.get('ge'))}",
        "greater_than": f"must be greater than {_num(ctx.get('gt'))}",
        "less_than_equal": f"must be at most {_num(ctx.get('le'))}",
        "less_than": f"must be less than {_num(ctx.get('lt'))}",
        "finite_number": "must be a finite number",
        "too_short": "must not be empty",
        "string_too_short": "must not be empty",
    }
    if kind in rules:
        rule = rules[kind]
        if kind in ("less_than_equal", "greater_than_equal") and "p_success" in path:
            rule = "must be between 0 and 1"
    elif kind == "literal_error":
        rule = f"must be {ctx.get('expected')}"
    elif kind == "value_error":
        rule = str(ctx.get("error", error["msg"]))
    else:
        rule = str(error["msg"]).lower()
    return path, rule
