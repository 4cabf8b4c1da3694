"""Results of ``portfolio.analytics_jobs.compute``'s shape, at once, for the tests of what is
built around the analyses (queueing, pages, charts): their re-solves take 5–20 s each, and their
own correctness is tested in tests/unit/optimiser/test_opt_analytics.py and test_report.py.

    monkeypatch.setattr(analytics_jobs, "compute", fake_compute)
"""

from __future__ import annotations

from typing import Any

from portfolio import analytics_jobs

_real_compute = analytics_jobs.compute


def fake_compute(
    problem: Any,
    kind: str,
    names: dict[str, str],
    on_progress: Any = None,
    selected: dict[str, str] | None = None,
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
                "classification": "core"
                if share >= 0.9
                else "exterior"
                if share <= 0.1
                else "borderline",
            }
            for cid, share in zip(ids, [1.0, 0.95, 0.5, 0.05] * 10, strict=False)
        ]
        return {"candidates": rows, "resamples": 20, "solved": 20, "method": "beta"}
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
    return _real_compute(problem, kind, names, on_progress, selected)
