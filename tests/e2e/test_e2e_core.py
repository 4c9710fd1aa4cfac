"""The whole loop against the in-process simulator: config → plan → approval → apply → state."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner
from support import PROVIDER, Workspace, pool_world

from reconciler.cli import cli

TRAIN_LIVE = {
    "flavor": "modelarts.vm.gpu.t4u8",
    "count": 2,
    "maxCount": 2,
    "labels": {"team": "ml", "owner": "ops"},
    "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
}

TRAIN_HCL = (
    PROVIDER
    + """
nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = 3
  labels = { team = "ml", stage = "dev" }
}
"""
)


def seeded(ws: Workspace, config: str = TRAIN_HCL) -> Workspace:
    ws.world(pool_world({"train": dict(TRAIN_LIVE)}))
    ws.write("main.hcl", config)
    return ws


def test_acceptance_adopt_update_remove_and_drift(ws: Workspace) -> None:
    seeded(ws)
    plan = ws.np("plan", "--json")
    assert plan.code == 0, plan.stderr
    doc = plan.json()
    [change] = doc["resource_changes"]
    assert change["address"] == "nodepool.train"
    assert change["actions"] == ["update"]
    assert change["adopted"] is True
    assert change["patch"] == {
        "spec": {
            "resources": {
                "flavor": "modelarts.vm.gpu.t4u8",
                "count": 3,
                "maxCount": 3,
                "labels": {"stage": "dev"},
            }
        }
    }
    # max_count is not written and the Logical pool's live maximum (2) is below the new count:
    # np raises it to count, and says that this is its default, not the configuration.
    assert change["reasons"] == {"count": "config", "maxCount": "default", "labels.stage": "config"}
    assert doc["summary"] == {"add": 0, "change": 1, "destroy": 0, "drift": 0}

    applied = ws.np("apply", "--auto-approve")
    assert applied.code == 0, applied.stderr
    assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in applied.stdout
    live = ws.nodepool("pool-prod", "train")
    assert live["count"] == 3 and live["maxCount"] == 3
    assert live["labels"] == {"team": "ml", "owner": "ops", "stage": "dev"}
    assert live["taints"] == TRAIN_LIVE["taints"]

    state = ws.state()
    assert state["version"] == 1 and state["serial"] == 1
    resource = state["resources"]["nodepool.train"]
    assert resource["pool"] == "pool-prod" and resource["name"] == "train"
    assert resource["applied"] == {  # maxCount was np's default on a Logical pool: not owned
        "flavor": "modelarts.vm.gpu.t4u8",
        "count": 3,
        "labels": {"team": "ml", "stage": "dev"},
    }
    assert ws.np("plan", "--detailed-exitcode").code == 0

    # Removing a label that np applied nulls it, with its reason.
    ws.write("main.hcl", TRAIN_HCL.replace(', stage = "dev"', ""))
    doc = ws.np("plan", "--json").json()
    [change] = doc["resource_changes"]
    assert change["adopted"] is False
    assert change["patch"]["spec"]["resources"]["labels"] == {"stage": None}
    assert change["reasons"] == {"labels.stage": "removed-from-config"}
    assert ws.np("plan", "--detailed-exitcode").code == 2

    # A console edit shows as drift.
    ws.write("main.hcl", TRAIN_HCL)
    world = ws.world()
    world["pools"]["pool-prod"]["nodepools"]["train"]["labels"]["team"] = "ai"
    ws.world(world)
    doc = ws.np("plan", "--json").json()
    [change] = doc["resource_changes"]
    assert change["reasons"] == {"labels.team": "drift"}
    assert change["patch"]["spec"]["resources"]["labels"] == {"team": "ml"}
    assert doc["resource_drift"] == [
        {
            "address": "nodepool.train",
            "changes": [{"path": "labels.team", "applied": "ml", "live": "ai"}],
        }
    ]
    text = ws.np("plan")
    assert "has changed outside of np" in text.stdout
    assert "labels.team" in text.stdout and "# drift" in text.stdout


def test_hcl_and_yaml_give_identical_plans(make_ws: Callable[[str], Workspace]) -> None:
    hcl = seeded(make_ws("hcl"))
    yaml = make_ws("yaml")
    yaml.world(pool_world({"train": dict(TRAIN_LIVE)}))
    yaml.write(
        "main.yaml",
        """
        provider: {endpoint: "sim://world.json"}
        nodepools:
          train:
            pool: pool-prod
            flavor: modelarts.vm.gpu.t4u8
            count: 3
            labels: {team: ml, stage: dev}
        """,
    )
    a, b = hcl.np("plan", "--json"), yaml.np("plan", "--json")
    assert a.code == b.code == 0, a.stderr + b.stderr
    a_doc, b_doc = a.json(), b.json()
    for doc in (a_doc, b_doc):
        doc.pop("prior_state")
    assert a_doc == b_doc


def test_apply_without_a_terminal_refuses_at_once(ws: Workspace) -> None:
    seeded(ws)
    before = ws.world()
    run = ws.np("apply")
    assert run.code == 1
    assert "--auto-approve" in run.stderr
    assert ws.world() == before
    assert not ws.state_path.exists()


def test_no_changes_means_nothing_to_approve(ws: Workspace) -> None:
    seeded(ws)
    assert ws.np("apply", "--auto-approve").code == 0
    world = ws.world_path.read_bytes()
    run = ws.np("apply")
    assert run.code == 0, run.stderr
    assert "No changes." in run.stdout
    assert ws.world_path.read_bytes() == world


def test_flavor_change_is_a_plan_error_naming_the_field(ws: Workspace) -> None:
    seeded(ws, TRAIN_HCL.replace("gpu.t4u8", "gpu.v100"))
    run = ws.np("plan")
    assert run.code == 1
    assert "main.hcl:7: nodepool.train: flavor: flavor cannot change" in run.stderr


def test_unknown_pool_and_physical_pool_rules(ws: Workspace) -> None:
    ws.world(pool_world({"train": dict(TRAIN_LIVE)}, kind="Dedicate"))
    ws.write("main.hcl", TRAIN_HCL.replace("count  = 3", "count  = 3\n  max_count = 4"))
    run = ws.np("plan")
    assert run.code == 1
    assert "nodepool.train: max_count: max_count (4) must equal count (3)" in run.stderr
    ws.write("main.hcl", TRAIN_HCL.replace('pool   = "pool-prod"', 'pool   = "pool-nope"'))
    run = ws.np("plan")
    assert run.code == 1
    assert (
        'main.hcl:6: nodepool.train: pool: resource pool "pool-nope" does not exist' in run.stderr
    )


def test_state_commands_and_import(ws: Workspace) -> None:
    seeded(ws)
    run = ws.np("import", "nodepool.train", "pool-prod/train")
    assert run.code == 0, run.stderr
    assert ws.np("state", "list").stdout.split() == ["nodepool.train"]
    shown = json.loads(ws.np("state", "show", "--json", "nodepool.train").stdout)
    assert shown["nodepool.train"]["live"]["labels"] == {"team": "ml", "owner": "ops"}
    text = ws.np("state", "show", "nodepool.train").stdout
    assert text.startswith("# nodepool.train: pool-prod/train, last applied ")
    assert 'nodepool "train" {\n  pool' in text and "max_count" not in text
    assert ws.np("show").stdout.count('nodepool "train" {') == 1
    assert ws.np("import", "nodepool.train", "pool-prod/train").code == 1
    rm = ws.np("state", "rm", "nodepool.train")
    assert rm.code == 0 and "untouched" in rm.stdout
    assert ws.np("state", "list").stdout == ""
    assert ws.nodepool("pool-prod", "train") == TRAIN_LIVE
    missing = ws.np("state", "show", "nodepool.nope")
    assert missing.code == 1 and "nodepool.nope: not in state" in missing.stderr


def test_failed_node_pool_does_not_lose_the_others(ws: Workspace) -> None:
    """One patch is refused by the API; the other is applied and journaled; exit 1."""
    ws.world(
        {
            "pools": {
                "pool-prod": {
                    "type": "Logical",
                    "privileged": True,
                    "nodepools": {"train": dict(TRAIN_LIVE)},
                },
                "pool-small": {
                    "type": "Logical",
                    "privileged": False,
                    "nodepools": {"infer": {"flavor": "f", "count": 1, "maxCount": 1}},
                },
            }
        }
    )
    ws.write(
        "main.hcl",
        TRAIN_HCL
        + """
nodepool "infer" {
  pool = "pool-small"
  tags = { owner = "ml" }
}
""",
    )
    run = ws.np("apply", "--auto-approve")
    assert run.code == 1
    assert "Error: nodepool.infer:" in run.stderr and "400" in run.stderr
    assert "1 failed (nodepool.infer)" in run.stdout
    assert ws.nodepool("pool-prod", "train")["count"] == 3
    assert list(ws.state()["resources"]) == ["nodepool.train"]


def test_version_and_validate(ws: Workspace) -> None:
    assert ws.np("--version").stdout.strip() == "np 0.1.0"
    assert ws.np("version").stdout.strip() == "np 0.1.0"
    seeded(ws)
    run = ws.np("validate")
    assert run.code == 0
    assert "Success! The configuration is valid (1 node pool in 1 file)." in run.stdout


def test_usage_errors_exit_1_not_2(ws: Workspace) -> None:
    """Exit 2 means "changes pending" to CI; a typo in a pipeline must never look like that."""
    seeded(ws)
    for args in (("plan", "--bogus"), ("apply", "--wait-timeout", "soon"), ("nosuch",)):
        run = ws.np(*args)
        assert run.code == 1, args
        assert "Error:" in run.stderr
    assert ws.np("plan", "--help").code == 0


def test_global_options_also_work_after_the_command(ws: Workspace, tmp_path: Path) -> None:
    """`np apply -C DIR --state FILE --no-color`, as Terraform users type it."""
    seeded(ws)
    elsewhere = tmp_path / "elsewhere.json"
    result = CliRunner().invoke(
        cli,
        ["apply", "-C", str(ws.root), "--state", str(elsewhere), "--no-color", "--auto-approve"],
    )
    assert result.exit_code == 0, result.stderr
    assert "\x1b[" not in result.stdout
    assert json.loads(elsewhere.read_text())["serial"] == 1
    assert not ws.state_path.exists()
