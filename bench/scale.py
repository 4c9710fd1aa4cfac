"""Apply that scales: np's own CPU and wall time per change at three sizes, against a separate
`np sim serve`, and the plan of the largest fleet cold and warm.

    points = apply_points(scratch, pools=(15, 150, 500), per_pool=20)   # 300, 3,000, 10,000
    cold, warm = plan_points(scratch, pools=500, per_pool=20)    # against np sim serve too

Per-change figures that stay flat from 300 to 3,000 changes are what "O(1) work per change"
means in practice: np's own CPU comes from wait4(2) of np's process alone (the simulator runs
in its own), and the configuration is parsed once beforehand so the apply measures the apply.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.procs import HTTP_ENV, NP, BenchError, Finished, run
from reconciler.sim.launch import SimServer
from testkit.workload import Fleet

_COMPLETE = re.compile(rb"Apply complete! Resources: 0 added, (\d+) changed, 0 destroyed\.")


@dataclass(frozen=True)
class ApplyPoint:
    changes: int
    wall: float
    cpu: float

    @property
    def wall_per_change_ms(self) -> float:
        return 1000 * self.wall / self.changes

    @property
    def cpu_per_change_ms(self) -> float:
        return 1000 * self.cpu / self.changes


def apply_points(scratch: Path, pools: tuple[int, ...], per_pool: int) -> list[ApplyPoint]:
    """`np apply --no-wait` of one count change per node pool, for each fleet size."""
    points = []
    for count in pools:
        fleet = Fleet(count, per_pool)
        root = scratch / f"scale-{len(fleet)}"
        fleet.write(root, endpoint=None, changed_every=1, state=False)
        run([NP, "validate"], cwd=root).check()  # the parse cache: the apply measures the apply
        with SimServer(root / "world.json") as sim:
            env = {**HTTP_ENV, "NP_ENDPOINT": sim.url}
            argv = [NP, "apply", "--no-wait", "--auto-approve"]
            done = run(argv, cwd=root, env=env, timeout=1800).check()
        _expect_changed(done, len(fleet))
        points.append(ApplyPoint(len(fleet), done.wall, done.cpu))
        shutil.rmtree(root)
    return points


def plan_points(scratch: Path, pools: int, per_pool: int) -> tuple[Finished, Finished]:
    """`np plan --json` of the whole fleet against `np sim serve`, with an empty parse cache,
    then again: np's own memory, as against the real API (an in-process sim:// world would
    add its own ~40 MB to np's process)."""
    fleet = Fleet(pools, per_pool)
    root = scratch / f"plan-{len(fleet)}"
    fleet.write(root, endpoint=None, changed_every=10)
    with SimServer(root / "world.json") as sim:
        env = {**HTTP_ENV, "NP_ENDPOINT": sim.url, "NP_CACHE_DIR": str(root / "parse-cache")}
        cold = run([NP, "plan", "--json"], cwd=root, env=env, timeout=1800).check()
        warm = run([NP, "plan", "--json"], cwd=root, env=env, timeout=1800).check()
    shutil.rmtree(root)
    return cold, warm


def _expect_changed(done: Finished, expected: int) -> None:
    found = _COMPLETE.search(done.stdout)
    if found is None or int(found[1]) != expected:
        raise BenchError(f"apply did not report {expected} changed node pools")
