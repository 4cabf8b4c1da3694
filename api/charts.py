"""Server-rendered SVG charts (matplotlib): deterministic bytes, text kept as text, no network.

Each chart comes with its text alternative; the page shows the data table beside it. Charts are
served as ``image/svg+xml`` documents (``<img>``), so their internal styles never meet the page's
Content-Security-Policy.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure

matplotlib.rcParams.update(
    {
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
)
BLUE, GREY, GREEN, ORANGE, RED = "#1d70b8", "#505a5f", "#00703c", "#f47738", "#d4351c"


@dataclass(frozen=True)
class Chart:
    """A chart's text alternative, and how to draw it (only when its SVG is asked for)."""

    alt: str
    draw: Callable[[], Figure]

    @property
    def svg(self) -> bytes:
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
    """Horizontal bars, largest first; ``lines`` are (x, label) reference lines."""
    items = list(data.items())
    total = sum(data.values())
    alt = f"{title}: " + "; ".join(f"{k} {v:,.1f}" for k, v in items[:12])
    if len(items) > 12:
        alt += f"; and {len(items) - 12} more"
    if unit.startswith("£"):
        alt += f". Total {total:,.1f}."
    return Chart(alt, lambda: _bars(title, items, unit, highlight, limits, lines))


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
    labels = [k.replace("_", " ").replace("-", " ") for k, _ in items][::-1]
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
    return Chart(alt, lambda: _trajectory(labels, p_points, a_points, green, amber))


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
    return Chart(alt, lambda: _frontier(points, chosen, xlabel, title))


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
