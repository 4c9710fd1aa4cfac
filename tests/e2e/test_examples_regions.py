"""examples/fleet/regions: one configuration over three regions (a for_each provider), in HCL
and YAML, planning identically; each region's world changes only by its own node pools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support import Workspace, example_twins, plan_of

REGIONS = ("ap-southeast-1", "cn-north-4", "cn-southwest-2")


def world(ws: Workspace, region: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((ws.root / f"world-{region}.json").read_text())
    return {
        pool: {
            n: {k: v for k, v in s.items() if not k.startswith("_")}
            for n, s in p["nodepools"].items()
        }
        for pool, p in doc["pools"].items()
    }


def test_three_regions_plan_identically_in_both_languages_and_converge(tmp_path: Path) -> None:
    hcl, yaml = example_twins("fleet/regions", tmp_path, nodepools=4)
    plan = plan_of(hcl)
    assert plan == plan_of(yaml)
    assert plan["summary"] == {"add": 1, "change": 2, "destroy": 0, "drift": 0}
    actions = {
        c["address"]: (c["provider"], c["name"], c["actions"][0]) for c in plan["resource_changes"]
    }
    assert actions == {
        'nodepool.inference["ap-southeast-1"]': (
            'modelarts.region["ap-southeast-1"]',
            "infer-t4",
            "create",
        ),
        'nodepool.inference["cn-north-4"]': (
            'modelarts.region["cn-north-4"]',
            "infer-t4",
            "update",
        ),
        'nodepool.inference["cn-southwest-2"]': (
            'modelarts.region["cn-southwest-2"]',
            "infer-t4",
            "no-op",
        ),
        "nodepool.training": ('modelarts.region["cn-north-4"]', "train-a100", "update"),
    }
    for ws in (hcl, yaml):
        applied = ws.np("apply", "--auto-approve")
        assert applied.code == 0, applied.stderr
        assert ws.np("plan", "--detailed-exitcode").code == 0
    for region in REGIONS:
        assert world(hcl, region) == world(yaml, region)
    assert world(hcl, "ap-southeast-1")["pool-infer"]["infer-t4"]["count"] == 2
    assert world(hcl, "cn-north-4")["pool-infer"]["infer-t4"]["count"] == 4
    assert world(hcl, "cn-southwest-2")["pool-infer"]["infer-t4"]["count"] == 2
    state = hcl.state()
    assert state["resources"]["nodepool.training"]["provider"] == 'modelarts.region["cn-north-4"]'
    assert sorted(state["providers"]) == [f'modelarts.region["{r}"]' for r in REGIONS]
    assert state["providers"]['modelarts.region["cn-north-4"]'] == {
        "project_id": "0a1b2c3d4e5f",
        "endpoint": "sim://world-cn-north-4.json",
    }
