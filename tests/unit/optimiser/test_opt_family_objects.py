"""Each constraint family is one object: its MILP rows and its check agree, its branch-and-bound
test never cuts a selection its check admits, its price-of-policy relaxation loosens it; and the
switching cost is the same through the MILP objective, `objectives.py`, the local search's
vectorised form and the branch and bound's per-candidate charges."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from optimiser.analytics.policy_price import relaxations_of
from optimiser.data import FloatArray, ProblemData, problem_data
from optimiser.families import (
    FAMILIES,
    Budget,
    Commitment,
    Dal,
    Eligibility,
    Exclusion,
    Family,
    Flows,
    Lock,
    MaxOverrunProbability,
    MinPAnySuccess,
    MinPlatforms,
    MinSpend,
    MoonshotShare,
    OneOption,
    OrganisationShare,
    Partial,
    PlatformShare,
    RisingStarShare,
    SwitchingCost,
)
from optimiser.feasibility import SelectionChecker
from optimiser.highs import INFEASIBLE
from optimiser.lpmodel import Model, linear
from optimiser.milp import run_milp
from optimiser.model import build_model
from optimiser.objectives import objective_value, raw_value, switching_penalty, tie_break_weights
from optimiser.problem import load_problem
from optimiser.scenarios import Scenarios, optimisation_scenarios
from optimiser.search import charges
from optimiser.solvers import BulkHiGHS, load_highs

from .opt_factories import random_document, random_document_v2

INSTANCES = 5  # random instances on which each family is active
SELECTIONS = 48  # selections tried on each

# the family under test (last), with the families its rows need beside it: one option per
# candidate and the funding flows are always in; the split LP that checks the money families
# cannot fund an option without an eligible envelope, which the MILP leaves to `Eligibility`;
# the overrun rows' big-M assumes the budget rows
CASES: dict[str, tuple[type[Family], ...]] = {
    "one_option": (OneOption,),
    "eligibility": (Eligibility,),
    "budget": (Eligibility, Budget),
    "min_spend": (Eligibility, MinSpend),
    "budget+min_spend": (Eligibility, Budget, MinSpend),
    "dal": (Dal,),
    "platform_share": (PlatformShare,),
    "min_platforms": (MinPlatforms,),
    "moonshot_share": (MoonshotShare,),
    "rising_star_share": (RisingStarShare,),
    "organisation_share": (OrganisationShare,),
    "lock": (Lock,),
    "exclusion": (Exclusion,),
    "commitment": (Commitment,),
    "min_p_any_success": (MinPAnySuccess,),
    "max_overrun_probability": (Eligibility, Budget, MaxOverrunProbability),
}


def _document(seed: int) -> dict[str, Any]:
    """A random instance; every third one without an eligible envelope for its first candidate
    (so the eligibility rows have something to forbid)."""
    doc = random_document_v2(seed, "expected") if seed % 2 else random_document(seed, "expected")
    if seed % 3 == 0 and doc["candidates"]:
        doc["candidates"][0]["eligible_envelopes"] = []
    return doc


def _instances(families: tuple[type[Family], ...]) -> Iterator[tuple[ProblemData, Scenarios]]:
    """Random instances on which the family under test (the last of `families`) is active."""
    found = 0
    for seed in range(400):
        data = problem_data(load_problem(_document(seed)))
        scenarios = optimisation_scenarios(data)
        if families[-1](data, scenarios).active:
            found += 1
            yield data, scenarios
        if found == INSTANCES:
            return
    raise AssertionError(f"{families[-1].name} is active on only {found} instances")


def _selections(data: ProblemData, seed: int) -> FloatArray:
    """0/1 selections: one option per candidate (all of them when few) and some that are not."""
    rng = np.random.default_rng(seed)
    choices = [[-1, *data.options_of(i).tolist()] for i in range(data.n_candidates)]
    combos = list(itertools.product(*choices))
    if len(combos) > SELECTIONS:
        combos = [combos[j] for j in rng.choice(len(combos), SELECTIONS, replace=False)]
    xs = np.zeros((len(combos) + 8, data.n_options))
    for row, combo in enumerate(combos):
        xs[row, [k for k in combo if k >= 0]] = 1.0
    xs[len(combos) :] = rng.random((8, data.n_options)) < 0.4
    return xs


def _milp_admits(m: Model, xs: FloatArray) -> list[bool]:
    """Whether the MILP has a solution with x fixed at each row of xs."""
    m.prob.setObjective(linear(m.xs, np.ones(len(m.x))))  # any objective with every x in it
    h, _ = load_highs(m, {"output_flag": False}, BulkHiGHS(start=None, on_event=None))
    cols = np.array([v.index for v in m.x], dtype=np.int32)
    admitted = []
    for x in xs:
        h.changeColsBounds(len(cols), cols, x, x)
        h.run()
        status = h.getModelStatus()
        assert status in INFEASIBLE or status.name == "kOptimal", status
        admitted.append(status not in INFEASIBLE)
    return admitted


@pytest.mark.parametrize("case", list(CASES))
def test_the_milp_rows_and_the_check_of_each_family_admit_the_same_selections(case: str) -> None:
    """MILP-feasible ⇔ checker-feasible, on every selection tried, family by family."""
    families = CASES[case]
    for seed, (data, scenarios) in enumerate(_instances(families)):
        model_families: tuple[type[Family], ...] = (OneOption, Flows, *families)
        m = build_model(data, scenarios, families=model_families)
        checker = SelectionChecker(data, scenarios, families=(OneOption, *families))
        xs = _selections(data, seed)
        by_milp = _milp_admits(m, xs)
        for x, admitted in zip(xs, by_milp, strict=True):
            broken = checker.violations(x)
            assert admitted == (not broken), (case, data.selection_dict(x), broken)


def test_every_family_of_the_registry_is_tried() -> None:
    tried = {f for families in CASES.values() for f in families}
    not_rules = {Flows, SwitchingCost}  # structure and an objective term: nothing to check
    assert tried | not_rules == set(FAMILIES)


BOUNDED = [f for f in FAMILIES if f.bound_columns is not Family.bound_columns]
PRICED = [f for f in FAMILIES if f.relaxations.__func__ is not Family.relaxations.__func__]  # type: ignore[attr-defined]


def test_the_bounded_and_priced_families() -> None:
    assert [f.name for f in BOUNDED] == [
        "budget",
        "min_spend",
        "platform_share",
        "moonshot_share",
        "rising_star_share",
        "organisation_share",
    ]
    assert [f.name for f in PRICED] == [
        "eligibility",
        "min_spend",
        "dal",
        "platform_share",
        "min_platforms",
        "moonshot_share",
        "rising_star_share",
        "organisation_share",
        "lock",
        "exclusion",
        "min_p_any_success",
    ]


@pytest.mark.parametrize("family", BOUNDED, ids=lambda f: f.name)
def test_a_family_bound_never_cuts_a_partial_selection_its_check_can_complete(
    family: type[Family],
) -> None:
    """For each selection the family's check admits, and any set of its candidates already
    decided, the bound with what the others could still add keeps the partial selection."""
    for seed, (data, scenarios) in enumerate(_instances((family,))):
        rule = family(data, scenarios)
        checker = SelectionChecker(data, scenarios, families=(OneOption, family))
        columns = rule.bound_columns()
        assert columns is not None
        spend_cols = np.concatenate([data.total_cost[:, None], columns], axis=1)
        money = data.planned_total + 1e-7 * (1.0 + data.planned_total)
        rng = np.random.default_rng(seed)
        for x in _selections(data, seed):
            if checker.violations(x) or x @ data.total_cost > money:  # the tree's budget test
                continue
            undecided = rng.random(data.n_candidates) < 0.5
            decided_x = x * ~undecided[data.candidate_of]
            # the most each column can still grow by: each undecided candidate's largest option
            rest = np.zeros(spend_cols.shape[1])
            for i in np.flatnonzero(undecided):
                rest += spend_cols[data.options_of(int(i))].max(axis=0, initial=0.0)
            spend = decided_x @ spend_cols
            total = np.array([spend[0]])
            left = np.array([money - spend[0]])
            more = np.minimum(left, rest[0])
            part = Partial(spend[None, 1:], rest[1:], total, left, more, 1e-7 * (1 + total + more))
            assert rule.bound_holds(part)[0], (family.name, data.selection_dict(x))


def test_every_price_of_policy_relaxation_admits_what_the_rule_admitted() -> None:
    """Each family's relaxations are the price of policy's rows, each relaxed problem's check
    admits every selection the original's did, and a policy-wide relaxation switches its family
    off."""
    seen = set()
    for seed in range(60):
        problem = load_problem(_document(seed))
        data = problem_data(problem)
        scenarios = optimisation_scenarios(data)
        own = [(f, r) for f in FAMILIES for r in f.relaxations(problem)]
        priced = relaxations_of(problem)
        assert sorted((r.rule, r.key) for _, r in own) == sorted((r.rule, r.key) for r in priced)
        for family, relaxation in own:
            seen.add(family)
            relaxed = problem_data(relaxation.problem)
            before = SelectionChecker(data, scenarios, families=(family,))
            after = SelectionChecker(relaxed, scenarios, families=(family,))
            for x in _selections(data, seed):
                if not before.violations(x):
                    assert not after.violations(x), (relaxation.label, data.selection_dict(x))
            if relaxation.key == relaxation.rule:  # the whole rule relaxed
                assert not family(relaxed, scenarios).active, relaxation.label
    assert seen == set(PRICED)


# -- the switching cost ---------------------------------------------------------------------------


def _switching_instances() -> Iterator[tuple[ProblemData, Scenarios]]:
    found = 0
    for seed in range(300):
        doc = random_document(seed, "capped")
        if not doc["policy"].get("previous"):
            continue
        data = problem_data(load_problem(doc))
        found += 1
        yield data, optimisation_scenarios(data)
        if found == 6:
            return


def test_the_switching_cost_is_the_same_through_every_path() -> None:
    """The MILP objective (x fixed), `objectives.switching_penalty` and the objective value, the
    local search's vectorised `charges`, and the branch and bound's per-candidate charges."""
    checked = 0
    for seed, (data, scenarios) in enumerate(_switching_instances()):
        switching = SwitchingCost(data)
        assert switching.active
        xs = _selections(data, seed)[:12]
        tie = tie_break_weights(data)
        vectorised = charges(data, xs) - xs @ tie
        m = build_model(data, scenarios, families=(Flows, SwitchingCost))
        m.prob.setObjective(-m.penalty - linear(m.xs, tie))  # every x in the model
        for x, by_search in zip(xs, vectorised, strict=True):
            expected = switching_penalty(data, x)
            assert by_search == pytest.approx(expected, abs=1e-12)
            net = raw_value("capped", data, scenarios, x) - objective_value(
                "capped", data, scenarios, x
            )
            assert net == pytest.approx(expected, abs=1e-12)
            funded = switching.funded(x)
            per_candidate = sum(
                float(switching.charge(funded[i], i)) for i in range(data.n_candidates)
            )
            assert per_candidate == pytest.approx(expected, abs=1e-12)
            for k, v in enumerate(m.x):
                v.lowBound = v.upBound = float(x[k])
            out = run_milp(m)
            assert out.status == "optimal" and out.objective is not None
            assert -out.objective - x @ tie == pytest.approx(expected, abs=1e-7)
            checked += expected > 0
    assert checked > 0  # some selection dropped money from last quarter
