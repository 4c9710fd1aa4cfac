"""np's benchmark: the five targets of issue 5, each a ratio against a baseline from this run.

    .venv/bin/python -m bench.run [--quick] [--json OUT] [--only SECTION ...]

Prints a table (measure | figure | baseline | ratio | target | result) and writes every figure
with its raw samples as JSON (default bench/results.json). Exit status: 0 when every target
holds (always with --quick, whose sizes are too small to judge), 1 when one fails, 2 when the
harness itself could not measure. The machine is shared and noisy, so each figure is compared
with a baseline measured in the same minute, runs are interleaved, and repeats report medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench import backends, parse, scale
from bench.procs import HTTP_ENV, NP, PYTHON, BenchError, Finished, median_wall, run
from reconciler.sim.launch import LaunchError, RequestLog, SimServer
from testkit.workload import Fleet

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
"""np insists on credentials for an http:// endpoint; the simulator (--auth none) ignores them."""
CHANGED_EVERY = 10  # the configuration raises the count of every 10th node pool ...
DRIFT_EVERY = 25  # ... and every 25th had a label edited in the console
SECTIONS = (
    "startup",
    "plan",
    "validate",
    "sim",
    "apply",
    "scale",
    "cpu",
    "foreach",
    "backends",
    "parse",
)


@dataclass(frozen=True)
class Sizes:
    """How much work each measure does; `--quick` shrinks everything to a smoke test."""

    startup_runs: int = 7
    plan_pools: int = 100
    plan_per_pool: int = 20
    plan_runs: int = 3
    latency_ms: int = 50
    validate_blocks: int = 1000
    validate_runs: int = 3
    apply_pools: int = 10
    apply_per_pool: int = 20
    rate_limit: int = 40
    scaling_pools: tuple[int, ...] = (5, 100, 500)
    """Resource pools of 20 node pools: 100, 2,000 and 10,000 node pools."""
    cpu_pools: int = 100
    foreach_pools: int = 100
    """Resource pools of 20 node pools for the for_each comparison: 2,000 node pools."""
    foreach_runs: int = 3
    backend_pools: int = 15
    """Resource pools of 20 node pools whose counts one apply changes through each backend."""
    backend_rounds: int = 3
    scale_pools: tuple[int, ...] = (15, 150, 500)
    """Resource pools of 20 node pools for the apply-scaling curve: 300, 3,000, 10,000 changes."""


FULL = Sizes()
QUICK = Sizes(
    startup_runs=3,
    plan_pools=10,
    plan_per_pool=10,
    plan_runs=1,
    validate_blocks=100,
    validate_runs=1,
    apply_pools=2,
    apply_per_pool=10,
    scaling_pools=(1, 5, 10),
    cpu_pools=5,
    foreach_pools=5,
    foreach_runs=1,
    backend_pools=1,
    backend_rounds=1,
    scale_pools=(1, 2, 3),
)
PER_POOL = 20


@dataclass(frozen=True)
class Row:
    """One line of the table. `passed` is None for a figure that has no target yet."""

    id: str
    measure: str
    figure: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    target: str = "—"
    passed: bool | None = None

    def cells(self) -> list[str]:
        result = {True: "PASS", False: "FAIL", None: "info"}[self.passed]
        return [
            self.id,
            self.measure,
            _quantity(self.figure, self.unit),
            "—" if self.baseline is None else _quantity(self.baseline, self.unit),
            "—" if self.ratio is None else f"{self.ratio:.2f}×",
            self.target,
            result,
        ]


def _quantity(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "%":
        return f"{value:.1f} %"
    return f"{value:.3g} {unit}" if unit else f"{value:.3g}"


class Bench:
    """Runs the sections in a scratch directory and collects rows and raw details."""

    def __init__(self, sizes: Sizes, scratch: Path) -> None:
        self.sizes = sizes
        self.scratch = scratch
        self.rows: list[Row] = []
        self.details: dict[str, Any] = {}
        # np's parse cache (NP_CACHE_DIR): private to the run, so the user's is never touched
        # and cold runs are really cold. Children inherit it through the environment.
        self.cache = scratch / "parse-cache"
        os.environ["NP_CACHE_DIR"] = str(self.cache)

    def section(self, name: str, measure: Callable[[], None]) -> None:
        started = time.perf_counter()
        _progress(f"[{name}] ...")
        measure()
        elapsed = time.perf_counter() - started
        self.details.setdefault("section_seconds", {})[name] = round(elapsed, 2)
        _progress(f"[{name}] done in {elapsed:.1f} s")

    # -- 1: start-up -------------------------------------------------------------------------

    def startup(self) -> None:
        """`np --version` / `np --help` against a bare `import click` in the same interpreter."""
        commands = {
            "np --version": [NP, "--version"],
            "np --help": [NP, "--help"],
            "import click": [PYTHON, "-c", "import click"],
        }
        samples: dict[str, list[Finished]] = {name: [] for name in commands}
        for _ in range(self.sizes.startup_runs):  # interleaved, so noise hits all alike
            for name, argv in commands.items():
                samples[name].append(run(argv).check())
        baseline = median_wall(samples["import click"])
        for row_id, name in (("1a", "np --version"), ("1b", "np --help")):
            figure = median_wall(samples[name])
            self.rows.append(
                _row_at_most(
                    row_id, f"{name} (median of {len(samples[name])})", figure, "s", baseline, 2.0
                )
            )
        self.details["startup"] = {name: _walls(runs) for name, runs in samples.items()}

    # -- 2: plan over HTTP against the refresh model -----------------------------------------

    def plan_http(self) -> None:
        s = self.sizes
        fleet = Fleet(s.plan_pools, s.plan_per_pool)
        root = self.scratch / "plan"
        fleet.write(
            root, endpoint="sim://world.json", changed_every=CHANGED_EVERY, drift_every=DRIFT_EVERY
        )
        log = root / "requests.log"
        np_runs: list[Finished] = []
        base_runs: list[Finished] = []
        per_run_requests: list[int] = []
        requests = RequestLog(log)
        latency = ("--latency-ms", str(s.latency_ms))
        with SimServer(root / "world.json", *latency, request_log=log) as sim:
            url = sim.url
            env = {**HTTP_ENV, "NP_ENDPOINT": url}
            for _ in range(s.plan_runs):
                requests.take()
                done = run([NP, "plan", "--json"], cwd=root, env=env).check()
                per_run_requests.append(len(requests.take()))
                _expect_changes(done, len(fleet.changed(CHANGED_EVERY)))
                np_runs.append(done)
                base_runs.append(
                    run(
                        [PYTHON, "-m", "bench.refresh", url, str(root / "world.json")], cwd=ROOT
                    ).check()
                )
        figure, baseline = median_wall(np_runs), median_wall(base_runs)
        ratio = baseline / figure
        label = f"np plan --json, {len(fleet):,} node pools, HTTP {s.latency_ms} ms, median"
        if self.cache.is_dir():  # consecutive runs, as a user's: later ones find it warm
            label += ", parse cache warm after run 1"
        self.rows.append(
            Row("2a", label, figure, "s", baseline, ratio, "≥ 5.00× faster", ratio >= 5.0)
        )
        per_pool = max(per_run_requests) / s.plan_pools
        self.rows.append(
            Row(
                "2b",
                "requests per resource pool (np plan)",
                per_pool,
                "req/pool",
                target="≤ 1.2",
                passed=per_pool <= 1.2,
            )
        )
        self.details["plan_http"] = {
            "nodepools": len(fleet),
            "np_wall": _walls(np_runs),
            "np_cpu": [round(r.cpu, 3) for r in np_runs],
            "refresh_wall": _walls(base_runs),
            "requests_per_run": per_run_requests,
            "np_cache": self.cache.is_dir(),
        }

    # -- 3: validate one large HCL file against a bare hcl2.loads ------------------------------

    def validate(self) -> None:
        """Cold processes, each without np's parse cache; when np keeps one, also with it warm.

        The target is on what np does by default: with a cache, a user's second and later runs
        are warm, so the warm figure carries the target and the cold one is shown beside it.
        """
        s = self.sizes
        fleet = Fleet(s.validate_blocks // PER_POOL, PER_POOL)
        root = self.scratch / "validate"
        fleet.write(root, endpoint=None, state=False, one_file=True)
        lines = (root / "main.hcl").read_text().count("\n")
        cache = self.cache
        bare = [PYTHON, "-c", "import hcl2; hcl2.loads(open('main.hcl').read())"]
        validate = [NP, "validate"]
        cold: list[Finished] = []
        base: list[Finished] = []
        for _ in range(s.validate_runs):
            shutil.rmtree(cache, ignore_errors=True)
            cold.append(_expect_valid(run(validate, cwd=root).check(), len(fleet)))
            base.append(run(bare, cwd=root).check())
        baseline = median_wall(base)
        label = f"np validate, {len(fleet):,} blocks / {lines:,} lines"
        details: dict[str, Any] = {
            "blocks": len(fleet),
            "lines": lines,
            "np_cold_wall": _walls(cold),
            "np_cold_cpu": [round(r.cpu, 3) for r in cold],
            "hcl2_loads_wall": _walls(base),
            "np_cache": cache.is_dir(),
        }
        if cache.is_dir():
            warm = [
                _expect_valid(run(validate, cwd=root).check(), len(fleet))
                for _ in range(s.validate_runs)
            ]
            details["np_warm_wall"] = _walls(warm)
            self.rows.append(
                _row_at_most(
                    "3", f"{label}, warm parse cache", median_wall(warm), "s", baseline, 0.5
                )
            )
            cold_figure = median_wall(cold)
            self.rows.append(
                Row(
                    "3c",
                    f"{label}, no parse cache",
                    cold_figure,
                    "s",
                    baseline,
                    cold_figure / baseline,
                )
            )
        else:
            self.rows.append(
                _row_at_most("3", f"{label}, cold", median_wall(cold), "s", baseline, 0.5)
            )
        self.details["validate"] = details

    # -- for_each: one block against the same node pools written out --------------------------

    def for_each(self) -> None:
        """The same 2,000 node pools, written out block by block and as one for_each block:
        plan via sim:// with the parse cache warm (a user's usual run), and validate cold.
        Runs alternate between the two, so both see the same machine."""
        s = self.sizes
        fleet = Fleet(s.foreach_pools, PER_POOL)
        roots = {kind: self.scratch / f"foreach-{kind}" for kind in ("blocks", "for_each")}
        for kind, root in roots.items():
            fleet.write(
                root,
                endpoint="sim://world.json",
                changed_every=CHANGED_EVERY,
                drift_every=DRIFT_EVERY,
                for_each=kind == "for_each",
            )
        lines = {
            kind: sum(path.read_text().count("\n") for path in root.glob("*.hcl"))
            for kind, root in roots.items()
        }
        changes = len(fleet.changed(CHANGED_EVERY))
        plans: dict[str, list[Finished]] = {kind: [] for kind in roots}
        validates: dict[str, list[Finished]] = {kind: [] for kind in roots}
        for root in roots.values():  # fill the parse cache: later plans are warm
            _expect_changes(run([NP, "plan", "--json"], cwd=root).check(), changes)
        for _ in range(s.foreach_runs):
            for kind, root in roots.items():
                done = run([NP, "plan", "--json"], cwd=root).check()
                _expect_changes(done, changes)
                plans[kind].append(done)
        for _ in range(s.foreach_runs):
            for kind, root in roots.items():
                shutil.rmtree(self.cache, ignore_errors=True)
                done = run([NP, "validate"], cwd=root).check()
                validates[kind].append(_expect_valid(done, len(fleet)))
        label = f"{len(fleet):,} node pools from one for_each"
        base = f"the same written out ({lines['blocks']:,} lines)"
        plan_figure, plan_base = median_wall(plans["for_each"]), median_wall(plans["blocks"])
        self.rows.append(
            _row_at_most(
                "f1", f"np plan --json, {label}, warm (sim://)", plan_figure, "s", plan_base, 1.25
            )
        )
        cold, cold_base = median_wall(validates["for_each"]), median_wall(validates["blocks"])
        self.rows.append(
            _row_at_most(
                "f2",
                f"np validate, {label} ({lines['for_each']} lines), cold",
                cold,
                "s",
                cold_base,
                0.5,
            )
        )
        self.details["for_each"] = {
            "nodepools": len(fleet),
            "lines": lines,
            "baseline": base,
            **{f"plan_{k}_wall": _walls(v) for k, v in plans.items()},
            **{f"validate_{k}_wall": _walls(v) for k, v in validates.items()},
        }

    # -- 4 and scaling: plan via sim:// ------------------------------------------------------

    def sim_plans(self) -> None:
        """Plan time at three sizes via sim://; the middle one is target 4's peak RSS."""
        points = []
        for pools in self.sizes.scaling_pools:
            fleet = Fleet(pools, PER_POOL)
            root = self.scratch / f"sim-{len(fleet)}"
            fleet.write(
                root,
                endpoint="sim://world.json",
                changed_every=CHANGED_EVERY,
                drift_every=DRIFT_EVERY,
            )
            done = run([NP, "plan", "--json"], cwd=root).check()
            _expect_changes(done, len(fleet.changed(CHANGED_EVERY)))
            points.append(
                {
                    "nodepools": len(fleet),
                    "wall": round(done.wall, 3),
                    "cpu": round(done.cpu, 3),
                    "max_rss_mb": round(done.max_rss_mb, 1),
                }
            )
            shutil.rmtree(root)
        small, middle, large = points
        rss = float(middle["max_rss_mb"])
        self.rows.append(
            Row(
                "4",
                f"peak RSS, np plan --json, {middle['nodepools']:,} node pools (sim://)",
                rss,
                "MB",
                target="≤ 250 MB",
                passed=rss <= 250,
            )
        )
        for point in points:
            self.rows.append(
                Row(
                    "s",
                    f"np plan --json, {point['nodepools']:,} node pools (sim://)",
                    float(point["wall"]),
                    "s",
                )
            )
        slope = (float(large["wall"]) - float(middle["wall"])) / (
            int(large["nodepools"]) - int(middle["nodepools"])
        )
        first = (float(middle["wall"]) - float(small["wall"])) / (
            int(middle["nodepools"]) - int(small["nodepools"])
        )
        self.rows.append(
            Row(
                "s",
                f"marginal ms per node pool, {middle['nodepools']:,}→{large['nodepools']:,}"
                f" vs {small['nodepools']:,}→{middle['nodepools']:,} (1.00× = linear)",
                slope * 1000,
                "ms",
                first * 1000,
                slope / first if first > 0 else None,
            )
        )
        self.details["sim_plans"] = points

    # -- 5: apply under a rate limit ---------------------------------------------------------

    def apply_rate_limited(self) -> None:
        s = self.sizes
        fleet = Fleet(s.apply_pools, s.apply_per_pool)
        root = self.scratch / "apply"
        fleet.write(root, endpoint=None, changed_every=1)
        log = root / "requests.log"
        argv = [NP, "apply", "--no-wait", "--auto-approve"]
        rate = ("--rate-limit", str(s.rate_limit))
        with SimServer(root / "world.json", *rate, request_log=log) as sim:
            done = run(argv, cwd=root, env={**HTTP_ENV, "NP_ENDPOINT": sim.url}).check()
        requests = RequestLog(log).read()
        throttled = sum(1 for r in requests if r["status"] == 429)
        patches = sum(1 for r in requests if r["method"] == "PATCH" and r["status"] == 200)
        if patches != len(fleet):
            raise BenchError(f"apply sent {patches} successful PATCHes, expected {len(fleet)}")
        bound = (len(requests) - throttled) / s.rate_limit
        limit = 1.5 * bound + 1
        self.rows.append(
            Row(
                "5a",
                f"np apply --no-wait, {len(fleet)} count changes, {s.rate_limit} req/s",
                done.wall,
                "s",
                bound,
                done.wall / bound,
                f"≤ {limit:.1f} s",
                done.wall <= limit,
            )
        )
        share = 100 * throttled / len(requests)
        self.rows.append(
            Row(
                "5b",
                f"answered 429 ({throttled} of {len(requests)} requests)",
                share,
                "%",
                target="< 10 %",
                passed=share < 10,
            )
        )
        self.details["apply"] = {
            "wall": round(done.wall, 3),
            "cpu": round(done.cpu, 3),
            "requests": len(requests),
            "throttled": throttled,
            "bound_s": bound,
            "statuses": _count(str(r["status"]) for r in requests),
        }

    # -- apply that scales: per-change cost from 300 to 10,000 changes ----------------------

    def apply_scaling(self) -> None:
        small, middle, large = scale.apply_points(self.scratch, self.sizes.scale_pools, PER_POOL)
        label = "np apply --no-wait against np sim serve, per change"
        measures: tuple[tuple[str, str, Callable[[scale.ApplyPoint], float]], ...] = (
            ("15a", "np's own CPU", lambda p: p.cpu_per_change_ms),
            ("15b", "wall", lambda p: p.wall_per_change_ms),
        )
        for row_id, what, unit_of in measures:
            base, figure = unit_of(small), unit_of(middle)
            self.rows.append(
                _row_at_most(
                    row_id,
                    f"{label}: {what}, {middle.changes:,} vs {small.changes:,} changes",
                    figure,
                    "ms",
                    base,
                    1.5,
                )
            )
            far = unit_of(large)
            self.rows.append(
                Row(row_id, f"… and at {large.changes:,} changes", far, "ms", base, far / base)
            )
        cold, warm = scale.plan_points(self.scratch, self.sizes.scale_pools[-1], PER_POOL)
        nodepools = self.sizes.scale_pools[-1] * PER_POOL
        for run_name, done in (("cold", cold), ("warm", warm)):
            self.rows.append(
                Row("15c", f"np plan --json, {nodepools:,} node pools, {run_name}", done.wall, "s")
            )
        rss = max(cold.max_rss_mb, warm.max_rss_mb)
        self.rows.append(
            Row(
                "15d",
                f"peak RSS, np plan --json, {nodepools:,} node pools (np sim serve)",
                rss,
                "MB",
                target="≤ 250 MB",
                passed=rss <= 250,
            )
        )
        self.details["scale"] = {
            "apply": [
                {"changes": p.changes, "wall": round(p.wall, 3), "cpu": round(p.cpu, 3)}
                for p in (small, middle, large)
            ],
            "plan": {
                name: {
                    "wall": round(d.wall, 3),
                    "cpu": round(d.cpu, 3),
                    "max_rss_mb": round(d.max_rss_mb, 1),
                }
                for name, d in (("cold", cold), ("warm", warm))
            },
        }

    # -- CPU of diff + render, in-process ----------------------------------------------------

    def cpu_per_nodepool(self) -> None:
        argv = [PYTHON, "-m", "bench.inproc", "--pools", str(self.sizes.cpu_pools)]
        result = json.loads(run(argv, cwd=ROOT).check().stdout)
        self.rows.append(
            Row(
                "c",
                f"CPU of make_plan + render, per node pool ({result['nodepools']:,})",
                result["per_nodepool_us"],
                "µs",
            )
        )
        self.details["cpu_per_nodepool"] = result

    # -- state backends: the same apply through local, pg and s3 state ------------------------

    def state_backends(self) -> None:
        measured = backends.measure(
            self.scratch, self.sizes.backend_pools, PER_POOL, self.sizes.backend_rounds
        )
        local = measured.median("local")
        label = f"np apply --no-wait, {measured.changes} changes, state in"
        self.rows.append(Row("b", f"{label} the local file", local, "s"))
        local_cpu = measured.median_cpu("local")
        for row_id, kind, at_most in (("ba", "pg", 1.5), ("bb", "s3", 2.0)):
            figure = measured.median(kind)
            where = {"pg": "PostgreSQL", "s3": "S3 (moto)"}[kind]
            self.rows.append(_row_at_most(row_id, f"{label} {where}", figure, "s", local, at_most))
            cpu = measured.median_cpu(kind)
            self.rows.append(
                Row(f"{row_id}c", "… np's own CPU", cpu, "s", local_cpu, cpu / local_cpu)
            )
        self.details["state_backends"] = {
            "changes": measured.changes,
            "wall": measured.walls,
            "cpu": measured.cpus,
        }

    # -- parsing at fleet scale (bench/parse.py, issue 25) ------------------------------------

    def parse_targets(self) -> None:
        sizes = parse.QUICK if self.sizes == QUICK else parse.FULL
        measured = parse.measure(sizes, self.scratch / "parse", progress=_progress)
        for f in measured.figures:
            row = Row(
                f"p{f.id}", f.measure, f.value, f.unit, f.baseline, f.ratio, f.target, f.passed
            )
            self.rows.append(row)
        self.details["parse"] = measured.details


def _row_at_most(
    row_id: str, measure: str, figure: float, unit: str, baseline: float, at_most: float
) -> Row:
    ratio = figure / baseline
    return Row(
        row_id, measure, figure, unit, baseline, ratio, f"≤ {at_most:.2f}×", ratio <= at_most
    )


def _expect_changes(done: Finished, expected: int) -> None:
    """The plan must have work to do, or the benchmark measures nothing."""
    changes = json.loads(done.stdout)["summary"]["change"]
    if changes < expected:
        raise BenchError(f"np plan reported {changes} changes, expected at least {expected}")


def _expect_valid(done: Finished, nodepools: int) -> Finished:
    """np validate must have read every block, or it measured something smaller."""
    if f"({nodepools} node pools" not in done.stdout.decode():
        raise BenchError(f"np validate did not report {nodepools} node pools: {done.stdout!r}")
    return done


def _walls(runs: list[Finished]) -> list[float]:
    return [round(r.wall, 3) for r in runs]


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def table(rows: list[Row]) -> str:
    header = ["#", "measure", "figure", "baseline", "ratio", "target", "result"]
    body = [row.cells() for row in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(cells) for cells in body)])


def grammar_cache_present() -> bool:
    """python-hcl2 recompiles its grammar (~3 s) in every process when its cache is missing."""
    import importlib.util

    spec = importlib.util.find_spec("hcl2")
    if spec is None or spec.origin is None:
        return False
    return (Path(spec.origin).parent / ".lark_cache.bin").exists()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Small sizes: a smoke test.")
    parser.add_argument("--json", type=Path, help="Where to write the results.")
    parser.add_argument(
        "--only", nargs="+", choices=SECTIONS, default=SECTIONS, help="Run only these sections."
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    out = args.json or HERE / ("results-quick.json" if args.quick else "results.json")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="np-bench-") as scratch:
        bench = Bench(sizes, Path(scratch))
        sections = {
            "startup": bench.startup,
            "plan": bench.plan_http,
            "validate": bench.validate,
            "sim": bench.sim_plans,
            "apply": bench.apply_rate_limited,
            "scale": bench.apply_scaling,
            "cpu": bench.cpu_per_nodepool,
            "foreach": bench.for_each,
            "backends": bench.state_backends,
            "parse": bench.parse_targets,
        }
        try:
            for name in args.only:
                bench.section(name, sections[name])
        except (BenchError, LaunchError) as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
    elapsed = time.perf_counter() - started
    verdicts = [row.passed for row in bench.rows if row.passed is not None]
    all_pass = all(verdicts)
    print(table(bench.rows))
    print(
        f"\n{'quick (smoke) run, sizes too small to judge targets; ' if args.quick else ''}"
        f"{sum(verdicts)} of {len(verdicts)} targets hold; {elapsed:.0f} s"
    )
    document = {
        "format_version": 1,
        "mode": "quick" if args.quick else "full",
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "hcl2_grammar_cache": grammar_cache_present(),
        },
        "sizes": asdict(sizes),
        "elapsed_s": round(elapsed, 1),
        "all_targets_pass": all_pass,
        "rows": [asdict(row) for row in bench.rows],
        "details": bench.details,
    }
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(f"Wrote {out}")
    return 0 if all_pass or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
