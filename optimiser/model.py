"""The MILP of DESIGN.md section 5: every constraint family's rows in one PuLP model.

The rows of each family are written by its object in `optimiser.families` (its maths in its
docstring); the model container and its registry of named constraints are `optimiser.lpmodel`.
Objectives are set by `optimiser.objectives`.
"""

from __future__ import annotations

from collections.abc import Iterable

from optimiser.data import ProblemData
from optimiser.families import FAMILIES, POLICY_FAMILIES, Family, dal_breaches, previous_costs
from optimiser.lpmodel import ConstraintInfo, Model, Sense, linear
from optimiser.scenarios import Scenarios

__all__ = [
    "POLICY_FAMILIES",
    "ConstraintInfo",
    "Model",
    "Sense",
    "build_model",
    "dal_breaches",
    "linear",
    "previous_costs",
]


def build_model(
    data: ProblemData,
    scenarios: Scenarios,
    *,
    elastic: Iterable[str] = (),
    with_p_any: bool = True,
    families: Iterable[type[Family]] = FAMILIES,
) -> Model:
    """The rows of every active family (`FAMILIES`, in its order), or of `families` only.

    `with_p_any=False` leaves out the scenario-counting families, the P(any success) floor and
    the overrun chance constraint (see `optimiser.milp.solve_model`). `elastic` names the
    families that get slacks (the diagnosis).
    """
    m = Model.empty(data, elastic)
    for family in families:
        if family.scenario and not with_p_any:
            continue
        rule = family(data, scenarios)
        if rule.active:
            rule.add_rows(m)
    return m
