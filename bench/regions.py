"""What another region costs: ``np plan`` over 4 regions of 500 node pools each against four
``np sim serve --latency-ms 50`` (one per region), against the same plan over one region of
500. Regions are read side by side, each on its own client (issue 24's target: ≤ 1.3×, not 4×).

    python -m bench.regions              # prints the figures, the ratio and PASS or FAIL
    python -m bench.regions --runs 5     # more runs per side (default 3; medians)

Each region holds the same fleet shape (``--pools`` resource pools of ``--per-pool`` node pools;
the configuration raises every 10th count, every 25th node pool has a label edited "in the
console"), and np already manages every node pool (a state is seeded), so the plans hold updates
and drift. The 4-region configuration is one ``for_each`` provider over the regions, and the
node pools of each region written out block by block, one file per region and pool. Runs of the
two sides alternate (the machine is shared), each a fresh process with the parse cache warm,
and the figures are medians of wall time from spawn to exit. Beside each pair of plans,
``bench.floor`` reads the same servers with httpx alone (no np), which is what the plans cannot
go below; the last lines say how much of the target that floor leaves for np's own work.

Exit status: 0 when the target holds, 1 when it fails, 2 when the harness could not measure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.floor import floor
from bench.procs import HTTP_ENV, NP, BenchError, run
from reconciler.sim.launch import SimServer
from testkit.workload import Fleet, nodepool_hcl

REGIONS = ("r1", "r2", "r3", "r4")
TARGET = 1.3
LATENCY_MS = "50"


def _region_files(fleet: Fleet, region: str | None) -> dict[str, str]:
    """The node-pool blocks of one region, one file per pool; ``region`` None: the default
    provider (labels and files as a one-region configuration has them)."""
    files: dict[str, str] = {}
    for n, fields in fleet.desired(changed_every=10):
        block = nodepool_hcl(n, fields)
        name = f"{n.pool}.hcl"
        if region is not None:
            label = f'nodepool "{n.label}"'
            block = block.replace(label, f'nodepool "{region}_{n.label}"', 1)
            block = block.replace("{\n", f'{{\n  provider  = modelarts.region["{region}"]\n', 1)
            name = f"{region}-{n.pool}.hcl"
        files[name] = files.get(name, "") + "\n" + block
    return files


def _state(fleet: Fleet, regions: tuple[str, ...] | None) -> dict[str, Any]:
    """A state managing every node pool: of the default provider, or of each region."""
    one = fleet.state()
    if regions is None:
        return one
    resources = {
        f"nodepool.{region}_{address.removeprefix('nodepool.')}": {
            "provider": f'modelarts.region["{region}"]',
            **resource,
        }
        for region in regions
        for address, resource in one["resources"].items()
    }
    return {**one, "resources": dict(sorted(resources.items()))}


def _write(root: Path, files: dict[str, str], state: dict[str, Any]) -> None:
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).write_text(text)
    (root / "state").mkdir()
    (root / "state" / "np.state.json").write_text(json.dumps(state, indent=1))


def prepare(scratch: Path, fleet: Fleet, urls: dict[str, str]) -> tuple[Path, Path]:
    """The one-region and the 4-region workspaces; ``urls``: each region's server."""
    one = scratch / "one-region"
    provider = f'provider "modelarts" {{\n  endpoint = "{urls[REGIONS[0]]}"\n}}\n'
    _write(one, {"main.hcl": provider, **_region_files(fleet, None)}, _state(fleet, None))
    endpoints = "\n".join(f'    {r} = "{urls[r]}"' for r in REGIONS)
    providers = f"""locals {{
  endpoints = {{
{endpoints}
  }}
}}

provider "modelarts" {{
  alias    = "region"
  for_each = local.endpoints
  endpoint = each.value
}}
"""
    files = {"main.hcl": providers}
    for region in REGIONS:
        files |= _region_files(fleet, region)
    four = scratch / "four-regions"
    _write(four, files, _state(fleet, REGIONS))
    return one, four


def plan_once(root: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one ``np plan --json`` in ``root``."""
    done = run([NP, "plan", "--json"], cwd=root, env=HTTP_ENV).check()
    doc = json.loads(done.stdout)
    if not doc["summary"]["change"]:
        raise BenchError(f"the plan in {root} changes nothing: the workload is not what it says")
    return done.wall, done.cpu


def measure(
    scratch: Path, pools: int, per_pool: int, runs: int
) -> dict[str, list[tuple[float, float]]]:
    """Each side's (wall, CPU) seconds, run by run."""
    fleet = Fleet(pools, per_pool)
    figures: dict[str, list[tuple[float, float]]] = {
        side: [] for side in ("one", "four", "floor one", "floor four")
    }
    with ExitStack() as stack:
        urls: dict[str, str] = {}
        for region in REGIONS:
            world = scratch / f"world-{region}.json"
            world.write_text(json.dumps(fleet.world(drift_every=25)))
            server = stack.enter_context(SimServer(world, "--latency-ms", LATENCY_MS))
            urls[region] = server.url
        one, four = prepare(scratch, fleet, urls)
        plan_once(one)  # warm the parse cache (and the servers) for both sides
        plan_once(four)
        for _ in range(runs):
            figures["one"].append(plan_once(one))
            figures["four"].append(plan_once(four))
            for side, reads in (
                ("floor one", [urls[REGIONS[0]]]),
                ("floor four", [*urls.values()]),
            ):
                done = floor(reads)
                figures[side].append((done.wall, done.cpu))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per side (medians)")
    parser.add_argument("--pools", type=int, default=25, help="resource pools per region")
    parser.add_argument("--per-pool", type=int, default=20, help="node pools per resource pool")
    args = parser.parse_args(argv)
    per_region = args.pools * args.per_pool
    try:
        with tempfile.TemporaryDirectory(prefix="np-bench-regions-") as scratch:
            figures = measure(Path(scratch), args.pools, args.per_pool, args.runs)
    except BenchError as exc:
        print(f"bench.regions: could not measure: {exc}", file=sys.stderr)
        return 2
    medians = {
        side: [statistics.median(run[i] for run in runs) for i in (0, 1)]
        for side, runs in figures.items()
    }
    ratio = medians["four"][0] / medians["one"][0]
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    for side, what in (("one", "1 region"), ("four", f"each of {len(REGIONS)} regions")):
        wall, cpu = medians[side]
        walls = ", ".join(f"{w:.2f}" for w, _ in figures[side])
        print(
            f"np plan --json, {per_region:,} node pools in {what}: {wall:.2f} s wall "
            f"(runs: {walls}), np's CPU {cpu:.2f} s, waiting {max(0.0, wall - cpu):.2f} s"
        )
    cpu_ratio = medians["four"][1] / medians["one"][1]
    print(f"CPU ratio {cpu_ratio:.2f}x (4x the node pools to parse, plan and render)")
    one_floor, four_floor = medians["floor one"][0], medians["floor four"][0]
    more = (len(REGIONS) - 1) * per_region
    extra = medians["four"][0] - medians["one"][0] - (four_floor - one_floor)
    allowed = (TARGET - 1) * medians["one"][0] - (four_floor - one_floor)
    print(
        f"floor (python -m bench.floor: the imports and the same reads by httpx, none of np's "
        f"work): 1 region {one_floor:.2f} s, {len(REGIONS)} regions {four_floor:.2f} s, "
        f"ratio {four_floor / one_floor:.2f}x"
    )
    print(
        f"np's own work on the {more:,} node pools of the other regions: "
        f"{extra / more * 1e6:.0f} µs each; the target leaves {allowed / more * 1e6:.0f} µs"
    )
    print(f"ratio {ratio:.2f}x (target <= {TARGET}x): {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
