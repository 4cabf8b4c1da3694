"""What every benchmark prints: the machine it ran on, and Markdown tables (a header with its
rule, then one line per row), so the results paste into benchmarks/REPORT.md as they are."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Container
from pathlib import Path
from typing import Any


def header(*columns: str, right: Container[int] = ()) -> str:
    """A table's header line and its rule; the columns numbered (from 0) in `right` are
    right-aligned (``---:``), the others left-aligned (``---``)."""
    rule = "".join("|---:" if j in right else "|---" for j in range(len(columns)))
    return f"{line(*columns)}\n{rule}|"


def line(*cells: object) -> str:
    """One table line: ``| a | b | c |``."""
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def fmt(value: Any, spec: str = ".2f") -> str:
    """`value` formatted by `spec`, or "-" when there is none."""
    return "-" if value is None else format(value, spec)


def yardstick_ms() -> float:
    """Milliseconds of one fixed, single-threaded piece of Python work like the server's (JSON
    written and read back, dictionaries built and sorted), best of five. The CPU model alone
    does not say how fast a shared machine is now: the same code's pages took a third of the
    time at 22:15 UTC on 7 December 2026 that they took at 20:40, on a machine of the same name.
    Compare tables by their yardsticks; lower is faster."""
    rows = [{"candidate": f"c{i}", "option": f"o{i % 7}", "amount": i * 0.37} for i in range(2000)]
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(10):
            back = json.loads(json.dumps(rows))
            totals: dict[str, float] = {}
            for row in back:
                totals[row["option"]] = totals.get(row["option"], 0.0) + row["amount"]
            sorted(back, key=lambda r: (r["option"], -r["amount"]))
        best = min(best, time.perf_counter() - began)
    return 1000 * best


def machine() -> str:
    """The machine: its CPU model (where /proc/cpuinfo names it), architecture, cores, Python,
    operating system and today's speed (``yardstick_ms``)."""
    cpu = "unknown CPU"
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu} ({platform.machine()}), {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}; "
        f"yardstick {yardstick_ms():.0f} ms (benchmarks.table.yardstick_ms, lower is faster)"
    )
