"""Permission aliases are defined once, in api/deps.py (issue 19): one alias per permission,
named for it, and every route module imports it from there instead of writing its own."""

from __future__ import annotations

import ast
import re
import typing
from collections import defaultdict
from pathlib import Path

from api import deps
from api.permissions import Perm

API = Path(deps.__file__).parent
ACCESS = {"MissionAccess", "GlobalAccess"}


def _modules() -> list[Path]:
    return sorted(p for p in API.rglob("*.py") if "__pycache__" not in p.parts)


def _annotated_aliases(tree: ast.Module) -> list[str]:
    """The module-level names assigned an ``Annotated[...]`` type."""
    names = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Subscript):
            target = node.value.value
            if isinstance(target, ast.Name) and target.id == "Annotated":
                names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return names


def _access_calls(tree: ast.Module) -> list[int]:
    """The lines that build a permission check (``MissionAccess(...)``/``GlobalAccess(...)``)."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ACCESS
    ]


def test_no_alias_name_is_assigned_in_more_than_one_module():
    where: dict[str, list[str]] = defaultdict(list)
    for path in _modules():
        for name in _annotated_aliases(ast.parse(path.read_text(), str(path))):
            where[name].append(str(path.relative_to(API.parent)))
    twice = {name: paths for name, paths in where.items() if len(paths) > 1}
    assert twice == {}, f"aliases defined in more than one module: {twice}"


def test_permission_checks_are_built_only_in_deps():
    outside = {
        str(path.relative_to(API.parent)): lines
        for path in _modules()
        if path != Path(deps.__file__)
        and (lines := _access_calls(ast.parse(path.read_text(), str(path))))
    }
    assert outside == {}, f"import the alias from api.deps instead: {outside}"


def _alias_perm(alias: object) -> Perm | None:
    """The permission an ``Annotated[..., Depends(MissionAccess(perm))]`` alias checks."""
    for meta in typing.get_args(alias)[1:]:
        check = getattr(meta, "dependency", None)
        if isinstance(check, deps.MissionAccess | deps.GlobalAccess):
            return check.perm
    return None


def test_every_permission_has_one_alias_named_for_it():
    aliases = {
        name: perm
        for name, value in vars(deps).items()
        if typing.get_origin(value) is typing.Annotated and (perm := _alias_perm(value))
    }
    by_perm: dict[Perm, list[str]] = defaultdict(list)
    for name, perm in aliases.items():
        by_perm[perm].append(name)
    assert {p: names for p, names in by_perm.items() if len(names) > 1} == {}
    assert set(by_perm) == set(Perm), f"no alias for {set(Perm) - set(by_perm)}"
    for name, perm in aliases.items():
        camel = "".join(word.title() for word in perm.value.split("_"))
        assert re.fullmatch(rf"{camel}(Dep)?", name), f"{name} checks {perm.value}"
