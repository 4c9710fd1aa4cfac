"""A node pool's identity is (pool, name): renames move state, identity changes are refused,
and nothing is deleted, orphaned or forgotten that the plan did not show (end to end, sim://)."""

from __future__ import annotations

from typing import Any

from support import PROVIDER, Workspace, pool_world

LIVE = {
    "batch": {"flavor": "f", "count": 2, "maxCount": 2, "labels": {"team": "ml"}},
    "infer": {"flavor": "f", "count": 1, "maxCount": 1},
}


def block(label: str, *extra: str, pool: str = "pool-prod") -> str:
    body = "\n".join(f"  {line}" for line in (f'pool = "{pool}"', *extra))
    return f'nodepool "{label}" {{\n{body}\n}}\n'


def managed(ws: Workspace, *blocks: str, world: dict[str, Any] | None = None) -> Workspace:
    ws.world(world or pool_world({name: dict(spec) for name, spec in LIVE.items()}))
    ws.write("main.hcl", PROVIDER + "".join(blocks))
    run = ws.np("apply", "--auto-approve")
    assert run.code == 0, run.stderr
    return ws


BATCH = block("batch", "count = 2", 'labels = { team = "ml" }')
INFER = block("infer", "count = 1")


def test_renaming_a_block_moves_the_address_and_sends_nothing(ws: Workspace) -> None:
    managed(ws, BATCH, INFER)
    before = ws.world()
    renamed = block("cpu_batch", 'name = "batch"', "count = 2", 'labels = { team = "ml" }')
    ws.write("main.hcl", PROVIDER + renamed + INFER)

    plan = ws.np("plan")
    assert plan.code == 0, plan.stderr
    assert "# nodepool.batch has moved to nodepool.cpu_batch" in plan.stdout
    assert "destroy" not in plan.stdout.replace("0 to destroy", "")
    doc = ws.np("plan", "--json").json()
    change = next(r for r in doc["resource_changes"] if r["address"] == "nodepool.cpu_batch")
    assert change["previous_address"] == "nodepool.batch"
    assert change["actions"] == ["no-op"] and change["patch"] is None
    assert "nodepool.batch" not in {r["address"] for r in doc["resource_changes"]}

    run = ws.np("apply", "--auto-approve")
    assert run.code == 0, run.stderr
    assert ws.world() == before  # no request changed anything
    resources = ws.state()["resources"]
    assert sorted(resources) == ["nodepool.cpu_batch", "nodepool.infer"]
    assert resources["nodepool.cpu_batch"]["applied"]["labels"] == {"team": "ml"}
    assert ws.np("plan", "--detailed-exitcode").code == 0


def test_a_rename_with_a_change_moves_and_updates_in_one_step(ws: Workspace) -> None:
    managed(ws, BATCH, INFER)
    renamed = block("cpu_batch", 'name = "batch"', "count = 2", 'labels = { team = "ai" }')
    ws.write("main.hcl", PROVIDER + renamed + INFER)
    plan = ws.np("plan")
    assert "# nodepool.cpu_batch will be updated in-place" in plan.stdout
    assert "# (moved from nodepool.batch)" in plan.stdout
    assert ws.np("apply", "--auto-approve").code == 0
    assert ws.nodepool("pool-prod", "batch")["labels"] == {"team": "ai"}
    assert sorted(ws.state()["resources"]) == ["nodepool.cpu_batch", "nodepool.infer"]


def test_a_moved_block_at_the_old_address_is_targeted_as_the_new_one(ws: Workspace) -> None:
    managed(ws, BATCH, INFER)
    renamed = block("cpu_batch", 'name = "batch"', "count = 2", 'labels = { team = "ml" }')
    ws.write("main.hcl", PROVIDER + renamed + INFER)
    doc = ws.np("plan", "--json", "--target", "nodepool.batch").json()
    assert [r["address"] for r in doc["resource_changes"]] == ["nodepool.cpu_batch"]


def test_changing_name_of_a_managed_node_pool_is_refused_naming_both_ways_on(
    ws: Workspace,
) -> None:
    managed(ws, BATCH, INFER)
    before = ws.world()
    ws.write("main.hcl", PROVIDER + BATCH + block("infer", 'name = "infer-v2"', "count = 1"))
    for command in (("plan",), ("apply", "--auto-approve")):
        run = ws.np(*command)
        assert run.code == 1
        assert run.stderr == (
            "Error: main.hcl:11: nodepool.infer: name: name cannot change on a managed node pool "
            "(state: pool-prod/infer, configuration: pool-prod/infer-v2). To give the node pool "
            'another address, change only the block label and keep name = "infer" in it (the '
            "label is the name unless name is written); to replace it, add a new block for "
            "pool-prod/infer-v2 and remove this one, so that the plan shows the create and the "
            "destroy\n"
        )
    assert ws.world() == before


def test_changing_pool_of_a_managed_node_pool_is_refused(ws: Workspace) -> None:
    world = pool_world({name: dict(spec) for name, spec in LIVE.items()})
    world["pools"]["pool-other"] = {"type": "Logical", "privileged": True, "nodepools": {}}
    managed(ws, BATCH, INFER, world=world)
    ws.write("main.hcl", PROVIDER + BATCH + block("infer", "count = 1", pool="pool-other"))
    run = ws.np("plan")
    assert run.code == 1
    assert "nodepool.infer: pool: pool cannot change on a managed node pool" in run.stderr
    assert "(state: pool-prod/infer, configuration: pool-other/infer)" in run.stderr


def test_replacing_a_node_pool_shows_the_create_and_the_destroy(ws: Workspace) -> None:
    managed(ws, BATCH, INFER)
    replacement = block("infer_v2", 'name = "infer-v2"', 'flavor = "f"', "count = 1")
    ws.write("main.hcl", PROVIDER + BATCH + replacement)
    plan = ws.np("plan")
    assert plan.code == 0, plan.stderr
    assert "nodepool.infer_v2 will be created" in plan.stdout
    assert "nodepool.infer will be destroyed" in plan.stdout
    assert "Plan: 1 to add, 0 to change, 1 to destroy." in plan.stdout


def test_a_node_pool_gone_outside_np_is_forgotten_in_so_many_words(ws: Workspace) -> None:
    managed(ws, BATCH, INFER)
    world = ws.world()
    del world["pools"]["pool-prod"]["nodepools"]["infer"]
    ws.world(world)
    ws.write("main.hcl", PROVIDER + BATCH)
    plan = ws.np("plan")
    assert plan.code == 0, plan.stderr
    assert "np will forget nodepool.infer: it no longer exists" in plan.stdout
    assert "record" not in plan.stdout
    doc = ws.np("plan", "--format", "markdown")
    assert "forget (no longer exists)" in doc.stdout
    assert ws.np("apply", "--auto-approve").code == 0
    assert sorted(ws.state()["resources"]) == ["nodepool.batch"]


def test_a_pool_in_another_workspace_is_not_taken_for_deleted(ws: Workspace) -> None:
    """ListPools leaves out other workspaces' pools; np reads the pool directly before it
    concludes anything, so its node pools are neither forgotten nor re-created."""
    managed(ws, BATCH, INFER)
    world = ws.world()
    world["pools"]["pool-prod"]["workspace_id"] = "ws-1"
    ws.world(world)
    ws.write("main.hcl", PROVIDER + BATCH)
    doc = ws.np("plan", "--json").json()
    infer = next(r for r in doc["resource_changes"] if r["address"] == "nodepool.infer")
    assert infer["actions"] == ["delete"]  # still known: removed from config -> destroyed
    ws.write("main.hcl", PROVIDER + BATCH + INFER)
    assert ws.np("plan", "--detailed-exitcode").code == 0


def test_logical_pool_keeps_a_console_maximum_when_max_count_is_left_out(ws: Workspace) -> None:
    world = pool_world({"batch": {"flavor": "f", "count": 2, "maxCount": 10}})
    ws.world(world)
    ws.write("main.hcl", PROVIDER + block("batch", "count = 3"))
    doc = ws.np("plan", "--json").json()
    [change] = doc["resource_changes"]
    assert change["patch"] == {"spec": {"resources": {"flavor": "f", "count": 3, "maxCount": 10}}}
    assert change["reasons"] == {"count": "config"}

    ws.write("main.hcl", PROVIDER + block("batch", "count = 12"))
    [change] = ws.np("plan", "--json").json()["resource_changes"]
    assert change["patch"]["spec"]["resources"]["maxCount"] == 12
    assert change["reasons"] == {"count": "config", "maxCount": "default"}
    assert "maxCount" not in change.get("after", {}) or change["after"]["maxCount"] == 12


def test_dedicate_pool_max_count_follows_count(ws: Workspace) -> None:
    ws.world(pool_world({"batch": {"flavor": "f", "count": 2, "maxCount": 2}}, kind="Dedicate"))
    ws.write("main.hcl", PROVIDER + block("batch", "count = 3"))
    [change] = ws.np("plan", "--json").json()["resource_changes"]
    assert change["patch"]["spec"]["resources"]["maxCount"] == 3
    assert change["reasons"] == {"count": "config", "maxCount": "config"}


def test_az_counts_that_do_not_add_up_are_refused_naming_the_azs(ws: Workspace) -> None:
    live = {"flavor": "f", "count": 4, "maxCount": 4, "azs": [{"az": "a", "count": 4}]}
    ws.world(pool_world({"batch": live}))
    azs = 'azs = [{ az = "a", count = 4 }]'
    managed(ws, block("batch", "count = 4", azs), world=ws.world())
    world = ws.world()
    world["pools"]["pool-prod"]["nodepools"]["batch"]["azs"] = [
        {"az": "a", "count": 2},
        {"az": "b", "count": 2},
    ]
    ws.world(world)
    before = ws.world()
    run = ws.np("apply", "--auto-approve")
    assert run.code == 1
    assert run.stderr == (
        "Error: main.hcl:7: nodepool.batch: azs: the AZ counts add up to 6, but count is 4; "
        "live also has b (2), which the configuration does not list: add each of them to azs "
        "(with count = 0 to empty it)\n"
    )
    assert ws.world() == before
    fixed = 'azs = [{ az = "a", count = 4 }, { az = "b", count = 0 }]'
    ws.write("main.hcl", PROVIDER + block("batch", "count = 4", fixed))
    assert ws.np("apply", "--auto-approve").code == 0
    assert ws.nodepool("pool-prod", "batch")["azs"] == [
        {"az": "a", "count": 4},
        {"az": "b", "count": 0},
    ]


def test_declared_azs_must_add_up_to_count(ws: Workspace) -> None:
    ws.world(pool_world({"batch": {"flavor": "f", "count": 4, "maxCount": 4}}))
    ws.write("main.hcl", PROVIDER + block("batch", "count = 5", 'azs = [{ az = "a", count = 4 }]'))
    run = ws.np("plan")
    assert run.code == 1
    assert "nodepool.batch: azs: the AZ counts add up to 4, but count is 5" in run.stderr


def test_reserved_service_tags_make_a_tags_change_a_plan_error(ws: Workspace) -> None:
    live = {
        "flavor": "f",
        "count": 1,
        "maxCount": 1,
        "tags": [{"key": "CCE-cluster", "value": "x"}, {"key": "owner", "value": "a"}],
    }
    ws.world(pool_world({"batch": live}))
    ws.write("main.hcl", PROVIDER + block("batch", 'tags = { owner = "b" }'))
    run = ws.np("plan")
    assert run.code == 1
    assert "nodepool.batch: tags: this node pool carries tags reserved by the service " in (
        run.stderr
    )
    assert "(CCE-cluster)" in run.stderr
    # Unchanged tags are not sent, so they are no obstacle.
    ws.write("main.hcl", PROVIDER + block("batch", 'tags = { owner = "a" }', "count = 2"))
    run = ws.np("plan", "--json")
    assert run.code == 0, run.stderr
    [change] = run.json()["resource_changes"]
    assert "tags" not in change["patch"]["spec"]["resources"]


def test_removing_a_network_block_nulls_only_what_np_applied(ws: Workspace) -> None:
    live = {
        "flavor": "f",
        "count": 1,
        "maxCount": 1,
        "network": {"vpc": "v", "subnet": "s", "securityGroups": ["old"]},
    }
    managed(
        ws,
        block("batch", 'network { security_groups = ["sg-1"] }'),
        world=pool_world({"batch": live}),
    )
    assert ws.nodepool("pool-prod", "batch")["network"]["securityGroups"] == ["sg-1"]
    ws.write("main.hcl", PROVIDER + block("batch"))
    [change] = ws.np("plan", "--json").json()["resource_changes"]
    assert change["patch"]["spec"]["resources"]["network"] == {"securityGroups": None}
    assert ws.np("apply", "--auto-approve").code == 0
    assert ws.nodepool("pool-prod", "batch")["network"] == {"vpc": "v", "subnet": "s"}


def test_drift_reports_declared_node_pools_np_does_not_manage(ws: Workspace) -> None:
    ws.world(pool_world({name: dict(spec) for name, spec in LIVE.items()}))
    ws.write("main.hcl", PROVIDER + BATCH + INFER)
    run = ws.np("drift")
    assert run.code == 2
    assert "nodepool.batch" in run.stdout and "unmanaged" in run.stdout
    doc = ws.np("drift", "--format", "json").json()
    assert doc["drifted"] is True
    assert {r["status"] for r in doc["resources"]} == {"unmanaged"}
    assert ws.np("apply", "--auto-approve").code == 0
    assert ws.np("drift").code == 0


def test_one_drift_check_writes_several_reports(ws: Workspace) -> None:
    managed(ws, BATCH, INFER)
    world = ws.world()
    world["pools"]["pool-prod"]["nodepools"]["batch"]["labels"] = {"team": "ai"}
    ws.world(world)
    elsewhere = ws.root.parent / "elsewhere.md"
    elsewhere.write_text("kept\n")
    (ws.root / "summary.md").symlink_to(elsewhere)
    reports = ("-format=junit=reports/drift.xml", "--format", "markdown=summary.md")
    run = ws.np("drift", *reports, "--format", "json")
    assert run.code == 1
    assert (
        run.stderr
        == f"Error: cannot write {ws.root / 'reports' / 'drift.xml'}: No such file or directory\n"
    )
    (ws.root / "reports").mkdir()
    run = ws.np("drift", *reports, "--format", "json")
    assert run.code == 2, run.stderr
    assert run.json()["drifted"] is True
    junit = (ws.root / "reports" / "drift.xml").read_text()
    assert junit == ws.np("drift", "--format", "junit").stdout
    assert not (ws.root / "summary.md").is_symlink() and elsewhere.read_text() == "kept\n"
    assert (ws.root / "summary.md").read_text() == ws.np("drift", "--format", "markdown").stdout
    assert ((ws.root / "summary.md").stat().st_mode & 0o777) == 0o600
    two = ws.np("drift", "--format", "json", "--format", "text")
    assert two.code == 1
    assert two.stderr == (
        "Error: --format: only one format can go to stdout; write the others to files "
        "(--format junit=drift.xml)\n"
    )
    empty = ws.np("drift", "--format", "junit=")
    assert empty.code == 1
    assert "junit= needs a file name (junit=FILE)" in empty.stderr


def test_drift_takes_target_and_exclude(ws: Workspace) -> None:
    managed(ws, BATCH, INFER)
    world = ws.world()
    world["pools"]["pool-prod"]["nodepools"]["batch"]["labels"] = {"team": "ai"}
    ws.world(world)
    assert ws.np("drift", "--target", "nodepool.infer").code == 0
    assert ws.np("drift", "--exclude", "nodepool.infer").code == 2
    doc = ws.np("drift", "--format", "json", "--exclude", "nodepool.batch").json()
    assert [r["address"] for r in doc["resources"]] == ["nodepool.infer"]
    bad = ws.np("drift", "--target", "nodepool.nope")
    assert bad.code == 1
    assert bad.stderr == ("Error: nodepool.nope: no such address in the configuration or state\n")


def test_a_moved_block_renames_without_a_request_and_names_both(ws: Workspace) -> None:
    managed(ws, BATCH, INFER)
    before = ws.world()
    renamed = block("gpu_batch", 'name = "batch"', "count = 2", 'labels = { team = "ml" }')
    moved = "moved {\n  from = nodepool.batch\n  to   = nodepool.gpu_batch\n}\n"
    ws.write("main.hcl", PROVIDER + renamed + INFER + moved)
    plan = ws.np("plan")
    assert plan.code == 0, plan.stderr
    assert "# nodepool.batch has moved to nodepool.gpu_batch" in plan.stdout
    assert ws.np("apply", "--auto-approve").code == 0
    assert ws.world() == before
    assert sorted(ws.state()["resources"]) == ["nodepool.gpu_batch", "nodepool.infer"]
    # Kept after the move, the block is a no-op: np plan says No changes.
    assert ws.np("plan", "--detailed-exitcode").code == 0


def test_a_label_another_controller_owns_is_neither_patched_nor_drift(ws: Workspace) -> None:
    owned = block(
        "batch",
        "count = 2",
        'labels = { team = "ml", tier = "gpu" }',
        'lifecycle {\n    ignore_changes = [labels["tier"]]\n  }',
    )
    managed(ws, owned, INFER)
    world = ws.world()
    world["pools"]["pool-prod"]["nodepools"]["batch"]["labels"]["tier"] = "cpu"
    ws.world(world)
    assert ws.np("drift").code == 0
    assert ws.np("plan", "--detailed-exitcode").code == 0
    assert ws.nodepool("pool-prod", "batch")["labels"]["tier"] == "cpu"


def test_ignore_changes_takes_bare_names(ws: Workspace) -> None:
    autoscaled = block("batch", "count = 2", "lifecycle {\n    ignore_changes = [count]\n  }")
    managed(ws, autoscaled, INFER)
    world = ws.world()
    world["pools"]["pool-prod"]["nodepools"]["batch"].update(count=7, maxCount=7)
    ws.world(world)
    assert ws.np("plan", "--detailed-exitcode").code == 0
    assert ws.np("drift").code == 0


def test_a_create_is_shown_in_the_configuration_names_and_shapes(ws: Workspace) -> None:
    ws.world(pool_world({name: dict(spec) for name, spec in LIVE.items()}))
    new = block(
        "fresh",
        'flavor = "f"',
        "count = 2",
        'tags = { owner = "ml" }',
        'taints = [{ key = "k", value = "v", effect = "NoSchedule" }]',
    )
    ws.write("main.hcl", PROVIDER + new)
    plan = ws.np("plan").stdout
    assert "      + max_count = 2\n" in plan
    assert '      + tags      = {\n          + "owner" = "ml"\n        }\n' in plan
    assert '      + taints    = [{"key": "k", "value": "v", "effect": "NoSchedule"}]' in plan


def test_a_plan_that_only_moves_says_apply_updates_state_only(ws: Workspace) -> None:
    managed(ws, BATCH, INFER)
    renamed = block("cpu_batch", 'name = "batch"', "count = 2", 'labels = { team = "ml" }')
    ws.write("main.hcl", PROVIDER + renamed + INFER)
    out = ws.np("plan").stdout
    assert out.endswith(
        "No changes. Your node pools match the configuration. "
        "np apply will only update its state.\n"
    )
    assert ws.np("apply", "--auto-approve").code == 0
    assert ws.np("plan").stdout.endswith("Your node pools match the configuration.\n")


def test_max_count_follows_count_in_the_plan_text(ws: Workspace) -> None:
    ws.world(pool_world({"batch": {"flavor": "f", "count": 2, "maxCount": 2}}, kind="Dedicate"))
    ws.write("main.hcl", PROVIDER + block("batch", "count = 3", 'labels = { a = "b" }'))
    out = ws.np("plan").stdout
    assert out.index("count     = 2 -> 3") < out.index("max_count = 2 -> 3") < out.index("labels")
