"""Mutation testing of the planning core: run mutmut over it, print the score of each file.

    python tools/mutate.py         # `make mutate`: the whole planning core
    python tools/mutate.py --ci    # `.ci/run`: the three-way diff and jsonmerge (their tests)

Every run starts from an empty ``mutants/`` (mutmut would otherwise keep a survivor's verdict
after the test that kills it was written). mutmut's own output goes to ``mutants/run.log``.
Exit 1 when a group scores below its threshold; docs/testing.md explains scope and thresholds.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
LOG = MUTANTS / "run.log"


@dataclass(frozen=True)
class Part:
    """One file of the planning core and which of its functions are mutated."""

    path: str
    functions: tuple[str, ...] = ("*",)

    @property
    def patterns(self) -> list[str]:
        module = self.path.removesuffix(".py").replace("/", ".")
        return [f"{module}.{function}__mutmut_*" for function in self.functions]


@dataclass(frozen=True)
class Group:
    """Files scored together against one threshold (percent of their mutants killed)."""

    name: str
    parts: tuple[Part, ...]
    threshold: float


DIFF = Group(
    "diff + jsonmerge", (Part("reconciler/diff.py"), Part("reconciler/jsonmerge.py")), 95.0
)
# model.py also parses API answers (check_*, status counts): only the desired <-> wire mapping
# belongs to planning.
MAPPING = (
    "x_desired_to_wire",
    "x_without_keys",
    "x_wire_value_to_config",
    "x_wire_to_config",
    "x_wire_path_to_config",
    "x__ordered",
)
REST = Group(
    "the rest",
    (
        Part("reconciler/model.py", MAPPING),
        Part("reconciler/plan/changes.py"),
        Part("reconciler/plan/moves.py"),
        Part("reconciler/plan/planner.py"),
        Part("reconciler/plan/rules.py"),
        Part("reconciler/plan/saved.py"),
    ),
    90.0,
)
CORE = (DIFF, REST)
# CI's time budget (eight minutes for the whole of .ci/run) keeps the gate to the three-way
# diff itself and the merge patch: 288 of the 448 mutants, the functions whose mutants would
# change a patch np sends. `make mutate` scores the whole of diff.py.
THREE_WAY = ("x_diff_nodepool", "x__diff_field", "x__diff_map", "x__diff_keyed")
CI = (
    Group(
        "three-way diff + jsonmerge",
        (Part("reconciler/diff.py", THREE_WAY), Part("reconciler/jsonmerge.py")),
        95.0,
    ),
)
# The pure tests that pin diff.py and jsonmerge.py: enough for their score, seconds per mutant.
CI_TESTS = (
    "tests/unit/test_diff.py",
    "tests/unit/test_jsonmerge.py",
    "tests/unit/test_plan_mutants.py",
)

KILLED = ("killed", "timeout", "caught by type check", "segfault")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ci", action="store_true", help="the three-way diff and jsonmerge only")
    args = parser.parse_args()
    groups = CI if args.ci else CORE
    parts = [part for group in groups for part in group.parts]
    env = dict(os.environ)
    if args.ci:  # mutmut runs the selection of pyproject.toml; keep only the CI tests of it
        others = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("tests/*/test_*.py"))
        deselect = [f"--deselect={t}" for t in others if t not in CI_TESTS]
        env["PYTEST_ADDOPTS"] = " ".join([env.get("PYTEST_ADDOPTS", ""), *deselect]).strip()
    shutil.rmtree(MUTANTS, ignore_errors=True)
    MUTANTS.mkdir()
    mutmut = Path(sys.executable).with_name("mutmut")
    patterns = [pattern for part in parts for pattern in part.patterns]
    print(f"mutmut: {', '.join(p.path for p in parts)} (log: {LOG.relative_to(ROOT)})", flush=True)
    with LOG.open("w") as log:
        done = subprocess.run(
            [str(mutmut), "run", *patterns], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    if done.returncode != 0:
        print(LOG.read_text(errors="replace")[-4000:], file=sys.stderr)
        print(f"mutmut failed (exit {done.returncode})", file=sys.stderr)
        return 1
    return report(groups, MUTANTS)


def report(groups: tuple[Group, ...], mutants: Path) -> int:
    """Print the score table and the survivors; 1 when a group is below its threshold."""
    from mutmut.stats import status_by_exit_code

    print(f"{'':<26} {'mutants':>7} {'killed':>7} {'alive':>6} {'score':>7} {'needs':>6}")
    alive: list[str] = []
    failed = False
    for group in groups:
        group_total = group_killed = 0
        for part in group.parts:
            meta = json.loads((mutants / f"{part.path}.meta").read_text())
            verdicts = {
                name: status_by_exit_code[code]
                for name, code in meta["exit_code_by_key"].items()
                if any(fnmatch.fnmatch(name, pattern) for pattern in part.patterns)
            }
            for pattern in part.patterns:  # a renamed function must not leave the scope quietly
                if not any(fnmatch.fnmatch(name, pattern) for name in verdicts):
                    print(f"no mutants match {pattern}: was the function renamed?")
                    failed = True
            killed = sum(1 for v in verdicts.values() if v in KILLED)
            alive += sorted(f"{name}: {v}" for name, v in verdicts.items() if v not in KILLED)
            print(_row(part.path, len(verdicts), killed))
            group_total += len(verdicts)
            group_killed += killed
        low = _score(group_killed, group_total) < group.threshold
        failed |= low
        row = _row(group.name, group_total, group_killed)
        print(f"{row} {group.threshold:>5.0f}%{'  BELOW' if low else ''}")
    if alive:
        print("\nalive (see one with: .venv/bin/mutmut show NAME):")
        print("\n".join(f"  {line}" for line in alive))
    return 1 if failed else 0


def _score(killed: int, total: int) -> float:
    return 100.0 * killed / total if total else 100.0


def _row(name: str, total: int, killed: int) -> str:
    score = _score(killed, total)
    return f"{name:<26} {total:>7} {killed:>7} {total - killed:>6} {score:>6.1f}%"


if __name__ == "__main__":
    sys.exit(main())
