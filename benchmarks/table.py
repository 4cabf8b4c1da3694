"""What every benchmark prints: the machine it ran on, and Markdown tables (a header with its
rule, then one line per row), so the results paste into benchmarks/REPORT.md as they are."""

from __future__ import annotations

import os
import platform
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


def machine() -> str:
    """The machine: its CPU model (where /proc/cpuinfo names it), architecture, cores, Python
    and operating system."""
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
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
