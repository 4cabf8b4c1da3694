"""The versions of the software a result was computed with, recorded in every result's `solver`
block (and so in every audit pack), so that a quarter re-solved later can say whether it ran on
the same software."""

from __future__ import annotations

import platform
from functools import cache
from importlib.metadata import PackageNotFoundError, version

from optimiser.highs import highs_version

PACKAGES = ("mission-portfolio", "numpy", "pulp", "highspy")


def _installed(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


@cache
def software_versions() -> dict[str, str]:
    """{"mission-portfolio": …, "python": …, "numpy": …, "pulp": …, "highspy": …, "highs": …}."""
    versions = {name: _installed(name) for name in PACKAGES}
    versions["python"] = platform.python_version()
    versions["highs"] = highs_version()
    return versions


def differences(recorded: dict[str, str] | None, now: dict[str, str] | None = None) -> list[str]:
    """What differs between the versions `recorded` with a result and `now` (default: this
    process), in words such as ``highspy 1.15.1 → 1.16.0``; empty when they are the same."""
    current = software_versions() if now is None else now
    if not recorded:
        return ["the earlier result did not record its software versions"]
    return [
        f"{name} {recorded.get(name, 'unrecorded')} → {current.get(name, 'unrecorded')}"
        for name in sorted(set(recorded) | set(current))
        if recorded.get(name) != current.get(name)
    ]
