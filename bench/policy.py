"""How much the five example policies (examples/policy) add to a plan: evaluation of a plan
document of 2,000 and of 10,000 node-pool changes, as ``np plan`` would run it after planning
(the sandboxed child process included).

    .venv/bin/python -m bench.policy            # best of 3 runs per size
    .venv/bin/python -m bench.policy --runs 1

Targets (issue 22): at most 0.5 s at 2,000 node pools, and linear growth: 10,000 node pools
cost at most 5.5 times what 2,000 do. Exits 1 when a target is missed.

The plan documents are synthetic but shaped like ``np plan --json``: wire ``before``/``after``
documents with the fields testkit/workload.py's fleet has, a patch and its reasons for each
update, mostly no-ops, a few creates and deletes, and a handful of changes the example
policies deny or warn about (so the rules produce results, as they would in review).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path
from typing import Any

from reconciler.config.configuration import Configuration, Provider
from reconciler.policy import (
    Limits,
    PolicyReport,
    PolicySource,
    build_input,
    evaluate_policies,
    fleet_from_plan,
    providers_entry,
)

ROOT = Path(__file__).resolve().parents[1]
FLAVORS = ("modelarts.vm.gpu.t4u8", "modelarts.vm.gpu.a100", "modelarts.vm.cpu.8u32g")
AZS = ("cn-north-4a", "cn-north-4b", "cn-north-4c")
TARGET_2000 = 0.5
TARGET_RATIO = 5.5
CONFIG = Configuration(Provider(region="cn-north-4", project_id="p"), ())
"""The configuration the policy input's ``providers`` describe."""


def _wire(pool: int, index: int, count: int) -> dict[str, Any]:
    """A wire PoolResource as the plan shows it (testkit/workload.py's fields)."""
    return {
        "flavor": FLAVORS[index % 2] if pool % 5 else FLAVORS[2],
        "count": count,
        "maxCount": count * 2,
        "azs": [{"az": AZS[index % 3], "count": count}],
        "labels": {
            "team": f"ml-{pool % 7}",
            "cost_center": f"cc-{pool % 11}",
            "node.kubernetes.io/role": "train" if index % 2 else "infer",
        },
        "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
        "tags": [{"key": "owner", "value": "ml-platform"}, {"key": "cost-center", "value": "1234"}],
        "network": {
            "vpc": f"vpc-{pool % 4:04d}",
            "subnet": f"subnet-{pool % 16:04d}",
            "securityGroups": [f"sg-{pool % 8:04d}"],
        },
        "extendParams": {"dockerBaseSize": "100"},
    }


def plan_document(nodepools: int) -> dict[str, Any]:
    """``nodepools`` resource changes in pools of 20: every 12th an update (count +1), every
    100th a create, two deletes, and a few the example policies refuse or warn about."""
    changes: list[dict[str, Any]] = []
    summary = {"add": 0, "change": 0, "destroy": 0, "drift": 0}
    for i in range(nodepools):
        pool, index = divmod(i, 20)
        name = f"gpu-{index:03d}"
        base: dict[str, Any] = {
            "address": f"nodepool.p{pool:03d}_{name.replace('-', '_')}",
            "pool": f"pool-{'prod' if pool % 2 else 'dev'}-{pool:03d}",
            "name": name,
            "adopted": False,
        }
        before = _wire(pool, index, 1 + index % 3)
        if i % 100 == 99:
            after = _wire(pool, index, 2)
            base.update(actions=["create"], before=None, after=after, reasons={"count": "config"})
            base["patch"] = {"metadata": {"name": name}, "spec": {"resources": after}}
            summary["add"] += 1
        elif i in (7, 8):
            base.update(actions=["delete"], before=before, after=None, patch=None, reasons={})
            summary["destroy"] += 1
        elif i % 12 == 5:
            after = copy.deepcopy(before)
            after["count"] += 1
            after["maxCount"] = after["count"] * 2
            after["azs"][0]["count"] = after["count"]
            resources = {k: after[k] for k in ("flavor", "count", "maxCount")}
            base.update(actions=["update"], before=before, after=after)
            base["patch"] = {"spec": {"resources": resources}}
            base["reasons"] = {"count": "config", "maxCount": "default"}
            summary["change"] += 1
        else:
            base.update(actions=["no-op"], before=before, after=before, patch=None, reasons={})
        changes.append(base)
    # what review would catch: a node pool changed without cost_center, an old one without
    # team (a warning), a NoExecute taint
    changes[5]["after"]["labels"].pop("cost_center")
    changes[20]["after"] = copy.deepcopy(changes[20]["after"])
    changes[20]["after"]["labels"].pop("team")
    changes[29]["after"]["taints"].append({"key": "evict", "value": "x", "effect": "NoExecute"})
    return {
        "format_version": "1",
        "applyable": True,
        "summary": summary,
        "prior_state": {"lineage": "6f1c1f0e-6b1b-4a55-9a43-000000000001", "serial": 7},
        "resource_changes": changes,
        "resource_drift": [],
    }


def measure(nodepools: int, runs: int) -> tuple[float, PolicyReport]:
    """Best wall time of ``runs`` evaluations, from the plan document to the report."""
    plan = plan_document(nodepools)
    source = PolicySource(ROOT / "examples" / "policy", "examples/policy", "operator")
    limits = Limits(cpu_seconds=120, wall_seconds=240, memory_mb=8192)
    best = float("inf")
    report = PolicyReport([])
    for _ in range(runs):
        start = time.perf_counter()
        doc = build_input(
            plan, fleet_from_plan(plan), "production", providers_entry(CONFIG, {}, {})
        )
        report = evaluate_policies(doc, [source], limits)
        best = min(best, time.perf_counter() - start)
    return best, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per size (the best counts)")
    args = parser.parse_args()
    times: dict[int, float] = {}
    for size in (2000, 10000):
        seconds, report = measure(size, args.runs)
        times[size] = seconds
        print(
            f"{size:>6} node pools: {seconds:6.2f} s  "
            f"({report.denied} denies, {report.warned} warnings from "
            f"{report.policies_denying} policies)"
        )
    ratio = times[10000] / times[2000]
    checks = [
        (f"2,000 node pools in {times[2000]:.2f} s", times[2000] <= TARGET_2000, "≤ 0.5 s"),
        (f"10,000 cost {ratio:.2f}× of 2,000", ratio <= TARGET_RATIO, "≤ 5.5× (linear)"),
    ]
    for what, ok, target in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {what} (target {target})")
    return 0 if all(ok for _w, ok, _t in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
