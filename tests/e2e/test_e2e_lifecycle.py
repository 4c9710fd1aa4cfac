"""Create, delete, lifecycle and targeting, end to end against sim://."""

from __future__ import annotations

from support import PROVIDER, Workspace, pool_world

TWO_LIVE = {
    "train": {"flavor": "f", "count": 2, "maxCount": 2, "labels": {"team": "ml"}},
    "infer": {"flavor": "f", "count": 1, "maxCount": 1},
}

TWO_HCL = (
    PROVIDER
    + """
nodepool "train" {
  pool   = "pool-prod"
  count  = 2
  labels = { team = "ml" }
}

nodepool "infer" {
  pool  = "pool-prod"
  count = 1
}
"""
)


def adopted(ws: Workspace, config: str = TWO_HCL) -> Workspace:
    ws.world(pool_world({name: dict(spec) for name, spec in TWO_LIVE.items()}))
    ws.write("main.hcl", config)
    run = ws.np("apply", "--auto-approve")
    assert run.code == 0, run.stderr
    return ws


def test_create_then_delete_round_trip(ws: Workspace) -> None:
    adopted(ws)
    ws.write(
        "batch.hcl",
        """
        nodepool "batch" {
          pool   = "pool-prod"
          flavor = "modelarts.vm.cpu.8u"
          count  = 2
          labels = { team = "data" }
        }
        """,
    )
    doc = ws.np("plan", "--json").json()
    batch = next(r for r in doc["resource_changes"] if r["address"] == "nodepool.batch")
    assert batch["actions"] == ["create"]
    assert batch["patch"] == {
        "apiVersion": "v2",
        "kind": "NodePool",
        "metadata": {"name": "batch"},
        "spec": {
            "resources": {
                "flavor": "modelarts.vm.cpu.8u",
                "count": 2,
                "maxCount": 2,
                "labels": {"team": "data"},
            }
        },
    }
    assert doc["summary"]["add"] == 1
    run = ws.np("apply", "--auto-approve")
    assert run.code == 0, run.stderr
    assert "1 added" in run.stdout
    assert ws.nodepool("pool-prod", "batch")["count"] == 2
    assert "nodepool.batch" in ws.state()["resources"]

    ws.remove("batch.hcl")
    text = ws.np("plan")
    assert "nodepool.batch will be destroyed" in text.stdout
    assert "Plan: 0 to add, 0 to change, 1 to destroy." in text.stdout
    run = ws.np("apply", "--auto-approve")
    assert run.code == 0, run.stderr
    assert "batch" not in ws.world()["pools"]["pool-prod"]["nodepools"]
    assert "nodepool.batch" not in ws.state()["resources"]


def test_create_needs_flavor_and_count(ws: Workspace) -> None:
    adopted(ws)
    ws.write("new.hcl", 'nodepool "gpu" {\n  pool = "pool-prod"\n  count = 1\n}\n')
    run = ws.np("plan")
    assert run.code == 1
    assert "new.hcl:1: nodepool.gpu: flavor:" in run.stderr
    assert "flavor is required to create it" in run.stderr


def test_unmanaged_live_node_pool_is_never_touched(ws: Workspace) -> None:
    ws.world(pool_world({**TWO_LIVE, "other": {"flavor": "f", "count": 5, "maxCount": 5}}))
    ws.write("main.hcl", TWO_HCL)
    doc = ws.np("plan", "--json").json()
    assert [r["address"] for r in doc["resource_changes"]] == ["nodepool.infer", "nodepool.train"]
    assert ws.np("apply", "--auto-approve").code == 0
    assert ws.nodepool("pool-prod", "other")["count"] == 5


def test_prevent_destroy_is_remembered_after_the_block_is_gone(ws: Workspace) -> None:
    adopted(
        ws,
        TWO_HCL.replace(
            "count = 1\n}", "count = 1\n  lifecycle {\n    prevent_destroy = true\n  }\n}"
        ),
    )
    assert ws.state()["resources"]["nodepool.infer"]["lifecycle"] == {"prevent_destroy": True}
    ws.write("main.hcl", TWO_HCL.split('nodepool "infer"')[0])
    before = ws.world()
    run = ws.np("plan")
    assert run.code == 1
    assert "nodepool.infer: removed from the configuration" in run.stderr
    assert "prevent_destroy" in run.stderr
    assert ws.np("apply", "--auto-approve").code == 1
    assert ws.world() == before


def test_ignore_changes_count_lets_an_autoscaler_own_it(ws: Workspace) -> None:
    adopted(
        ws,
        TWO_HCL.replace("count  = 2\n", 'count  = 2\n  lifecycle { ignore_changes = ["count"] }\n'),
    )
    world = ws.world()
    world["pools"]["pool-prod"]["nodepools"]["train"]["count"] = 7
    world["pools"]["pool-prod"]["nodepools"]["train"]["maxCount"] = 7
    ws.world(world)
    assert ws.np("plan", "--detailed-exitcode").code == 0
    drift = ws.np("drift", "--format", "json")
    assert drift.code == 0, drift.stdout + drift.stderr
    assert drift.json()["drifted"] is False


def test_targeting_plans_only_the_target_and_warns(ws: Workspace) -> None:
    adopted(ws)
    ws.write(
        "main.hcl", TWO_HCL.replace("count  = 2", "count  = 3").replace("count = 1", "count = 2")
    )
    doc = ws.np("plan", "--json", "--target", "nodepool.train").json()
    assert [r["address"] for r in doc["resource_changes"]] == ["nodepool.train"]
    text = ws.np("plan", "--exclude", "nodepool.train")
    assert "nodepool.infer will be updated" in text.stdout
    assert "nodepool.train" not in text.stdout
    assert "targeting is in effect" in text.stdout
    run = ws.np("apply", "--auto-approve", "--target", "nodepool.infer")
    assert run.code == 0
    assert ws.nodepool("pool-prod", "infer")["count"] == 2
    assert ws.nodepool("pool-prod", "train")["count"] == 2
    bad = ws.np("plan", "--target", "nodepool.nope")
    assert bad.code == 1 and "nodepool.nope: no such address" in bad.stderr


def test_deleting_the_last_node_pool_of_a_pool_is_refused(ws: Workspace) -> None:
    ws.world(pool_world({"train": dict(TWO_LIVE["train"])}))
    ws.write("main.hcl", TWO_HCL.split('nodepool "infer"')[0])
    assert ws.np("apply", "--auto-approve").code == 0
    ws.write("main.hcl", PROVIDER)
    run = ws.np("plan")
    assert run.code == 1
    assert "cannot delete the last node pool" in run.stderr
