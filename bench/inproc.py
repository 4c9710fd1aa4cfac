"""CPU time of diff + render per node pool, in-process, with nothing else in the way.

    python -m bench.inproc --pools 100 --per-pool 20   # prints one JSON object

Config, state and live are built in memory from a synthetic fleet (untimed, no parsing); then
`make_plan`, the text renderer and the JSON plan document are timed with the process CPU clock,
best of `--repeat`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from reconciler.config.configuration import Configuration, DesiredNodePool, Provider
from reconciler.live import LivePool, LiveWorld
from reconciler.plan.planner import make_plan
from reconciler.render.plan_json import plan_document
from reconciler.render.text import Painter, render_plan
from reconciler.state.document import State
from testkit.workload import Fleet


def best_cpu(action: Callable[[], Any], repeat: int) -> float:
    """The smallest CPU time of `repeat` calls: the least disturbed by everything else."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        action()
        times.append(time.process_time() - start)
    return min(times)


def measure(pools: int, per_pool: int, repeat: int) -> dict[str, Any]:
    fleet = Fleet(pools, per_pool)
    config = Configuration(
        Provider(endpoint="sim://world.json"),
        tuple(
            DesiredNodePool(n.address, n.pool, n.name, fields)
            for n, fields in fleet.desired(changed_every=10)
        ),
    )
    state = State.from_json(fleet.state(), "state")
    world = fleet.world(drift_every=25)["pools"]
    live = LiveWorld(
        {name: LivePool(name, body["type"], body["nodepools"]) for name, body in world.items()}
    )
    plan = make_plan(config, state, live)
    timings = {
        "make_plan_s": best_cpu(lambda: make_plan(config, state, live), repeat),
        "render_text_s": best_cpu(lambda: render_plan(plan, Painter(False)), repeat),
        "plan_json_s": best_cpu(lambda: json.dumps(plan_document(plan), indent=2), repeat),
    }
    total = sum(timings.values())
    return {
        "nodepools": len(fleet),
        "changes": plan.summary.change,
        **timings,
        "total_s": total,
        "per_nodepool_us": total / len(fleet) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=100)
    parser.add_argument("--per-pool", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.pools, args.per_pool, args.repeat)))


if __name__ == "__main__":
    main()
