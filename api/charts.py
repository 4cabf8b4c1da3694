"""Server-rendered SVG charts (matplotlib): deterministic bytes, text kept as text, no network.

Each chart comes with its text alternative; the page shows the data table beside it. Charts are
served as ``image/svg+xml`` documents (``<img>``), so their internal styles never meet the page's
Content-Security-Policy.

Labels are drawn exactly as given: the callers pass names (``portfolio.domain.display``), never
codes to
be mangled here. Each chart also has a ``key``, a hash of everything it is drawn from, so a drawing
can be kept and served again until its data change (``api.routes.html.report.chart_svg``).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure

from portfolio.domain import montecarlo

STYLE: dict[Any, Any] = {  # matplotlib types its keys as a Literal of every setting
    "svg.fonttype": "none",
    "svg.hashsalt": "mission-portfolio",
    "font.family": ["DejaVu Sans"],
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    # labels carry people's text (candidate names): a "$" is a dollar sign, never the start
    # of maths for matplotlib to parse (an unbalanced "$\frac{1}{$" would fail the chart)
    "text.parse_math": False,
    "text.usetex": False,
}
matplotlib.rcParams.update(STYLE)
BLUE, GREY, GREEN, ORANGE, RED = "#1d70b8", "#505a5f", "#00703c", "#f47738", "#d4351c"
# part of every chart's key: a change to how charts are drawn gives every chart a new drawing
DRAWING = f"2 matplotlib {matplotlib.__version__}"


def chart_key(*parts: Any) -> str:
    """The hash of what a chart is drawn from (JSON-able parts), and of how charts are drawn."""
    text = json.dumps([DRAWING, *parts], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Chart:
    """A chart's text alternative, how to draw it (only when its SVG is asked for) and the key
    of what it is drawn from (empty: a chart that is never kept)."""

    alt: str
    draw: Callable[[], Figure]
    key: str = ""

    @property
    def svg(self) -> bytes:
        # the style, maths text off above all, holds for every drawing, whatever changed the
        # global settings since this module was imported
        with matplotlib.rc_context(STYLE):
            return _svg(self.draw())


def _svg(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue()


def bars(
    title: str,
    data: dict[str, float],
    unit: str,
    *,
    highlight: set[str] | None = None,
    limits: tuple[float, float] | None = None,
    lines: Sequence[tuple[float, str]] = (),
) -> Chart:
    """Horizontal bars in the order given (the first on top), each labelled exactly as its key;
    ``lines`` are (x, label) reference lines."""
    items = list(data.items())
    total = sum(data.values())
    alt = f"{title}: " + "; ".join(f"{k} {v:,.1f}" for k, v in items[:12])
    if len(items) > 12:
        alt += f"; and {len(items) - 12} more"
    if unit.startswith("£"):
        alt += f". Total {total:,.1f}."
    key = chart_key("bars", title, items, unit, sorted(highlight or ()), limits, list(lines))
    return Chart(alt, lambda: _bars(title, items, unit, highlight, limits, lines), key)


def _bars(
    title: str,
    items: list[tuple[str, float]],
    unit: str,
    highlight: set[str] | None,
    limits: tuple[float, float] | None,
    lines: Sequence[tuple[float, str]],
) -> Figure:
    height = max(1.6, 0.32 * len(items) + 0.8)
    fig = Figure(figsize=(7.0, height))
    ax = fig.add_subplot()
    labels = [k for k, _ in items][::-1]
    values = [v for _, v in items][::-1]
    colours = [ORANGE if highlight and k in highlight else BLUE for k, _ in items][::-1]
    ax.barh(labels, values, color=colours)
    for y, v in enumerate(values):
        ax.text(
            v, y, f" {v:,.1f}" if abs(v) >= 1 or v == 0 else f" {v:.2f}", va="center", fontsize=9
        )
    for x, label in lines:
        ax.axvline(x, color=GREY, linestyle="--", linewidth=1)
        ax.text(x, len(values) - 0.4, f" {label}", fontsize=8, color=GREY)
    if limits:
        ax.set_xlim(*limits)
    ax.set_xlabel(unit)
    ax.set_title(title, loc="left", fontsize=11)
    return fig


def trajectory(
    labels: list[str],
    planned: list[float | None],
    actual: list[float | None],
    green: float,
    amber: float,
) -> Chart:
    """Planned and actual P(target) per quarter, over the RAG bands."""
    xs = range(len(labels))
    p_points = [(x, v) for x, v in zip(xs, planned, strict=True) if v is not None]
    a_points = [(x, v) for x, v in zip(xs, actual, strict=True) if v is not None]
    done = [f"{labels[x]} {v:.0%}" for x, v in a_points]
    alt = (
        "Probability of reaching the target per quarter. Actual: "
        + ("; ".join(done) if done else "none yet")
        + ". Planned: "
        + "; ".join(f"{labels[x]} {v:.0%}" for x, v in p_points[:8])
        + "."
    )
    key = chart_key("trajectory", labels, p_points, a_points, green, amber)
    return Chart(alt, lambda: _trajectory(labels, p_points, a_points, green, amber), key)


def _trajectory(
    labels: list[str],
    p_points: list[tuple[int, float]],
    a_points: list[tuple[int, float]],
    green: float,
    amber: float,
) -> Figure:
    fig = Figure(figsize=(7.5, 3.2))
    ax = fig.add_subplot()
    ax.axhspan(green, 1, color=GREEN, alpha=0.06)
    ax.axhspan(amber, green, color=ORANGE, alpha=0.06)
    ax.axhspan(0, amber, color=RED, alpha=0.05)
    if p_points:
        ax.plot(
            *zip(*p_points, strict=True), color=GREY, linestyle="--", marker="o", label="planned"
        )
    if a_points:
        ax.plot(
            *zip(*a_points, strict=True),
            color=BLUE,
            linewidth=2.5,
            marker="o",
            label="actual (out of sample)",
        )
    ax.set_xticks(list(range(len(labels))), [q.replace(" ", "\n") for q in labels], fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("P(target)")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_title("P(target): planned and actual per quarter", loc="left", fontsize=11)
    return fig


def frontier(
    points: list[tuple[float, float]], chosen: tuple[float, float] | None, xlabel: str, title: str
) -> Chart:
    """P(target) against a budget or risk-appetite grid; the chosen portfolio marked."""
    alt = (
        f"{title}: "
        + "; ".join(f"{x:g} → {y:.0%}" for x, y in points)
        + (f". This portfolio: {chosen[0]:g} → {chosen[1]:.0%}." if chosen else "")
    )
    key = chart_key("frontier", points, chosen, xlabel, title)
    return Chart(alt, lambda: _frontier(points, chosen, xlabel, title), key)


def _frontier(
    points: list[tuple[float, float]], chosen: tuple[float, float] | None, xlabel: str, title: str
) -> Figure:
    fig = Figure(figsize=(7.0, 3.4))
    ax = fig.add_subplot()
    if points:
        ax.plot(*zip(*points, strict=True), color=BLUE, marker="o", linewidth=2)
    if chosen is not None:
        ax.plot(
            [chosen[0]],
            [chosen[1]],
            marker="*",
            markersize=16,
            color=ORANGE,
            linestyle="none",
            label="this portfolio",
        )
        ax.legend(loc="lower right", frameon=False, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("P(target), out of sample")
    ax.set_title(title, loc="left", fontsize=11)
    return fig


# -- the comparison of runs (the optimiser's compare page) ---------------------------------------
RUN_COLOURS = (BLUE, ORANGE, GREEN, GREY)


def run_comparison(
    runs: Sequence[str],
    p_target: Sequence[float | None],
    intervals: Sequence[montecarlo.Interval | None],
    impact: Sequence[float | None],
    platforms: dict[str, Sequence[float | None]],
    impact_unit: str,
) -> Chart:
    """Two to four runs side by side: P(target) with its 95 % Monte-Carlo interval
    (``portfolio.domain.montecarlo``), expected impact, and spend by platform (one bar per run for
    each
    platform). Names are drawn exactly as given."""

    def pct(v: float | None, m: montecarlo.Interval | None) -> str:
        if v is None:
            return "no result"
        return montecarlo.interval_text(m) if m is not None else f"{v * 100:.1f} %"

    alt = (
        "Runs compared. P(target), out of sample: "
        + "; ".join(f"{r} {pct(p, m)}" for r, p, m in zip(runs, p_target, intervals, strict=True))
        + f". Expected impact ({impact_unit}): "
        + "; ".join(
            f"{r} {'no result' if v is None else f'{v:,.2f}'}"
            for r, v in zip(runs, impact, strict=True)
        )
        + ". Spend by platform (£m): "
        + "; ".join(
            f"{name}: "
            + ", ".join(
                f"{r} {'–' if v is None else f'{v:,.1f}'}" for r, v in zip(runs, vs, strict=True)
            )
            for name, vs in list(platforms.items())[:12]
        )
        + "."
    )
    return Chart(
        alt,
        lambda: _run_comparison(
            list(runs), list(p_target), list(intervals), list(impact), dict(platforms), impact_unit
        ),
    )


def _run_comparison(
    runs: list[str],
    p_target: list[float | None],
    intervals: list[montecarlo.Interval | None],
    impact: list[float | None],
    platforms: dict[str, Sequence[float | None]],
    impact_unit: str,
) -> Figure:
    n = len(runs)
    colours = [RUN_COLOURS[i % len(RUN_COLOURS)] for i in range(n)]
    bottom = max(1.2, 0.12 * len(platforms) * n + 0.6)
    fig = Figure(figsize=(7.5, 2.6 + bottom))
    grid = fig.add_gridspec(2, 2, height_ratios=[2.2, bottom], hspace=0.55, wspace=0.35)
    xs = list(range(n))

    ax = fig.add_subplot(grid[0, 0])
    heights = [0.0 if p is None else p * 100 for p in p_target]
    # the interval's two ends: below and above the bar (not symmetric near 0 and 100 %)
    pairs = list(zip(p_target, intervals, strict=True))
    below = [0.0 if p is None or m is None else max(0.0, p - m.low) * 100 for p, m in pairs]
    above = [0.0 if p is None or m is None else max(0.0, m.high - p) * 100 for p, m in pairs]
    errors = [below, above]
    ax.bar(xs, heights, yerr=errors, color=colours, capsize=4, ecolor="#0b0c0c")
    for x, p in zip(xs, p_target, strict=True):
        text = "–" if p is None else f"{p * 100:.1f} %"
        ax.text(x, (0 if p is None else p * 100) + 4, text, ha="center", fontsize=8)
    ax.set_xticks(xs, runs, fontsize=8)
    ax.set_ylim(0, 110)
    ax.set_ylabel("%")
    ax.set_title("P(target), out of sample (95 % interval)", loc="left", fontsize=10)

    ax = fig.add_subplot(grid[0, 1])
    values = [0.0 if v is None else v for v in impact]
    ax.bar(xs, values, color=colours)
    top = max([*values, 0.0])
    for x, v in zip(xs, impact, strict=True):
        ax.text(
            x, (v or 0.0) + top * 0.02, "–" if v is None else f"{v:,.2f}", ha="center", fontsize=8
        )
    ax.set_xticks(xs, runs, fontsize=8)
    ax.set_ylim(0, top * 1.15 if top > 0 else 1)
    ax.set_ylabel(impact_unit)
    ax.set_title("Expected impact", loc="left", fontsize=10)

    ax = fig.add_subplot(grid[1, :])
    names = list(platforms)
    width = 0.8 / max(1, n)
    for j, (run, colour) in enumerate(zip(runs, colours, strict=True)):
        ys = [i - 0.4 + width * (j + 0.5) for i in range(len(names))]
        spend = [platforms[name][j] or 0.0 for name in names]
        ax.barh(ys, spend, height=width, color=colour, label=run)
    ax.set_yticks(list(range(len(names))), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("£m")
    ax.set_title("Spend by platform (£m)", loc="left", fontsize=10)
    if names:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return fig
