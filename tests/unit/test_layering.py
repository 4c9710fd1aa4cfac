"""Imports point one way (docs/architecture.md): cli → runs/render → apply/plan →
diff/config/connect → api/sim → model/state/signer. A module may import its own package and
anything ranked below it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"

RANKS = {
    "reconciler": 0,  # the package itself (__version__)
    "errors": 0,
    "jsonmerge": 0,
    "fsutil": 0,
    "signer": 0,
    "endpoint": 0.5,  # below state: the s3 backend checks its endpoint with it
    "model": 1,
    "state": 1,
    "api": 2,
    "sim": 2,
    "config": 2,
    "diff": 3,
    "connect": 3,
    "live": 3,
    "plan": 4,
    "drift": 5,
    "apply": 5,
    "ops": 5,
    "generate": 5,
    "savedplan": 5,
    "render": 6,
    "runs": 6,
    "cli": 7,
}


def unit(module: str) -> str:
    """`reconciler.api.client` → `api`; `reconciler` → `reconciler`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("reconciler")
        ):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("reconciler")}
    return found


def test_every_module_has_a_rank() -> None:
    units = {
        unit(".".join(("reconciler", *p.relative_to(PACKAGE).with_suffix("").parts)))
        for p in PACKAGE.rglob("*.py")
    }
    assert units - {"__init__"} <= set(RANKS)


def test_imports_point_downwards_only() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = unit(".".join(("reconciler", *path.relative_to(PACKAGE).with_suffix("").parts)))
        me = "reconciler" if me == "__init__" else me
        for target in imports(path):
            other = unit(target)
            if other != me and RANKS[other] >= RANKS[me]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)} imports {target}")
    assert wrong == []


def test_api_and_sim_never_import_each_other() -> None:
    for package, other in (("api", "sim"), ("sim", "api")):
        for path in (PACKAGE / package).rglob("*.py"):
            assert not any(unit(t) == other for t in imports(path)), path
