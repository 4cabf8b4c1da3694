"""The MILP of DESIGN.md section 5, one function per constraint family.

Notation (echoing the design): x[k] ∈ {0,1} funds option k (a candidate/option pair), f[k,e,y] ≥ 0
is the money option k draws from envelope e in year y, c[k] the planned total cost of k. Every
constraint is added through `Model.add`, which names it by position (`budget__3`), refuses
duplicates, and records name -> (family, key, human label) so a diagnosis can speak of "the UKRI
budget in 2027-28" rather than of a name PuLP has mangled. Families listed in `Model.elastic` get a
non-negative slack (in the constraint's own unit) so that diagnosis can measure the relaxation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pulp

from optimiser.data import FloatArray, ProblemData
from optimiser.money import TOL as MONEY_TOL
from optimiser.money import max_overruns, measured
from optimiser.scenarios import Scenarios

Sense = Literal["<=", ">=", "=="]
_SENSES = {"<=": pulp.LpConstraintLE, ">=": pulp.LpConstraintGE, "==": pulp.LpConstraintEQ}

#: Families a user can change, so diagnosis may relax them; the others are the model's structure.
POLICY_FAMILIES = (
    "eligibility",
    "budget",
    "min_spend",
    "dal",
    "platform_share",
    "min_platforms",
    "moonshot_share",
    "rising_star_share",
    "organisation_share",
    "lock",
    "exclusion",
    "commitment",
    "min_p_any_success",
    "max_overrun_probability",
)


@dataclass(frozen=True)
class ConstraintInfo:
    """What a named constraint means, for people."""

    family: str
    key: tuple[Any, ...]
    label: str
    sense: Sense
    rhs: float
    unit: str


@dataclass
class Model:
    """A PuLP problem, its variables, and the registry of constraint names."""

    data: ProblemData
    prob: pulp.LpProblem
    x: list[pulp.LpVariable]
    elastic: frozenset[str] = frozenset()
    f: dict[tuple[int, int, int], pulp.LpVariable] = field(default_factory=dict)
    registry: dict[str, ConstraintInfo] = field(default_factory=dict)
    slacks: dict[str, list[pulp.LpVariable]] = field(default_factory=dict)
    penalty: pulp.LpAffineExpression = field(default_factory=pulp.LpAffineExpression)
    aux: dict[str, Any] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def empty(cls, data: ProblemData, elastic: Iterable[str] = ()) -> Model:
        prob = pulp.LpProblem("portfolio", pulp.LpMaximize)
        x = prob.add_variable_dicts("x", range(data.n_options), cat=pulp.LpBinary)
        return cls(
            data=data,
            prob=prob,
            x=[x[k] for k in range(data.n_options)],
            elastic=frozenset(elastic),
        )

    @property
    def xs(self) -> np.ndarray[Any, np.dtype[np.object_]]:
        """x as a numpy object array (cached), for fancy indexing."""
        if "xs" not in self.aux:
            arr = np.empty(len(self.x), dtype=object)
            arr[:] = self.x
            self.aux["xs"] = arr
        cached: np.ndarray[Any, np.dtype[np.object_]] = self.aux["xs"]
        return cached

    def add(
        self,
        lhs: pulp.LpAffineExpression,
        sense: Sense,
        rhs: float,
        *,
        family: str,
        key: tuple[Any, ...],
        label: str,
        unit: str = "£m",
        limit: float | None = None,
        slack_terms: list[pulp.LpVariable] | None = None,
    ) -> str:
        """Add `lhs sense rhs` named `family__n`; with an elastic family, add its slack.

        `limit` is the number a person would change (default `rhs`); `slack_terms` replaces the
        constraint's own slack by shared ones (a year's budget slack counts in later cumulative
        rows too); the first of them is reported against this constraint.
        """
        n = self._counts.get(family, 0)
        self._counts[family] = n + 1
        name = f"{family}__{n}"
        if name in self.registry:
            raise ValueError(f"duplicate constraint name {name}")
        if slack_terms is not None:
            if family in self.elastic:
                lhs = lhs.copy()
                for s in slack_terms:
                    lhs.addterm(s, -1.0)
                self.slacks[name] = slack_terms[-1:]
        elif family in self.elastic:
            expr = lhs.copy()
            if sense in ("<=", "=="):
                s = pulp.LpVariable(f"slack_lo_{family}__{n}", lowBound=0)
                expr.addterm(s, -1.0)
                self.slacks.setdefault(name, []).append(s)
            if sense in (">=", "=="):
                s = pulp.LpVariable(f"slack_hi_{family}__{n}", lowBound=0)
                expr.addterm(s, 1.0)
                self.slacks.setdefault(name, []).append(s)
            lhs = expr
        self.prob.addConstraint(pulp.LpConstraint(lhs, _SENSES[sense], rhs=rhs), name)
        shown = float(rhs if limit is None else limit)
        self.registry[name] = ConstraintInfo(family, key, label, sense, shown, unit)
        return name

    def spend(
        self, mask: np.ndarray[Any, np.dtype[np.bool_]] | None = None, weight: float = 1.0
    ) -> pulp.LpAffineExpression:
        """weight · Σ_{k in mask} c[k]·x[k] (all options when mask is None)."""
        c = self.data.total_cost
        idx = np.arange(len(c)) if mask is None else np.flatnonzero(mask)
        return linear(self.xs[idx], weight * c[idx])

    def total_spend(self) -> pulp.LpVariable:
        """t = Σ_k c[k]x[k] as one variable, so share rows stay sparse (one row defines it)."""
        if "total_spend" not in self.aux:
            t = pulp.LpVariable("total_spend", lowBound=0)
            expr = linear(self.x, -self.data.total_cost)
            expr.addterm(t, 1.0)
            self.add(expr, "==", 0, family="total_spend", key=(), label="total spend of the run")
            self.aux["total_spend"] = t
        variable: pulp.LpVariable = self.aux["total_spend"]
        return variable

    def share_gap(
        self, mask: np.ndarray[Any, np.dtype[np.bool_]], share: float
    ) -> pulp.LpAffineExpression:
        """Σ_{k in mask} c[k]x[k] − share·t, with t the total spend."""
        idx = np.flatnonzero(mask)
        expr = linear(self.xs[idx], self.data.total_cost[idx])
        expr.addterm(self.total_spend(), -share)
        return expr


def linear(variables: Any, coefs: Any) -> pulp.LpAffineExpression:
    """Σ coef·var from parallel arrays, skipping zero coefficients (no lpSum over generators)."""
    coefs = np.asarray(coefs, dtype=float)
    keep = np.flatnonzero(coefs != 0)
    return pulp.LpAffineExpression([(variables[j], float(coefs[j])) for j in keep])


def build_model(
    data: ProblemData, scenarios: Scenarios, *, elastic: Iterable[str] = (), with_p_any: bool = True
) -> Model:
    """Every constraint family of the problem; objectives are set by `optimiser.objectives`.

    `with_p_any=False` leaves out the two scenario-counting families, the P(any success) floor
    and the overrun chance constraint (see `optimiser.milp.solve_model`).
    """
    m = Model.empty(data, elastic)
    add_one_option_per_candidate(m)
    add_funding_flows(m)
    add_budgets(m)
    add_min_spend(m)
    add_dal_caps(m)
    add_platform_shares(m)
    add_min_platforms(m)
    add_moonshot_share(m)
    add_rising_star_share(m)
    add_organisation_shares(m)
    add_locks(m)
    add_exclusions(m)
    add_commitments(m)
    add_switching_cost(m)
    if with_p_any:
        add_min_p_any_success(m, scenarios)
        add_max_overrun_probability(m, scenarios)
    return m


def add_one_option_per_candidate(m: Model) -> None:
    """At most one option per candidate: Σ_o x[i,o] ≤ 1."""
    for i, cand in enumerate(m.data.problem.candidates):
        ks = m.data.options_of(i)
        if len(ks) > 1:
            m.add(
                linear(m.xs[ks], np.ones(len(ks))),
                "<=",
                1,
                family="one_option",
                key=(i,),
                label=f"at most one option of {cand.id}",
                unit="options",
            )


def add_funding_flows(m: Model) -> None:
    """Σ_e f[g,e,y] = Σ_{k in g} cost[k,y]·x[k], with f only on eligible envelopes.

    Options with the same eligible envelopes form a group g; flows per group are exactly as
    expressive as flows per option f[k,e,y] (a group's flow is shared pro rata to the options'
    costs, which is how `funding` rows are reported) and make the model far smaller. An option
    with planned spend but no eligible envelope cannot be funded (family `eligibility`).
    """
    d = m.data
    years = d.problem.years
    groups, group_of = np.unique(d.eligible, axis=0, return_inverse=True)
    group_of = group_of.reshape(-1)
    m.aux["group_of"] = group_of
    idx = [
        (g, e, y)
        for g in range(len(groups))
        for y in range(len(years))
        for e in np.flatnonzero(groups[g]).tolist()
        if (d.cost[group_of == g, y] > 0).any()
    ]
    fvars = m.prob.add_variable_dicts("f", idx, lowBound=0)
    m.f = {(int(g), int(e), int(y)): fvars[(g, e, y)] for (g, e, y) in idx}
    for g in range(len(groups)):
        members = np.flatnonzero(group_of == g)
        for y in range(len(years)):
            ks = members[d.cost[members, y] > 0]
            if len(ks) == 0:
                continue
            flows = [(m.f[(g, e, y)], 1.0) for e in np.flatnonzero(groups[g]).tolist()]
            if flows:
                expr = pulp.LpAffineExpression(
                    [*flows, *[(m.x[k], -float(d.cost[k, y])) for k in ks.tolist()]]
                )
                names = sorted({d.problem.envelopes[e].id for e in np.flatnonzero(groups[g])})
                m.add(
                    expr,
                    "==",
                    0,
                    family="flows",
                    key=(g, y),
                    label=f"funding of options eligible for {', '.join(names)} in {years[y]}",
                )
                continue
            for k in ks.tolist():
                m.add(
                    linear([m.x[k]], [d.cost[k, y]]),
                    "<=",
                    0,
                    family="eligibility",
                    key=(k, y),
                    label=f"{d.keys[k]} has no eligible envelope for its "
                    f"{years[y]} spend of {d.cost[k, y]:g}",
                )


def envelope_spend(m: Model, e: int, years: Iterable[int]) -> pulp.LpAffineExpression:
    """Σ_{k, y in years} f[k,e,y]."""
    wanted = set(years)
    return pulp.LpAffineExpression(
        [(v, 1.0) for (_, e2, y), v in m.f.items() if e2 == e and y in wanted]
    )


def add_budgets(m: Model) -> None:
    """Spend of envelope e in year y ≤ budget[e,y]; with carry_forward, cumulatively:

    Σ_{k, y' ≤ y} f[k,e,y'] ≤ Σ_{y' ≤ y} B[e,y'].
    """
    d = m.data
    carry = d.problem.policy.carry_forward
    years = d.problem.years
    for e, env in enumerate(d.problem.envelopes):
        slacks: list[pulp.LpVariable] = []
        for y, year in enumerate(years):
            span = range(y + 1) if carry else [y]
            slacks = [*slacks, pulp.LpVariable(f"slack_budget__{e}__{y}", lowBound=0)]
            expr = envelope_spend(m, e, span)
            if not expr:
                continue
            rhs = float(d.caps[e, y])  # money.budget_caps: carry, bring_forward, over-programming
            m.add(
                expr,
                "<=",
                rhs,
                family="budget",
                key=(env.id, year),
                label=f"{env.name or env.id} budget in {year} ({d.budget[e, y]:g})",
                limit=float(d.budget[e, y]),
                slack_terms=slacks if carry else slacks[-1:],
            )


def add_min_spend(m: Model) -> None:
    """Optional minimum spend per envelope over the run: Σ_{k,y} f[k,e,y] ≥ min_spend[e]."""
    years = range(len(m.data.problem.years))
    for e, env in enumerate(m.data.problem.envelopes):
        if env.min_spend:
            m.add(
                envelope_spend(m, e, years),
                ">=",
                env.min_spend,
                family="min_spend",
                key=(env.id,),
                label=f"{env.name or env.id} minimum spend {env.min_spend:g}",
            )


def add_dal_caps(m: Model) -> None:
    """With dal_mode 'cap': x[k] = 0 when c[k] > DAL and the candidate is not Treasury-approved.

    In 'flag' mode nothing is constrained; the result lists such awards under `flags`.
    """
    policy = m.data.problem.policy
    if policy.dal_mode != "cap" or policy.dal is None:
        return
    for k in np.flatnonzero(dal_breaches(m.data)):
        m.add(
            linear([m.x[k]], [1.0]),
            "<=",
            0,
            family="dal",
            key=(m.data.keys[k],),
            label=f"DAL cap {policy.dal:g} on {m.data.keys[k]} (costs "
            f"{m.data.total_cost[k]:g}, not Treasury-approved)",
            unit="awards",
        )


def dal_breaches(data: ProblemData) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Options above the DAL whose candidate is not Treasury-approved."""
    dal = data.problem.policy.dal
    approved = np.array(
        [data.problem.candidates[i].treasury_approved for i in data.candidate_of], dtype=bool
    )
    if dal is None:
        return np.zeros(data.n_options, dtype=bool)
    breaches: np.ndarray[Any, np.dtype[np.bool_]] = (data.total_cost > dal + 1e-9) & ~approved
    return breaches


def add_platform_shares(m: Model) -> None:
    """Σ_{k in platform p} c[k]x[k] ≤ share · Σ_k c[k]x[k] for every platform p."""
    share = m.data.problem.policy.max_platform_share
    if share >= 1:
        return
    for p, name in enumerate(m.data.platforms):
        mask = m.data.platform_of == p
        m.add(
            m.share_gap(mask, share),
            "<=",
            0,
            family="platform_share",
            key=(name,),
            label=f"{name} at most {share:.0%} of total spend",
        )


def add_min_platforms(m: Model) -> None:
    """At least N distinct platforms funded: u[p] ≤ Σ_{k in p} x[k], Σ_p u[p] ≥ N, u in [0,1].

    u may be continuous: Σ x is an integer, so u[p] ≤ min(1, Σ x) is 0 or 1 at best.
    """
    need = m.data.problem.policy.min_platforms
    if need <= 0:
        return
    u = m.prob.add_variable_dicts("u", range(len(m.data.platforms)), lowBound=0, upBound=1)
    for p, name in enumerate(m.data.platforms):
        ks = np.flatnonzero(m.data.platform_of == p)
        expr = pulp.LpAffineExpression([(u[p], 1.0), *[(m.x[k], -1.0) for k in ks.tolist()]])
        m.add(
            expr,
            "<=",
            0,
            family="platform_link",
            key=(name,),
            label=f"{name} counts only when funded",
        )
    m.add(
        linear([u[p] for p in u], np.ones(len(u))),
        ">=",
        need,
        family="min_platforms",
        key=(need,),
        label=f"at least {need} platforms funded",
        unit="platforms",
    )


def add_moonshot_share(m: Model) -> None:
    """Σ_{moonshot k} c[k]x[k] ≥ share · Σ_k c[k]x[k]."""
    share = m.data.problem.policy.min_moonshot_share
    if share > 0:
        m.add(
            m.share_gap(m.data.moonshot, share),
            ">=",
            0,
            family="moonshot_share",
            key=(share,),
            label=f"at least {share:.0%} of spend on moonshots",
        )


def add_rising_star_share(m: Model) -> None:
    """Σ_{rising-star k} c[k]x[k] ≥ share · Σ_k c[k]x[k]."""
    share = m.data.problem.policy.min_rising_star_share
    if share > 0:
        m.add(
            m.share_gap(m.data.rising_star, share),
            ">=",
            0,
            family="rising_star_share",
            key=(share,),
            label=f"at least {share:.0%} of spend on rising stars",
        )


def add_organisation_shares(m: Model) -> None:
    """Σ_{k of organisation g} c[k]x[k] ≤ share · Σ_k c[k]x[k] for every organisation g."""
    share = m.data.problem.policy.max_organisation_share
    if share >= 1:
        return
    for g, name in enumerate(m.data.organisations):
        mask = m.data.organisation_of == g
        m.add(
            m.share_gap(mask, share),
            "<=",
            0,
            family="organisation_share",
            key=(name,),
            label=f"{name} at most {share:.0%} of total spend",
        )


def _must_fund(m: Model, refs: list[str], family: str, what: str) -> None:
    for ref in refs:
        ks = m.data.refs_to_options(ref)
        m.add(
            linear(m.xs[ks], np.ones(len(ks))),
            ">=",
            1,
            family=family,
            key=(ref,),
            label=f"{what} {ref}",
            unit="awards",
        )


def add_locks(m: Model) -> None:
    """CEO locks: a candidate (any one option) or candidate/option must be funded: Σ x ≥ 1."""
    _must_fund(m, m.data.problem.policy.locks, "lock", "lock on")


def add_commitments(m: Model) -> None:
    """Contracted tranches stay funded: `candidate/option` ⇒ x = 1; `candidate` ⇒ some option."""
    _must_fund(m, m.data.problem.policy.commitments, "commitment", "contracted commitment")


def add_exclusions(m: Model) -> None:
    """Exclusions: Σ x over the named candidate's options (or the one option) = 0."""
    for ref in m.data.problem.policy.exclusions:
        ks = m.data.refs_to_options(ref)
        m.add(
            linear(m.xs[ks], np.ones(len(ks))),
            "<=",
            0,
            family="exclusion",
            key=(ref,),
            label=f"exclusion of {ref}",
            unit="awards",
        )


def previous_costs(data: ProblemData) -> dict[int, float]:
    """Candidate index -> planned total cost of last quarter's approved option."""
    out = {}
    ids = [c.id for c in data.problem.candidates]
    for cand_id, opt_id in data.problem.policy.previous.items():
        out[ids.index(cand_id)] = float(data.total_cost[data.index_of(f"{cand_id}/{opt_id}")])
    return out


def add_switching_cost(m: Model) -> None:
    """Money dropped from last quarter: d[i] ≥ prev_cost[i] − Σ_o c[i,o]x[i,o], d ≥ 0.

    The objective is charged γ·Σ d[i] (`m.penalty`); d sits at max(0, prev − now) at an optimum.
    """
    gamma = m.data.problem.policy.switching_cost
    prev = previous_costs(m.data)
    if gamma <= 0 or not prev:
        return
    dvars = m.prob.add_variable_dicts("d", sorted(prev), lowBound=0)
    for i, amount in sorted(prev.items()):
        ks = m.data.options_of(i)
        expr = linear([dvars[i]], [1.0]) + linear(m.xs[ks], m.data.total_cost[ks])
        m.add(
            expr,
            ">=",
            amount,
            family="switching",
            key=(i,),
            label=f"money dropped from {m.data.problem.candidates[i].id}",
        )
    m.penalty = linear([dvars[i] for i in sorted(prev)], np.full(len(prev), gamma))


def success_patterns(scenarios: Scenarios) -> tuple[np.ndarray[Any, Any], FloatArray]:
    """Distinct rows of the success matrix and how many scenarios share each."""
    rows, counts = np.unique(scenarios.success, axis=0, return_counts=True)
    return rows, counts.astype(float)


def add_min_p_any_success(m: Model, scenarios: Scenarios) -> None:
    """In at least a share q of scenarios some funded option succeeds.

    w[j] ≤ Σ_{k succeeding in pattern j} x[k], Σ_j n[j]·w[j] ≥ q·S, w in [0,1] (exact as for
    min_platforms), over the distinct success patterns j with multiplicity n[j].
    """
    q = m.data.problem.policy.min_p_any_success
    if q is None or q <= 0:
        return
    rows, counts = success_patterns(scenarios)
    live = np.flatnonzero(rows.any(axis=1))
    w = m.prob.add_variable_dicts("w", range(len(live)), lowBound=0, upBound=1)
    for j, r in enumerate(live):
        ks = np.flatnonzero(rows[r])
        expr = pulp.LpAffineExpression([(w[j], 1.0), *[(m.x[k], -1.0) for k in ks.tolist()]])
        m.add(
            expr,
            "<=",
            0,
            family="min_p_link",
            key=(int(r),),
            label="a scenario counts when something works",
        )
    need = q * scenarios.count - 1e-9
    m.add(
        linear([w[j] for j in range(len(live))], counts[live]),
        ">=",
        need,
        family="min_p_any_success",
        key=(q,),
        label=f"P(at least one success) ≥ {q:.0%}",
        unit="scenarios",
    )


def add_max_overrun_probability(m: Model, scenarios: Scenarios) -> None:
    """At most ⌊ε·S⌋ scenarios may overrun (`optimiser.money`): with z[s] ∈ {0,1} allowing
    scenario s to overrun, for every year y

        Σ_k R[s,k,y]·x[k] − M[s,y]·z[s] ≤ A[y] + 1e-9,    Σ_s z[s] ≤ ⌊ε·S⌋,

    where R is realised spend measured as the test measures it (cumulative with carry_forward),
    A the real money available, and M[s,y] a bound on how far any selection the budget rows allow
    can exceed A[y] in s (`overrun_big_m`). Rows with M ≤ 0 cannot bind and scenarios that can
    never overrun get no z. The count row is the elastic family `max_overrun_probability` for the
    diagnosis.
    """
    data = m.data
    policy = data.problem.policy
    epsilon = policy.max_overrun_probability
    if epsilon is None:
        return
    allowed = max_overruns(epsilon, scenarios.count)
    spend = measured(scenarios.spend_columns(np.arange(data.n_options)), policy.carry_forward)
    excess = overrun_big_m(data, spend)
    live = np.flatnonzero((excess > MONEY_TOL).any(axis=1))
    if len(live) == 0:
        return
    z = m.prob.add_variable_dicts("z", range(len(live)), cat=pulp.LpBinary)
    years = data.problem.years
    for j, s in enumerate(live.tolist()):
        for y in np.flatnonzero(excess[s] > MONEY_TOL).tolist():
            expr = linear(m.x, spend[s, :, y])
            expr.addterm(z[j], -float(excess[s, y]))
            m.add(
                expr,
                "<=",
                float(data.money[y]) + MONEY_TOL,
                family="overrun_link",
                key=(s, y),
                label=f"scenario {s + 1} may overrun in {years[y]} only if counted",
            )
    m.add(
        linear([z[j] for j in range(len(live))], np.ones(len(live))),
        "<=",
        allowed,
        family="max_overrun_probability",
        key=(epsilon,),
        label=f"P(overrun) ≤ {epsilon:.1%}",
        unit="scenarios",
    )


def overrun_big_m(data: ProblemData, spend: FloatArray) -> FloatArray:
    """S x Y: an upper bound on (measured realised spend − money available) over every
    selection the planned budget rows allow, per scenario and year.

    Relaxation: each candidate becomes one item worth its largest realised spend (measured) in
    the scenario and costing its smallest planned spend (measured the same way), and the items
    fill the planned money of all envelopes together (`ProblemData.total_caps`) as a fractional
    knapsack, greedily by worth per £ planned. Any feasible selection's spend is at most that,
    and far less than funding every candidate at once (the bound when the budgets are loose).
    """
    policy = data.problem.policy
    planned = measured(data.cost, policy.carry_forward)  # K x Y
    starts = np.flatnonzero(np.diff(data.candidate_of, prepend=-1))
    worth = np.maximum.reduceat(spend, starts, axis=1)  # S x n x Y
    price = np.minimum.reduceat(planned, starts, axis=0)  # n x Y
    caps = data.total_caps
    out = np.empty((spend.shape[0], spend.shape[2]))
    for y in range(spend.shape[2]):
        gain, cost = worth[:, :, y], price[:, y]
        free = cost <= MONEY_TOL
        base = gain[:, free].sum(axis=1)
        g, c = gain[:, ~free], cost[~free]
        order = np.argsort(-(g / c[None, :]), axis=1, kind="stable")
        g_sorted = np.take_along_axis(g, order, axis=1)
        c_sorted = c[order]
        used = np.cumsum(c_sorted, axis=1)
        room = float(caps[y]) * (1 + 1e-7) + 1e-6  # the solver's row tolerance, generously
        whole = used <= room  # items wholly in (a prefix, by the greedy order)
        taken = np.where(whole, g_sorted, 0.0).sum(axis=1)
        spent_planned = np.where(whole, c_sorted, 0.0).sum(axis=1)
        nxt = whole.sum(axis=1)  # index of the item taken in part
        has_next = nxt < g.shape[1]
        idx = np.minimum(nxt, max(g.shape[1] - 1, 0))
        if g.shape[1]:
            part_g = np.take_along_axis(g_sorted, idx[:, None], axis=1)[:, 0]
            part_c = np.take_along_axis(c_sorted, idx[:, None], axis=1)[:, 0]
            fraction = np.clip((room - spent_planned) / np.maximum(part_c, 1e-300), 0.0, 1.0)
            taken = taken + np.where(has_next, part_g * fraction, 0.0)
        out[:, y] = base + taken - float(data.money[y])
    return out
