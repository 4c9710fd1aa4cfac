"""Parsing at fleet scale (issue 25): four targets, each against a baseline from the same run.

    .venv/bin/python -m bench.parse [--quick] [--before REV] [--json OUT]

1. ``np validate`` of one 1,000-block file, no parse cache: at most 0.08x a bare
   ``hcl2.loads`` of the same file.
2. ``np plan --json`` of 10,000 node pools (500 files) against ``np sim serve --latency-ms 50``,
   no parse cache: at most 6 s, peak RSS at most 250 MB.
3. ``np plan --json`` of 2,000 node pools at 50 ms, parse cache warm: at most 1.5x the
   network bound, (1 + ceil(pools / parallelism)) x latency.
4. Cost per node pool from 2,000 to 10,000 node pools, cold and warm: flat within 20 %. What
   a run costs whatever its size (start-up, imports, the first connection) is measured on a
   fleet of one resource pool and left out: (T(10,000) - T(2,000)) / 8,000 against
   (T(2,000) - T(20)) / 1,980.

``--before REV`` also runs np as it was at git revision REV (its ``reconciler`` package
exported to a scratch directory, the same interpreter and packages) on measures 1-3, for
before/after figures from one run. Every figure is a fresh process; repeated runs report the
median, np's runs interleaved with their baseline's. Exit status: 0 when every target holds
(always with --quick, whose sizes are too small to judge), 1 when one fails, 2 when the
harness could not measure.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.floor import floor
from bench.procs import HTTP_ENV, NP, PYTHON, BenchError, Finished, median_wall, run
from reconciler.sim.launch import LaunchError, SimServer
from testkit.workload import Fleet

HERE = Path(__file__).resolve().parent
PER_POOL = 20
PARALLELISM = 10
"""np's default number of requests in flight."""
LATENCY_MS = 50


@dataclass(frozen=True)
class Sizes:
    validate_blocks: int = 1000
    validate_runs: int = 3
    tiny_pools: int = 1
    """Resource pools of 20 node pools: 20 node pools, for what a run costs at any size."""
    small_pools: int = 100
    """2,000 node pools."""
    large_pools: int = 500
    """10,000 node pools."""
    plan_runs: int = 3


FULL = Sizes()
QUICK = Sizes(validate_blocks=100, validate_runs=1, small_pools=2, large_pools=3, plan_runs=1)
"""Too small to judge anything: a smoke test of the harness."""


@dataclass(frozen=True)
class Figure:
    """One line of the table; ``passed`` is None for a figure without a target."""

    id: str
    measure: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    target: str = "—"
    passed: bool | None = None


@dataclass
class Np:
    """How to start np: the installed script, or a revision's package on PYTHONPATH."""

    label: str
    argv: list[str]
    env: dict[str, str]

    def __call__(
        self, args: Sequence[str], cwd: Path, env: dict[str, str] | None = None
    ) -> Finished:
        return run([*self.argv, *args], cwd=cwd, env={**self.env, **(env or {})}, timeout=1800)


def current() -> Np:
    return Np("now", [NP], {})


def revision(rev: str, scratch: Path) -> Np:
    """np as it was at ``rev``: its ``reconciler`` package from git, run by this interpreter
    (from a directory that is not the checkout, so that PYTHONPATH wins)."""
    target = scratch / f"np-{rev}"
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", rev, "reconciler"], cwd=HERE.parent, capture_output=True, check=True
    ).stdout
    with tempfile.TemporaryFile() as tar_file:
        tar_file.write(archive)
        tar_file.seek(0)
        with tarfile.open(fileobj=tar_file) as tar:
            tar.extractall(target, filter="data")
    start = "import sys; sys.argv[0] = 'np'; from reconciler.cli import main; sys.exit(main())"
    return Np(rev, [PYTHON, "-c", start], {"PYTHONPATH": str(target)})


class ParseBench:
    def __init__(self, sizes: Sizes, scratch: Path, before: Np | None) -> None:
        self.sizes = sizes
        self.scratch = scratch
        self.np = current()
        self.before = before
        self.figures: list[Figure] = []
        self.details: dict[str, object] = {}

    def cache(self, name: str) -> dict[str, str]:
        return {"NP_CACHE_DIR": str(self.scratch / f"cache-{name}")}

    def empty(self, name: str) -> dict[str, str]:
        shutil.rmtree(self.scratch / f"cache-{name}", ignore_errors=True)
        return self.cache(name)

    # -- 1: validate one large file, cold, against a bare hcl2.loads --------------------------

    def validate(self) -> None:
        s = self.sizes
        fleet = Fleet(s.validate_blocks // PER_POOL, PER_POOL)
        root = self.scratch / "validate"
        fleet.write(root, endpoint=None, state=False, one_file=True)
        lines = (root / "main.hcl").read_text().count("\n")
        bare = [PYTHON, "-c", "import hcl2; hcl2.loads(open('main.hcl').read())"]
        runs: dict[str, list[Finished]] = {"np": [], "hcl2": [], "before": []}
        for _ in range(s.validate_runs):  # interleaved: noise hits all alike
            runs["np"].append(_valid(self.np(["validate"], root, self.empty("v")), len(fleet)))
            runs["hcl2"].append(run(bare, cwd=root).check())
            if self.before:
                done = self.before(["validate"], root, self.empty("v"))
                runs["before"].append(_valid(done, len(fleet)))
        baseline = median_wall(runs["hcl2"])
        label = f"np validate, {len(fleet):,} blocks / {lines:,} lines, no parse cache"
        self.at_most("1", label, median_wall(runs["np"]), "s", baseline, 0.08)
        if runs["before"]:
            before = median_wall(runs["before"])
            self.info("1b", f"… the same, np at {self.before_label()}", before, "s", baseline)
        self.details["validate"] = {k: _walls(v) for k, v in runs.items() if v}

    # -- 2, 3 and 4: plans against np sim serve at 50 ms ---------------------------------------

    def plans(self) -> None:
        s = self.sizes
        points: dict[str, dict[str, Finished]] = {}
        for pools in (s.tiny_pools, s.small_pools, s.large_pools):
            fleet = Fleet(pools, PER_POOL)
            root = self.scratch / f"plan-{len(fleet)}"
            fleet.write(root, endpoint=None, changed_every=10, drift_every=25)
            with SimServer(root / "world.json", "--latency-ms", str(LATENCY_MS)) as sim:
                env = {**HTTP_ENV, "NP_ENDPOINT": sim.url}
                points[str(len(fleet))] = self.cold_and_warm(root, env, len(fleet))
                if pools == s.small_pools:
                    floors = [floor([sim.url]) for _ in range(s.plan_runs)]
            shutil.rmtree(root)
        tiny, small, large = (
            str(p * PER_POOL) for p in (s.tiny_pools, s.small_pools, s.large_pools)
        )
        cold = points[large]["cold"]
        self.at_most_absolute(
            "2", f"np plan --json, {int(large):,} node pools, HTTP {LATENCY_MS} ms, cold", cold
        )
        rss = max(points[large][kind].max_rss_mb for kind in ("cold", "warm"))
        self.figures.append(
            Figure("2m", "… peak RSS (cold or warm)", rss, "MB", target="≤ 250 MB",
                   passed=rss <= 250)
        )  # fmt: skip
        if "before cold" in points[large]:
            before = points[large]["before cold"]
            self.info("2b", f"… the same, np at {self.before_label()}", before.wall, "s")
        bound = (1 + math.ceil(s.small_pools / PARALLELISM)) * LATENCY_MS / 1000
        warm = points[small]["warm"]
        label = f"np plan --json, {int(small):,} node pools, HTTP {LATENCY_MS} ms, warm"
        self.at_most("3", label, warm.wall, "s", bound, 1.5)
        self.info(
            "3f",
            "… its floor: the imports and the same reads by httpx alone (bench.floor)",
            _median(floors).wall,
            "s",
            bound,
        )
        if "before warm" in points[small]:
            before = points[small]["before warm"]
            self.info("3b", f"… the same, np at {self.before_label()}", before.wall, "s", bound)
        for kind in ("cold", "warm"):
            walls = {size: points[size][kind].wall for size in (tiny, small, large)}
            per_small = (walls[small] - walls[tiny]) / (int(small) - int(tiny)) * 1000
            per_large = (walls[large] - walls[small]) / (int(large) - int(small)) * 1000
            ratio = per_large / per_small
            self.figures.append(
                Figure(
                    "4",
                    f"ms per node pool, {kind}: {int(small):,}→{int(large):,} against "
                    f"{int(tiny)}→{int(small):,} node pools",
                    per_large,
                    "ms",
                    per_small,
                    ratio,
                    "0.80–1.20×",
                    0.8 <= ratio <= 1.2,
                )
            )
        self.details["plans"] = {
            size: {kind: _detail(done) for kind, done in runs.items()}
            for size, runs in points.items()
        }

    def cold_and_warm(self, root: Path, env: dict[str, str], nodepools: int) -> dict[str, Finished]:
        """Median runs: each cold one with the parse cache emptied first; then warm ones."""
        argv = ["plan", "--json"]
        found: dict[str, list[Finished]] = {"cold": [], "warm": [], "before cold": []}
        found["before warm"] = []
        for _ in range(self.sizes.plan_runs):
            found["cold"].append(_planned(self.np(argv, root, {**env, **self.empty("p")})))
            if self.before:
                done = self.before(argv, root, {**env, **self.empty("b")})
                found["before cold"].append(_planned(done))
        for _ in range(self.sizes.plan_runs):
            found["warm"].append(_planned(self.np(argv, root, {**env, **self.cache("p")})))
            if self.before:
                done = self.before(argv, root, {**env, **self.cache("b")})
                found["before warm"].append(_planned(done))
        return {kind: _median(runs) for kind, runs in found.items() if runs}

    # -- rows -------------------------------------------------------------------------------

    def before_label(self) -> str:
        return self.before.label if self.before else ""

    def at_most(
        self, id_: str, measure: str, value: float, unit: str, baseline: float, limit: float
    ) -> None:
        ratio = value / baseline
        target = f"≤ {limit:.2f}×"
        self.figures.append(
            Figure(id_, measure, value, unit, baseline, ratio, target, ratio <= limit)
        )

    def at_most_absolute(self, id_: str, measure: str, done: Finished) -> None:
        self.figures.append(
            Figure(id_, measure, done.wall, "s", target="≤ 6 s", passed=done.wall <= 6.0)
        )

    def info(
        self, id_: str, measure: str, value: float, unit: str, baseline: float | None = None
    ) -> None:
        ratio = value / baseline if baseline else None
        self.figures.append(Figure(id_, measure, value, unit, baseline, ratio))


def _valid(done: Finished, nodepools: int) -> Finished:
    if f"({nodepools} node pools" not in done.check().stdout.decode():
        raise BenchError(f"np validate did not report {nodepools} node pools")
    return done


def _planned(done: Finished) -> Finished:
    if json.loads(done.check().stdout)["summary"]["change"] == 0:
        raise BenchError("np plan found nothing to change: it measured nothing")
    return done


def _median(runs: list[Finished]) -> Finished:
    return sorted(runs, key=lambda done: done.wall)[len(runs) // 2]


def _walls(runs: list[Finished]) -> list[float]:
    return [round(done.wall, 3) for done in runs]


def _detail(done: Finished) -> dict[str, float]:
    return {
        "wall": round(done.wall, 3),
        "cpu": round(done.cpu, 3),
        "max_rss_mb": round(done.max_rss_mb, 1),
    }


def _cell(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    return f"{value:.3g} {unit}"


def table(figures: list[Figure]) -> str:
    header = ["#", "measure", "figure", "baseline", "ratio", "target", "result"]
    rows = [
        [
            f.id,
            f.measure,
            _cell(f.value, f.unit),
            _cell(f.baseline, f.unit),
            "—" if f.ratio is None else f"{f.ratio:.2f}×",
            f.target,
            {True: "PASS", False: "FAIL", None: "info"}[f.passed],
        ]
        for f in figures
    ]
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))

    return "\n".join([line(header), "-+-".join("-" * w for w in widths), *map(line, rows)])


def measure(
    sizes: Sizes, scratch: Path, before: str | None = None, progress: Callable[[str], None] = print
) -> ParseBench:
    """Every section of this benchmark, in ``scratch``."""
    bench = ParseBench(sizes, scratch, revision(before, scratch) if before else None)
    for name, section in (("validate", bench.validate), ("plans", bench.plans)):
        started = time.perf_counter()
        progress(f"[parse: {name}] ...")
        section()
        progress(f"[parse: {name}] done in {time.perf_counter() - started:.1f} s")
    return bench


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Small sizes: a smoke test.")
    parser.add_argument("--before", metavar="REV", help="Also run np as it was at git REV.")
    parser.add_argument("--json", type=Path, help="Where to write the figures.")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="np-bench-parse-") as scratch:
        try:
            bench = measure(sizes, Path(scratch), args.before, progress)
        except (BenchError, LaunchError, subprocess.CalledProcessError) as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
    print(table(bench.figures))
    verdicts = [f.passed for f in bench.figures if f.passed is not None]
    print(f"\n{sum(verdicts)} of {len(verdicts)} targets hold" + (" (quick)" if args.quick else ""))
    if args.json:
        document = {"figures": [asdict(f) for f in bench.figures], "details": bench.details}
        args.json.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return 0 if all(verdicts) or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
