"""Workspaces as Terraform has them (issue 23, item 5): ``np workspace new|select|show|list|
delete``, the selection remembered in ``.np/`` (``--workspace`` and ``NP_WORKSPACE`` win),
``np.workspace`` in expressions, and a workspace refused when it would adopt node pools that
another workspace of the same backend manages. The np script runs as a subprocess on a
``sim://`` world; the world and state files are checked afterwards."""

from __future__ import annotations

import json
from typing import Any

from procs import Result, np, shell
from support import PROVIDER, Workspace, pool_world

PER_ENVIRONMENT = (
    PROVIDER
    + """
nodepool "cpu" {
  pool   = "pool-prod"
  name   = np.workspace == "default" ? "cpu" : "cpu-${np.workspace}"
  flavor = "f"
  count  = np.workspace == "staging" ? 1 : 3
}
"""
)


def ok(run: Result) -> str:
    """stdout of a run that succeeded and said nothing on stderr."""
    assert (run.code, run.stderr) == (0, ""), run.stderr
    return run.stdout


def live(ws: Workspace) -> dict[str, Any]:
    nodepools: dict[str, Any] = ws.world()["pools"]["pool-prod"]["nodepools"]
    return {name: spec["count"] for name, spec in nodepools.items()}


def staged(ws: Workspace) -> dict[str, Any]:
    """The staging workspace's state file, wherever the local backend keeps it."""
    [path] = [p for p in (ws.root / "state").rglob("*.json") if "staging" in str(p)]
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def test_new_select_show_list_delete_with_the_selection_remembered(ws: Workspace) -> None:
    ws.world(pool_world({"base": {"flavor": "f", "count": 1, "maxCount": 1}}))
    ws.write("main.hcl", PER_ENVIRONMENT)

    assert ok(np(ws, "workspace", "new", "staging")) == (
        "Created workspace staging and selected it: its state is empty.\n"
    )
    assert (ws.root / ".np" / "workspace").read_text() == "staging\n"
    assert (ws.root / ".np" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert ok(np(ws, "workspace", "show")) == "staging\n"
    assert ws.np("apply", "-auto-approve").code == 0  # the selection: staging's name and count
    assert live(ws) == {"base": 1, "cpu-staging": 1}
    assert sorted(staged(ws)["resources"]) == ["nodepool.cpu"]
    assert not ws.state_path.exists()  # nothing was written to the default workspace
    assert ok(np(ws, "workspace", "list")) == "  default\n* staging\n"

    # --workspace and NP_WORKSPACE win over the selection, which they leave as it was.
    assert ok(np(ws, "workspace", "show", "--workspace", "default")) == "default\n"
    plan = ws.np("plan", "-json", env={"NP_WORKSPACE": "default"})  # in-process
    [change] = plan.json()["resource_changes"]
    assert (change["name"], change["actions"], change["after"]["count"]) == (
        "cpu",
        ["create"],
        3,
    )
    assert (ws.root / ".np" / "workspace").read_text() == "staging\n"

    selected = np(ws, "workspace", "select", "default", env={"NP_WORKSPACE": "staging"})
    assert (selected.code, selected.stdout, selected.stderr) == (
        0,
        "Switched to workspace default.\n",
        "Warning: NP_WORKSPACE=staging is set and wins over the selected workspace; unset it "
        "to use the selection\n",
    )
    assert (ws.root / ".np" / "workspace").read_text() == "default\n"

    refused = np(ws, "workspace", "delete", "staging")
    assert (refused.code, refused.stderr) == (
        1,
        "Error: workspace staging still manages 1 node pool(s) (nodepool.cpu); deleting it "
        "forgets them (the node pools stay): pass --force to delete it anyway\n",
    )
    deleted = ws.np("workspace", "delete", "-force", "staging")
    assert (deleted.code, deleted.stdout) == (0, "Deleted workspace staging.\n")
    assert live(ws) == {"base": 1, "cpu-staging": 1}  # forgotten, not destroyed
    missing = np(ws, "workspace", "select", "staging")
    assert (missing.code, missing.stderr) == (
        1,
        "Error: workspace staging does not exist (there are: default); create it with "
        "np workspace new staging\n",
    )


def test_a_workspace_that_would_adopt_another_workspaces_node_pool_is_refused(
    ws: Workspace,
) -> None:
    ws.world(pool_world({"cpu": {"flavor": "f", "count": 2, "maxCount": 2}}))
    ws.write("main.hcl", PROVIDER + 'nodepool "cpu" {\n  pool  = "pool-prod"\n  count = 2\n}\n')
    assert ws.np("apply", "-auto-approve").code == 0
    default_state = ws.state_path.read_bytes()
    assert ws.np("workspace", "new", "staging").code == 0
    world = ws.world_path.read_bytes()

    suggestion = "np state rm --workspace default nodepool.cpu"
    run = np(ws, "plan")
    assert (run.code, run.stdout) == (1, "")
    assert run.stderr == (
        "Error: nodepool.cpu: pool-prod/cpu is managed by workspace "
        "default of this backend (as nodepool.cpu); managing it in workspace staging too "
        "would let two states change one node pool. Give each workspace node pools of its "
        'own (name = np.workspace == "default" ? "cpu" : "cpu-${np.workspace}"), or stop '
        f"managing it there first: {suggestion}\n"
    ), run.stderr
    applied = ws.np("apply", "-auto-approve")  # in-process: apply is refused the same way
    assert (applied.code, applied.stderr) == (1, run.stderr)
    assert ws.world_path.read_bytes() == world
    assert ws.state_path.read_bytes() == default_state
    assert staged(ws)["resources"] == {}

    # The suggestion, pasted into a shell while staging is selected, acts on default.
    pasted = shell(ws, suggestion)
    assert pasted.returncode == 0, pasted.stderr
    assert json.loads(ws.state_path.read_text())["resources"] == {}
    adopting = ws.np("plan", "-detailed-exitcode")
    assert adopting.code == 2, adopting.stderr
    assert "nodepool.cpu (adopted)" in adopting.stdout


def test_the_default_workspace_cannot_be_deleted_whichever_is_selected(ws: Workspace) -> None:
    ws.world(pool_world({}))
    ws.write("main.hcl", PROVIDER)
    message = "Error: the default workspace cannot be deleted\n"
    for before in ((), ("workspace", "new", "staging")):
        if before:
            assert ws.np(*before).code == 0
        run = np(ws, "workspace", "delete", "default")
        assert (run.code, run.stdout, run.stderr) == (1, "", message)
    current = np(ws, "workspace", "delete", "staging")
    assert (current.code, current.stderr) == (
        1,
        "Error: workspace staging is the current one; select another (np workspace select, "
        "--workspace or NP_WORKSPACE) to delete it\n",
    )
