"""What a configuration directory remembers in ``.np/`` and what ``np init`` does with it
(issue 23, item 2), for the local backend: a state file deleted or replaced stops plan and
apply before anything is sent; ``np init -reconfigure`` starts from what is there; a backend
block added or removed stops every state command until ``np init`` says which state is the
real one. The np script runs as a subprocess on a ``sim://`` world.

Copying a local state into PostgreSQL or S3 (``np init -migrate-state``) is tested against
real servers in tests/process/test_remote_e2e.py; here, only the copy refused over another
lineage and forced with ``-force-copy`` (on the tests' S3 server)."""

from __future__ import annotations

import json
import shutil
from typing import Any

from procs import np
from remote import s3_place
from support import PROVIDER, Workspace, pool_world

from reconciler.state.document import parse
from reconciler.state.manager import StateManager

CONFIG = PROVIDER + "".join(
    f'nodepool "{name}" {{\n  pool  = "pool-prod"\n  count = 2\n}}\n' for name in ("a", "b")
)
PG_BLOCK = 'backend "pg" {\n  schema_name = "np"\n}\n'
CHANGED = (
    "since this directory last used it; run np init -migrate-state to copy the state, or "
    "np init -reconfigure to start from the new one\n"
)


def managed(ws: Workspace) -> dict[str, Any]:
    """Two live node pools, applied once (in-process: the set-up, not what is tested)."""
    spec = {"flavor": "f", "count": 2, "maxCount": 2}
    ws.world(pool_world({"a": dict(spec), "b": dict(spec)}))
    ws.write("main.hcl", CONFIG)
    run = ws.np("apply", "-auto-approve")
    assert run.code == 0, run.stderr
    return ws.state()


def seen(ws: Workspace) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ws.root / ".np" / "seen" / "default.json").read_text())
    return loaded


def test_a_deleted_state_file_stops_plan_and_apply_until_it_is_pushed_back(
    ws: Workspace,
) -> None:
    state = managed(ws)
    assert (seen(ws)["lineage"], seen(ws)["serial"]) == (state["lineage"], state["serial"])
    saved = ws.root / "saved.json"
    shutil.move(ws.state_path, saved)
    world = ws.world_path.read_bytes()

    run = np(ws, "plan")
    assert (run.code, run.stdout) == (1, ""), run.stdout
    assert run.stderr == (
        f"Error: {ws.state_path.relative_to(ws.root)} holds no state, but this directory "
        f"last saw lineage {state['lineage']} serial {state['serial']} (at "
        f"{seen(ws)['at']}) in workspace default there: np stops rather than start from an "
        "empty state, which would adopt or create again every node pool that state "
        "managed. To restore it, push a copy of it with np state push FILE (a file np "
        "state pull wrote, or a backup). To go on with what state/np.state.json holds now "
        "instead, run np init -reconfigure\n"
    )
    for args in (("apply", "-auto-approve"), ("init",), ("drift",), ("show",), ("generate",)):
        stopped = ws.np(*args)  # in-process: the same check
        assert stopped.code == 1 and "holds no state, but this directory" in stopped.stderr
    assert ws.world_path.read_bytes() == world
    assert not ws.state_path.exists()

    pushed = np(ws, "state", "push", "saved.json")
    assert pushed.code == 0, pushed.stderr
    plan = np(ws, "plan", "-detailed-exitcode")
    assert plan.code == 0, plan.stderr
    assert "No changes." in plan.stdout


def test_a_state_of_another_lineage_stops_plan_and_init_reconfigure_goes_on_with_it(
    ws: Workspace,
) -> None:
    state = managed(ws)
    other = dict(state, lineage="another-lineage", serial=7, resources={})
    ws.state_path.write_text(json.dumps(other))

    run = np(ws, "plan")
    assert run.code == 1
    assert run.stderr.startswith(
        "Error: state/np.state.json holds lineage another-lineage serial 7, but this directory "
        f"last saw lineage {state['lineage']} serial {state['serial']} ("
    ), run.stderr
    assert run.stderr.endswith("run np init -reconfigure\n"), run.stderr

    ready = np(ws, "init", "-reconfigure")
    assert (ready.code, ready.stderr) == (0, "")
    assert ready.stdout == (
        "np is ready: workspace default keeps its state in state/np.state.json (lineage "
        "another-lineage, serial 7, 0 node pool(s)).\n"
    )
    assert (seen(ws)["lineage"], seen(ws)["serial"]) == ("another-lineage", 7)
    adopting = np(ws, "plan", "-detailed-exitcode")
    assert adopting.code == 2, adopting.stderr
    assert "nodepool.a (adopted)" in adopting.stdout and "nodepool.b (adopted)" in adopting.stdout


def test_init_with_nothing_changed_says_where_the_state_is_and_refuses_state(
    ws: Workspace,
) -> None:
    state = managed(ws)
    before = ws.state_path.read_bytes()
    ready = f"lineage {state['lineage']}, serial {state['serial']}, 2 node pool(s)"
    run = np(ws, "init", "-migrate-state")
    assert (run.code, run.stderr) == (0, "")
    assert run.stdout == (
        "Nothing to migrate: this directory already uses local.\n"
        f"np is ready: workspace default keeps its state in state/np.state.json ({ready}).\n"
    )
    assert ws.state_path.read_bytes() == before
    refused = [
        np(ws, "init", "--state", "other.json"),
        np(ws, "init", "-migrate-state", "-reconfigure"),
    ]
    assert [(r.code, r.stderr) for r in refused] == [
        (
            1,
            "Error: --state names a state file for one command; np init records the backend "
            "the configuration names: run it without --state\n",
        ),
        (1, "Error: -migrate-state copies the old state and -reconfigure does not: pick one\n"),
    ]


def test_a_backend_block_added_or_removed_stops_every_state_command(ws: Workspace) -> None:
    managed(ws)
    before = ws.state_path.read_bytes()
    world = ws.world_path.read_bytes()

    ws.write("backend.hcl", PG_BLOCK)  # added: np does not reach for PostgreSQL at all
    run = np(ws, "plan")
    message = f"Error: the backend changed from local to pg (schema_name np) {CHANGED}"
    assert (run.code, run.stderr) == (1, message)
    for args in (("state", "list"), ("init",)):  # in-process: the same check
        stopped = ws.np(*args)
        assert (stopped.code, stopped.stderr) == (1, message)
    remembered = json.loads((ws.root / ".np" / "backend.json").read_text())
    assert remembered == {"type": "local", "settings": {}}

    # Removed: this directory last used pg (as np records it after a migration), and the
    # local file left behind is stale. np stops instead of going back to it.
    ws.remove("backend.hcl")
    (ws.root / ".np" / "backend.json").write_text(
        json.dumps({"type": "pg", "settings": {"schema_name": "np"}})
    )
    run = np(ws, "apply", "-auto-approve")
    assert (run.code, run.stderr) == (
        1,
        f"Error: the backend changed from pg (schema_name np) to local {CHANGED}",
    )
    ready = np(ws, "init", "-reconfigure")
    assert ready.code == 0, ready.stderr
    assert ready.stdout.splitlines()[-1] == (
        "The state in pg (schema_name np) was not copied and is left as it was."
    )
    assert json.loads((ws.root / ".np" / "backend.json").read_text())["type"] == "local"
    assert ws.state_path.read_bytes() == before
    assert ws.world_path.read_bytes() == world


def test_migrate_state_refuses_another_lineage_in_the_new_backend_unless_force_copy(
    ws: Workspace, s3_url: str
) -> None:
    """Local to S3 (a loopback store), where the bucket already holds someone else's state."""
    state = managed(ws)
    place = s3_place(s3_url)
    theirs = dict(state, lineage="someone-elses", serial=9, resources={})
    with StateManager(place.open()) as remote:
        remote.push(parse(json.dumps(theirs).encode(), "theirs"), force=False, timeout=0)
    ws.write("backend.hcl", place.block())

    refused = np(ws, "init", "-migrate-state", env=place.env)
    assert (refused.code, refused.stdout) == (1, "")
    assert refused.stderr == (
        f"Error: s3://{place.settings['bucket']}/modelarts/np.state.json: refusing to replace "
        f"state of lineage someone-elses with a state of lineage {state['lineage']} (it is "
        "another state; -force-copy replaces it anyway)\n"
    )
    assert json.loads((ws.root / ".np" / "backend.json").read_text())["type"] == "local"
    with StateManager(place.open()) as remote:
        assert (remote.load().lineage, remote.load().serial) == ("someone-elses", 9)

    forced = np(ws, "init", "-migrate-state", "-force-copy", env=place.env)
    assert (forced.code, forced.stderr) == (0, ""), forced.stderr
    assert forced.stdout.splitlines()[0] == (
        f"Workspace default: lineage {state['lineage']}, serial 10, 2 node pool(s): copied, "
        "and read back the same."  # replacing serial 9: a serial never goes back
    )
    plan = np(ws, "plan", "-detailed-exitcode", env=place.env)
    assert plan.code == 0, plan.stdout + plan.stderr
    with StateManager(place.open()) as remote:
        stored = remote.load()
    assert stored.lineage == state["lineage"]
    assert sorted(stored.resources) == ["nodepool.a", "nodepool.b"]
