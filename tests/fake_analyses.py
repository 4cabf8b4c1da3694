"""Results of ``portfolio.services.analytics_jobs.compute``'s shape, at once, for the tests of what
is
built around the analyses (queueing, pages, charts): their re-solves take 5–20 s each, and their
own correctness is tested in tests/unit/optimiser/test_opt_analytics.py and test_report.py.

    monkeypatch.setattr(analytics_jobs, "compute", fake_compute)
"""

from __future__ import annotations

from typing import Any

from portfolio.services import analytics_jobs

_real_compute = analytics_jobs.compute


def fake_compute(
    problem: Any,
    kind: str,
    names: dict[str, str],
    on_progress: Any = None,
    selected: dict[str, str] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """A result of ``analytics_jobs.compute``'s shape, at once."""
    ids = [c.id for c in problem.candidates]
    if kind == "frontier":
        points = [
            {
                "x": x,
                "p_target": p,
                "status": "optimal",
                "expected_impact": 5.0 + x,
                "cvar_shortfall": 1.0,
                "spend": 500 * x,
                "is_given": x == 1.0,
            }
            for x, p in ((0.5, 0.2), (1.0, 0.5), (1.5, 0.7))
        ]
        return {"points": points, "chosen": points[1], "note": "", "objective": "expected"}
    if kind == "core":
        rows = [
            {
                "candidate": cid,
                "name": names.get(cid, cid),
                "share": share,
                "se": (share * (1 - share) / 100) ** 0.5,
                "low": max(0.0, share - 0.05),
                "high": min(1.0, share + 0.05),
                "classification": "core"
                if share >= 0.9
                else "exterior"
                if share <= 0.1
                else "borderline",
            }
            for cid, share in zip(ids, [1.0, 0.95, 0.5, 0.05] * 10, strict=False)
        ]
        return {
            "candidates": rows,
            "resamples": 100,
            "solved": 100,
            "method": "council",
            "sources": {"members": len(ids)},
            "scenario_count": 300,
        }
    if kind == "voi":
        return _fake_evppi(problem, names)
    if kind == "price":
        row = {
            "rule": "max_platform_share",
            "key": "max_platform_share",
            "label": "Platform share ≤ 45 %",
            "name": "Platform share ≤ 45 %",
            "relaxed_to": "100 %",
            "status": "optimal",
            "base_status": "optimal",
            "delta_objective": 0.25,
            "delta_p_target": 0.012,
        }
        return {"rows": [row]}
    return _real_compute(problem, kind, names, on_progress, selected, **options)


def _fake_evppi(problem: Any, names: dict[str, str]) -> dict[str, Any]:
    """A value of information: the first candidate separated from noise (rank 1), the second
    swept but within noise (its estimate below 0), the third's probability known, the others
    screened out."""
    from optimiser.analytics.voi import EvppiRow

    def row(i: int, status: str, estimate: float, error: float, changed: int) -> dict[str, Any]:
        cand = problem.candidates[i]
        swept = status == "swept"
        return EvppiRow(
            candidate=cand.id,
            name=names.get(cand.id, cand.id),
            status=status,  # type: ignore[arg-type]
            rank=1 if swept and estimate - 1.96 * error > 0 else None,
            evppi=max(0.0, estimate),
            estimate=estimate,
            error=error,
            lower=estimate - 1.96 * error,
            upper=estimate + 1.96 * error,
            separated=swept and estimate - 1.96 * error > 0,
            draws=48 if swept else 2 if status == "screened" else 0,
            changed=changed,
            p_target_gain=0.004 if swept else 0.0,
            p_target_error=0.002 if swept else 0.0,
            p={o.id: o.p_success for o in cand.options},
        ).model_dump(mode="json")

    n = len(problem.candidates)
    rows = [row(0, "swept", 0.0194, 0.0041, 8)] if n > 0 else []
    if n > 1:
        rows.append(row(1, "swept", -0.0026, 0.0027, 1))
    if n > 2:
        rows.append(row(2, "certain", 0.0, 0.0, 0))
    rows += [row(i, "screened", 0.0, 0.0, 0) for i in range(3, n)]
    return {
        "method": "evppi",
        "objective": problem.policy.objective,
        "unit": problem.mission.unit,
        "draws": 48,
        "evaluation_scenarios": problem.evaluation.count,
        "z": 1.96,
        "belief": "council",
        "concentration": 10.0,
        "solves": 96 + 2 * max(0, n - 3),
        "seconds": 1.0,
        "rows": rows,
    }
