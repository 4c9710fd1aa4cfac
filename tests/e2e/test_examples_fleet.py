"""examples/fleet: one for_each per resource pool, in HCL and YAML, planning identically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support import example_twins, plan_of


def test_the_fleet_plans_identically_in_both_languages_and_converges(tmp_path: Path) -> None:
    hcl, yaml = example_twins("fleet", tmp_path, nodepools=7)
    plan = plan_of(hcl)
    assert plan == plan_of(yaml)
    assert plan["summary"] == {"add": 4, "change": 2, "destroy": 0, "drift": 0}
    actions = {c["address"]: c["actions"][0] for c in plan["resource_changes"]}
    assert actions == {
        'nodepool.batch["etl"]': "update",
        'nodepool.batch["features"]': "create",
        'nodepool.batch["reports"]': "create",
        'nodepool.inference["t4-large"]': "create",
        'nodepool.inference["t4-small"]': "no-op",
        'nodepool.training["a100"]': "update",
        'nodepool.training["v100"]': "create",
    }
    for ws in (hcl, yaml):
        applied = ws.np("apply", "--auto-approve")
        assert applied.code == 0, applied.stderr
        assert ws.np("plan", "--detailed-exitcode").code == 0
    etl = hcl.nodepool("pool-batch", "batch-etl")
    assert etl["labels"] == {
        "team": "ml-platform",
        "env": "prod",
        "managed-by": "np",
        "workload": "batch",
        "job": "etl",
    }
    assert {"key": "owner", "value": "data-eng"} in etl["tags"]  # not np's: kept
    assert without_simulator_keys(hcl.world()) == without_simulator_keys(yaml.world())


def without_simulator_keys(value: Any) -> Any:
    """The world as node pools hold it: the simulator's own keys (``_created``) left out."""
    if isinstance(value, dict):
        return {k: without_simulator_keys(v) for k, v in value.items() if not k.startswith("_")}
    return value
