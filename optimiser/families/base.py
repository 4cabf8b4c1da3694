"""What a constraint family is: one object owning a rule in all the forms the optimiser needs.

A family (cvxportfolio's way: one object per constraint, its maths in its docstring) is built from
the flattened problem (and the optimisation scenarios, for the families that count them) and gives

- `add_rows(m)`: its rows of the MILP (`optimiser.lpmodel.Model`), under the family `name`;
- `violated(sel)`: its check on one 0/1 selection (`Selection`), for `SelectionChecker`;
- its part of the branch and bound's relaxation: the options it never allows (`forbidden`), the
  groups of options one of which must be funded (`must_fund`), and for a rule on sums of planned
  spend, the spend columns it follows (`bound_columns`) and a necessary test of partial
  selections on them (`bound_holds`);
- `relaxations(problem)`: the problem with the rule loosened, for the price of policy;
- `explain(info, amount, scenarios)`: the diagnosis's words for relaxing one of its rows.

Shares are of the planned total cost of the selection, Σ_k c[k]·x[k]; checks allow a tolerance of
TOL·(1 + that total), as the solvers' row tolerance does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from optimiser.data import BoolArray, FloatArray, ProblemData
from optimiser.lpmodel import ConstraintInfo, Model
from optimiser.problem import Problem
from optimiser.scenarios import Scenarios

if TYPE_CHECKING:
    from optimiser.feasibility import FlowChecker

TOL = 1e-7  # relative tolerance of the share and budget tests


@dataclass(frozen=True)
class Relaxation:
    """One rule and the problem without it (the price of policy). `order` places it in the
    table: the family's rank, then its position among its own rows (envelope, reference)."""

    rule: str
    key: str
    label: str
    relaxed_to: str
    problem: Problem
    order: tuple[int, ...] = field(default=(), compare=False)


def relax_policy(
    problem: Problem,
    rule: str,
    label: str,
    relaxed_to: str,
    order: tuple[int, ...],
    *,
    key: str | None = None,
    **update: Any,
) -> Relaxation:
    """`problem` with its policy fields changed to `update`, as a relaxation of `rule` (its key
    the reference relaxed, or the rule itself)."""
    policy = problem.policy.model_copy(update=update)
    relaxed = problem.model_copy(update={"policy": policy})
    return Relaxation(rule, rule if key is None else key, label, relaxed_to, relaxed, order)


def pct(share: float) -> str:
    """A share as the price-of-policy table writes it: `50 %`."""
    return f"{share * 100:g} %"


class Selection:
    """One 0/1 selection x as the checks see it, with what several of them share worked out once:
    the planned spend of each option c[k]·x[k], its total, the tolerance, and the base of the
    share caps.

    `partial` marks a portfolio still being built (the greedy ranking): the share caps are then
    measured against all the planned money there is (any first award would otherwise be 100 % of
    the spend) and minimum spends are not asked. `minimums=False` skips every floor (`Family.
    minimum`). `flow` solves the split of money between envelopes and years (`funded`).
    """

    def __init__(
        self,
        data: ProblemData,
        x: FloatArray,
        *,
        flow: FlowChecker | None = None,
        partial: bool = False,
        minimums: bool = True,
    ):
        self.data = data
        self.x = x
        self.flow = flow
        self.partial = partial
        self.minimums = minimums
        self.spend = data.total_cost * x
        self.total = float(self.spend.sum())
        self.slack = TOL * (1.0 + self.total)
        self.share_base = data.planned_total if partial else self.total

    def funded(self, *, min_spend: bool) -> bool:
        """Whether the eligible envelopes can pay for x within their budgets (and reach every
        minimum spend, when `min_spend`). One LP when the whole split exists: a split that
        reaches the minimum spends meets the budgets too."""
        flow = self.flow
        if flow is None:
            return True
        if not min_spend and self.minimums and not self.partial and flow.has_min_spend:
            if flow.flows(self.x) is not None:
                return True
        return flow.flows(self.x, with_min_spend=min_spend) is not None


@dataclass(frozen=True)
class Partial:
    """Rows of partial selections in the branch and bound, as one family's bound sees them:
    `spend` its columns so far (rows x w), `rest` the most each column can still grow by over
    the undecided candidates (w), `total` the planned total so far, `left` the money left,
    `more` the most the total can still grow by, `slack` the tolerance (rows each)."""

    spend: FloatArray
    rest: FloatArray
    total: FloatArray
    left: FloatArray
    more: FloatArray
    slack: FloatArray


class Family:
    """A constraint family (module docstring); the defaults say "nothing of this kind".

    `name` is the family of its MILP rows, diagnoses and checker reports; `policy` whether a
    person may change it (diagnosis relaxes only those); `minimum` whether it is a floor a
    portfolio still being built need not meet yet; `scenario` whether it counts optimisation
    scenarios (added lazily: `optimiser.milp.solve_model`); `check_cost` orders the checks,
    cheapest first (0 closed form, 1 over the scenarios, 2 a linear programme).
    """

    name: ClassVar[str] = ""
    policy: ClassVar[bool] = True
    minimum: ClassVar[bool] = False
    scenario: ClassVar[bool] = False
    check_cost: ClassVar[int] = 0

    def __init__(self, data: ProblemData, scenarios: Scenarios | None = None):
        self.data = data
        self.scenarios = scenarios

    @property
    def active(self) -> bool:
        """Whether the problem switches the rule on (an inactive family adds and checks nothing)."""
        return True

    def add_rows(self, m: Model) -> None:
        """Its rows of the MILP."""

    def violated(self, sel: Selection) -> bool:
        """Whether selection `sel` breaks the rule."""
        return False

    def forbidden(self) -> BoolArray:
        """K: the options the rule never allows."""
        return np.zeros(self.data.n_options, dtype=bool)

    def must_fund(self) -> list[list[int]]:
        """Groups of options of which the rule needs one funded."""
        return []

    def bound_columns(self) -> FloatArray | None:
        """K x w: the planned spend each option adds to the columns the bound follows."""
        return None

    def bound_holds(self, part: Partial) -> BoolArray:
        """Rows of `part` that may still be completed into a selection that keeps the rule."""
        return np.ones(len(part.total), dtype=bool)

    @classmethod
    def relaxations(cls, problem: Problem) -> list[Relaxation]:
        """The problem with the rule loosened, once per way of loosening it."""
        return []

    @classmethod
    def explain(cls, info: ConstraintInfo, amount: float, scenario_count: int) -> str:
        """Words for relaxing one of its rows by `amount` (the diagnosis)."""
        return f"{info.label}: relax by {amount:.4g} {info.unit}"


class Forbids(Family):
    """A family that rules options out: its check is that no forbidden option is funded, its
    bound that the branch and bound never offers one (`forbidden`)."""

    @cached_property
    def mask(self) -> BoolArray:
        return self.forbidden()

    def violated(self, sel: Selection) -> bool:
        return bool((sel.x[self.mask] > 0.5).any())

    @classmethod
    def explain(cls, info: ConstraintInfo, amount: float, scenario_count: int) -> str:
        return f"{info.label} must be lifted for the other rules to be met"
