"""Imports point one way (docs/architecture.md has the same table): a module may import its own
unit and anything ranked below it, never above. An import is judged by what it brings in:
``from reconciler import runs`` imports the unit ``runs``, not the package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"

RANKS = {
    "reconciler": 0,  # the package itself (__version__)
    "errors": 0,
    "jsonmerge": 0,
    "fsutil": 0,
    "signer": 0,
    "collector": 0,
    "endpoint": 1,
    "identifiers": 1,
    "suggest": 1,
    "model": 2,
    "state": 2,
    "api": 3,
    "sim": 3,
    "config": 3,
    "workdir": 3,
    "diff": 4,
    "connect": 4,
    "live": 4,
    "plan": 5,
    "drift": 6,
    "apply": 6,
    "ops": 6,
    "generate": 6,
    "migrate": 6,
    "render": 7,
    "regions": 7,
    "policy": 8,
    "runs": 9,
    "cli": 10,
}

CONFIG_STAGES = {
    # the language itself: its wording, its schema, the result; below every stage
    "messages": 0,
    "schema": 1,
    "configuration": 1,
    "syntax": 2,  # files → blocks with positions
    "evaluation": 3,  # expressions, variables, locals → values
    "blocks": 4,  # each block kind → typed desired node pools, backend, moves
    "loader": 5,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("reconciler", *parts))


def is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative).is_dir()


def imported(path: Path) -> set[str]:
    """Every ``reconciler`` module ``path`` imports, a name imported from a package counting as
    the module of that name when there is one."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if not node.module.startswith("reconciler"):
                continue
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if is_module(candidate) else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("reconciler")}
    return found


def unit(module: str) -> str:
    """`reconciler.api.client` → `api`; `reconciler` → `reconciler`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def stage(module: str) -> str:
    """`reconciler.config.syntax.nodes` → `syntax`; `reconciler.config.schema` → `schema`."""
    return module.split(".")[2]


def modules() -> list[tuple[Path, str]]:
    return [(p, module_name(p)) for p in sorted(PACKAGE.rglob("*.py"))]


def test_every_unit_and_stage_has_a_rank() -> None:
    assert {unit(m) for _, m in modules()} <= set(RANKS)
    config = [m for _, m in modules() if unit(m) == "config" and m != "reconciler.config"]
    assert {stage(m) for m in config} <= set(CONFIG_STAGES)


def test_imports_point_downwards_only() -> None:
    wrong = []
    for path, me in modules():
        for target in imported(path):
            if unit(target) != unit(me) and RANKS[unit(target)] >= RANKS[unit(me)]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)} imports {target}")
    assert wrong == []


def test_configuration_stages_point_downwards_only() -> None:
    wrong = []
    for path, me in modules():
        if unit(me) != "config" or me == "reconciler.config":
            continue
        for target in imported(path):
            if unit(target) != "config" or target == "reconciler.config":
                continue
            mine, theirs = stage(me), stage(target)
            if mine != theirs and CONFIG_STAGES[theirs] >= CONFIG_STAGES[mine]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)} imports {target}")
    assert wrong == []


def test_api_and_sim_never_import_each_other() -> None:
    for package, other in (("api", "sim"), ("sim", "api")):
        for path in (PACKAGE / package).rglob("*.py"):
            assert not any(unit(t) == other for t in imported(path)), path


@pytest.mark.parametrize(
    ("statement", "wrong"),
    [
        ("from reconciler import runs", "reconciler.runs"),
        ("from reconciler.cli import app", "reconciler.cli.app"),
        ("import reconciler.runs", "reconciler.runs"),
        ("from reconciler.runs import Run", "reconciler.runs"),
    ],
)
def test_an_import_from_above_is_caught_whatever_its_form(
    tmp_path: Path, statement: str, wrong: str
) -> None:
    """The check itself can fail: each form of importing ``runs`` into ``api`` is seen."""
    path = tmp_path / "retry.py"
    path.write_text(f"{statement}\n")
    targets = imported(path)
    assert wrong in targets
    assert RANKS[unit(wrong)] >= RANKS["api"]
