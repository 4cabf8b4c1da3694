"""P(target) proven gaps at size (issue 20): `python -m benchmarks.run --ptarget-gap`.

The generated instances (seed 1, every rule family on) at n = 50 × S = 2,000 with a 60 s limit and
n = 200 × S = 5,000 with 120 s, solved by `solve_p_target` from the problem text (sampling
included) with the policy's 0.5 % gap, once with the scenario MILP's strengthened rows
(`optimiser.ptbound`, the product) and once with the textbook rows (`ptarget.STRENGTHENED_ROWS =
False`), same process, one after the other. Printed per run: seconds, status, value (P(target) −
switching charge), bound and proven gap = (bound − value) / value; beside them the value and gap
recorded for the same instance with today's 10 s limit (benchmarks/README.md, performance table,
before this work). Then the LP bounds of the relaxation behind the residual cuts, without and with
them (`ptbound.root_cuts`, 30 s at most), which say where the gap comes from.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime

from benchmarks.instances import generate
from benchmarks.table import header, line, machine
from optimiser import ptarget
from optimiser.data import problem_data
from optimiser.feasibility import SelectionChecker
from optimiser.objectives import objective_value
from optimiser.problem import load_problem
from optimiser.ptarget import allowed_choices, solve_p_target
from optimiser.ptbound import Relaxation, root_cuts
from optimiser.scenarios import optimisation_scenarios

CELLS = ((50, 2000, 60.0), (200, 5000, 120.0))
# value and proven gap of the 10 s benchmark before this work (benchmarks/README.md, p_target rows)
TODAY = {(50, 2000): (0.7001, 0.2326), (200, 5000): (0.8780, 0.1380)}


def run_cell(n: int, s: int, limit: float, strengthened: bool) -> dict[str, float | str]:
    """One solve from the problem text; its time, status, value, bound and gap."""
    text = json.dumps(generate(n, s, seed=1, objective="p_target"))
    saved = ptarget.STRENGTHENED_ROWS
    ptarget.STRENGTHENED_ROWS = strengthened
    try:
        t0 = time.perf_counter()
        problem = load_problem(text)
        data = problem_data(problem)
        scenarios = optimisation_scenarios(data)
        out = solve_p_target(
            data,
            scenarios,
            SelectionChecker(data, scenarios),
            solver="highs",
            time_limit=limit,
            gap=problem.policy.gap,
            report=lambda p: None,
            should_stop=None,
            clock_start=t0,
        )
        seconds = time.perf_counter() - t0
    finally:
        ptarget.STRENGTHENED_ROWS = saved
    assert out.x is not None and out.bound is not None
    value = objective_value("p_target", data, scenarios, out.x)
    gap = max(0.0, out.bound - value) / value
    return {
        "seconds": seconds,
        "status": out.status,
        "value": value,
        "bound": out.bound,
        "gap": gap,
    }


def lp_bounds(n: int, s: int) -> tuple[float | None, float | None, int, float]:
    """The relaxation's LP bound without and with residual cuts, the cuts and the seconds."""
    data = problem_data(load_problem(json.dumps(generate(n, s, seed=1, objective="p_target"))))
    scenarios = optimisation_scenarios(data)
    checker = SelectionChecker(data, scenarios)
    rel = Relaxation(data, scenarios, allowed_choices(data, checker))
    _, plain = root_cuts(rel, time.perf_counter() + 30.0, rounds=0)
    t0 = time.perf_counter()
    cuts, strong = root_cuts(rel, t0 + 30.0)
    return plain, strong, len(cuts), time.perf_counter() - t0


def main() -> None:
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{machine()}; load average {load}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        header(
            "n",
            "S",
            "limit s",
            "rows",
            "seconds",
            "status",
            "value",
            "bound",
            "proven gap",
            "today's value (10 s)",
            "today's gap",
        ),
        flush=True,
    )
    for n, s, limit in CELLS:
        for strengthened in (True, False):
            r = run_cell(n, s, limit, strengthened)
            today_value, today_gap = TODAY[(n, s)]
            print(
                line(
                    n,
                    s,
                    f"{limit:.0f}",
                    "strengthened" if strengthened else "textbook",
                    f"{r['seconds']:.1f}",
                    r["status"],
                    f"{r['value']:.4f}",
                    f"{r['bound']:.4f}",
                    f"{100 * float(r['gap']):.2f}%",
                    f"{today_value:.4f}",
                    f"{100 * today_gap:.2f}%",
                ),
                flush=True,
            )
    print()
    print(header("n", "S", "LP bound", "LP bound, residual cuts", "cuts", "cut seconds"))
    for n, s, _ in CELLS:
        plain, strong, count, seconds = lp_bounds(n, s)
        show = [f"{v:.4f}" if v is not None else "-" for v in (plain, strong)]
        print(line(n, s, *show, count, f"{seconds:.1f}"), flush=True)
