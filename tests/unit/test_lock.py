"""The lock files install what pyproject.toml asks for: every dependency (and every test extra)
is pinned to one exact version inside its range, with hashes, and the demo's lock agrees with
the tests' lock on every package they share (the demo runs what was tested)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def pins(name: str) -> dict[str, str]:
    text = (ROOT / "requirements" / name).read_text()
    found: dict[str, str] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = PIN.match(block)
        if match:
            assert "--hash=sha256:" in block, f"{match.group(1)} in {name} has no hash"
            found[canonicalize_name(match.group(1))] = match.group(3)
    return found


def project() -> dict[str, list[str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {
        "demo.txt": data["dependencies"],
        "test.txt": data["dependencies"] + data["optional-dependencies"]["test"],
    }


def test_every_dependency_is_pinned_within_its_range() -> None:
    for lock, wanted in project().items():
        pinned = pins(lock)
        for line in wanted:
            req = Requirement(line)
            name = canonicalize_name(req.name)
            assert name in pinned, f"{req.name} is missing from requirements/{lock}"
            assert req.specifier.contains(pinned[name], prereleases=True), (
                f"requirements/{lock} pins {req.name}=={pinned[name]}, outside {req.specifier}"
            )


def test_the_demo_runs_the_versions_the_tests_ran() -> None:
    demo, test = pins("demo.txt"), pins("test.txt")
    assert demo, "requirements/demo.txt pins nothing"
    assert {n: v for n, v in demo.items() if test.get(n) != v} == {}


def test_the_build_tools_are_locked_too() -> None:
    assert {"pip", "setuptools", "wheel"} <= set(pins("build.txt"))
