"""State as users see it through the CLI: state mv/pull/push, workspaces, import as adoption,
the project a state was written for, a state gone missing beside its backup, and an apply that
cannot record what it did. Exit codes, messages, and the world and state files afterwards."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from support import Workspace, pool_world

from reconciler.api.client import ModelArtsClient
from reconciler.config.configuration import Backend as BackendBlock
from reconciler.errors import Pos, StateError
from reconciler.ops import open_state
from reconciler.state.document import ResourceState
from reconciler.state.local import LocalJournal
from reconciler.state.local_lock import LocalLocker
from reconciler.state.locking import holder_info
from reconciler.state.manager import Session
from reconciler.state.protocols import JournalRecord

LIVE = {
    "train": {"flavor": "f", "count": 2, "maxCount": 2, "labels": {"team": "ai", "owner": "ops"}},
    "infer": {"flavor": "f", "count": 1, "maxCount": 1},
}


def config(project: str | None = None, endpoint: str = "sim://world.json", **blocks: str) -> str:
    provider = f'  endpoint = "{endpoint}"\n' + (f'  project_id = "{project}"\n' if project else "")
    body = "".join(
        f'nodepool "{label}" {{\n  pool = "pool-prod"\n{fields}}}\n'
        for label, fields in blocks.items()
    )
    return f'provider "modelarts" {{\n{provider}}}\n' + body


TWO = {"train": "  count = 2\n", "infer": "  count = 1\n"}


def seeded(ws: Workspace, **blocks: str) -> Workspace:
    ws.world(pool_world({name: dict(spec) for name, spec in LIVE.items()}))
    ws.write("main.hcl", config(**(blocks or TWO)))
    return ws


def applied(ws: Workspace, *args: str) -> None:
    run = ws.np("apply", "--auto-approve", *args)
    assert run.code == 0, run.stderr


def unchanged(ws: Workspace) -> tuple[bytes, dict[str, bytes]]:
    files = {
        str(p.relative_to(ws.root)): p.read_bytes()
        for p in sorted((ws.root / "state").rglob("*"))
        if p.is_file()
    }
    return ws.world_path.read_bytes(), files


# --- state mv --------------------------------------------------------------------------------


def test_state_mv_renames_an_address_without_a_request(ws: Workspace) -> None:
    seeded(ws)
    applied(ws)
    before = ws.state()
    world = ws.world_path.read_bytes()
    run = ws.np("state", "mv", "nodepool.train", "nodepool.gpu")
    assert (run.code, run.stdout, run.stderr) == (0, "Moved nodepool.train to nodepool.gpu.\n", "")
    assert ws.world_path.read_bytes() == world
    after = ws.state()
    assert sorted(after["resources"]) == ["nodepool.gpu", "nodepool.infer"]
    assert after["resources"]["nodepool.gpu"] == before["resources"]["nodepool.train"]
    assert (after["lineage"], after["serial"]) == (before["lineage"], before["serial"] + 2)
    ws.write("main.hcl", config(gpu='  name = "train"\n  count = 2\n', infer="  count = 1\n"))
    plan = ws.np("plan", "--detailed-exitcode")
    assert plan.code == 0, plan.stdout + plan.stderr
    assert "No changes." in plan.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nodepool.nope", "nodepool.x"), "nodepool.nope: not in state (STATE)"),
        (
            ("nodepool.train", "nodepool.infer"),
            "nodepool.infer: already in state; np state rm it first, or choose another address",
        ),
        (
            ("nodepool.train", "train"),
            "'train' is not a node pool address (nodepool.NAME or nodepool.NAME[\"KEY\"])",
        ),
    ],
)
def test_state_mv_refusals_change_nothing(
    ws: Workspace, args: tuple[str, str], message: str
) -> None:
    seeded(ws)
    applied(ws)
    before = unchanged(ws)
    run = ws.np("state", "mv", *args)
    assert (run.code, run.stderr) == (1, f"Error: {message}\n".replace("STATE", str(ws.state_path)))
    assert unchanged(ws) == before


# --- state pull / push -----------------------------------------------------------------------


def test_pull_prints_the_state_with_its_journal_replayed_and_writes_nothing(
    ws: Workspace,
) -> None:
    seeded(ws)
    empty = ws.np("state", "pull")
    assert (empty.code, empty.stdout) == (0, "")
    assert empty.stderr == f"No state is stored yet ({ws.state_path}).\n"
    applied(ws)
    pulled = ws.np("state", "pull")
    assert pulled.code == 0
    assert pulled.stdout == ws.state_path.read_text()

    # a run killed after one more change: the journal holds it; pull shows it, changes nothing
    doc = ws.state()
    journal = LocalJournal(Path(f"{ws.state_path}.journal"))
    extra = ResourceState("pool-prod", "x", {"count": 1}, {"count": 1}, "2026-11-27T04:31:00Z")
    journal.append([JournalRecord(doc["lineage"], doc["serial"], "nodepool.x", extra)])
    journal.close()
    before = unchanged(ws)
    replayed = json.loads(ws.np("state", "pull").stdout)
    assert replayed["serial"] == doc["serial"] + 1
    assert replayed["resources"]["nodepool.x"] == extra.to_json()
    assert unchanged(ws) == before


def test_push_moves_a_state_between_workspaces_and_guards_the_serial(ws: Workspace) -> None:
    seeded(ws)
    applied(ws)
    saved = ws.root / "saved.json"
    saved.write_text(ws.np("state", "pull").stdout)
    doc = json.loads(saved.read_text())
    staged = ws.root / "state" / "np.state.d" / "staging" / "np.state.json"

    push = ws.np("--workspace", "staging", "state", "push", str(saved))
    assert push.code == 0, push.stderr
    assert push.stdout == (
        f"Pushed {saved} to {staged} (lineage {doc['lineage']}, serial {doc['serial']}).\n"
    )
    assert json.loads(staged.read_text()) == doc
    again = ws.np("state", "push", str(saved), "--workspace", "staging")
    assert again.stdout == f"{staged} already holds this state; nothing was written.\n"

    # the workspace moves on; pushing the old copy would take it back
    ws.write("main.hcl", config(train="  count = 3\n", infer="  count = 1\n"))
    applied(ws, "--workspace", "staging")
    newer = json.loads(staged.read_text())
    assert newer["serial"] > doc["serial"]
    old = ws.np("state", "push", str(saved), "--workspace", "staging")
    assert old.code == 1
    assert old.stderr == (
        f"Error: {staged}: refusing to replace state serial {newer['serial']} with the older "
        f"serial {doc['serial']} (--force replaces it anyway)\n"
    )
    forced = ws.np("state", "push", "--force", str(saved), "--workspace", "staging")
    assert forced.code == 0, forced.stderr
    written = json.loads(staged.read_text())
    assert written["serial"] == newer["serial"] + 1  # never back, even when forced
    assert written["resources"] == doc["resources"]

    stranger = dict(doc, lineage="another-lineage", serial=99)
    saved.write_text(json.dumps(stranger))
    other = ws.np("state", "push", str(saved))
    assert other.code == 1
    assert "refusing to replace state of lineage" in other.stderr
    assert json.loads(ws.state_path.read_text()) == doc

    saved.write_text('{"version": 1')
    bad = ws.np("state", "push", str(saved))
    assert bad.code == 1 and bad.stderr.startswith(f"Error: {saved}: not valid JSON: ")


# --- workspaces ------------------------------------------------------------------------------


def test_workspaces_keep_one_state_each(ws: Workspace) -> None:
    seeded(ws)
    assert ws.np("workspace", "list").stdout == "* default\n"
    applied(ws, "--workspace", "staging")  # the global option after the command, too
    staged = ws.root / "state" / "np.state.d" / "staging" / "np.state.json"
    assert sorted(json.loads(staged.read_text())["resources"]) == [
        "nodepool.infer",
        "nodepool.train",
    ]
    assert not ws.state_path.exists()
    modes = {
        str(p.relative_to(ws.root)): stat.S_IMODE(p.stat().st_mode)
        for p in (ws.root / "state").rglob("*")
    }
    assert modes == {
        "state/np.state.d": 0o700,
        "state/np.state.d/staging": 0o700,
        "state/np.state.d/staging/np.state.json": 0o600,
    }
    env = {"NP_WORKSPACE": "staging"}
    assert ws.np("state", "list", env=env).stdout.split() == ["nodepool.infer", "nodepool.train"]
    assert ws.np("state", "list").stdout == ""
    assert ws.np("workspace", "list").stdout == "* default\n  staging\n"
    assert ws.np("workspace", "list", env=env).stdout == "  default\n* staging\n"
    assert ws.np("--workspace", "prod", "workspace", "list").stdout == (
        "  default\n* prod\n  staging\n"
    )
    bad = ws.np("--workspace", "../x", "state", "list")
    assert bad.code == 1
    assert bad.stderr == (
        "Error: workspace name '../x': use letters, digits, '-' and '_' (starting with a "
        "letter or digit, at most 64 characters)\n"
    )


def test_workspace_delete_rules(ws: Workspace) -> None:
    seeded(ws)
    applied(ws, "--workspace", "staging")
    world = ws.world_path.read_bytes()
    for args, env, message in (
        (
            ("staging",),
            {},
            "workspace staging still manages 2 node pool(s) (nodepool.infer, nodepool.train); "
            "deleting it forgets them (the node pools stay): pass --force to delete it anyway",
        ),
        (
            ("staging", "--force"),
            {"NP_WORKSPACE": "staging"},
            "workspace staging is the current one; select another (np workspace select, "
            "--workspace or NP_WORKSPACE) to delete it",
        ),
        (("default",), {"NP_WORKSPACE": "staging"}, "the default workspace cannot be deleted"),
        (("default",), {}, "the default workspace cannot be deleted"),  # current or not
        (("nope",), {}, "workspace nope does not exist"),
    ):
        run = ws.np("workspace", "delete", *args, env=env)
        assert (run.code, run.stderr) == (1, f"Error: {message}\n"), args
    assert (ws.root / "state" / "np.state.d" / "staging" / "np.state.json").exists()

    deleted = ws.np("workspace", "delete", "staging", "--force")
    assert (deleted.code, deleted.stdout) == (0, "Deleted workspace staging.\n")
    assert list((ws.root / "state" / "np.state.d").iterdir()) == []
    assert ws.np("workspace", "list").stdout == "* default\n"
    assert ws.world_path.read_bytes() == world  # its node pools are untouched


def test_a_lock_in_another_workspace_names_it_in_the_unlock_command(ws: Workspace) -> None:
    seeded(ws)
    staged = ws.root / "state" / "np.state.d" / "staging" / "np.state.json"
    info = holder_info("apply")
    LocalLocker(staged).acquire(info, 0)
    assert ws.np("plan").code == 0  # the default workspace is not locked
    run = ws.np("plan", "--workspace", "staging")
    assert run.code == 1
    assert f"run: np force-unlock --workspace staging {info.id}\n" in run.stderr
    unlocked = ws.np("force-unlock", "--workspace", "staging", info.id, "--force")
    assert unlocked.code == 0, unlocked.stderr
    assert not Path(f"{staged}.lock").exists()


# --- import ----------------------------------------------------------------------------------


def test_import_records_what_is_live_for_the_managed_fields(ws: Workspace) -> None:
    """Import is adoption: nothing np did not apply can later be removed, nothing is drift."""
    seeded(ws, train='  count = 3\n  labels = { team = "ml" }\n')
    run = ws.np("import", "nodepool.train", "pool-prod/train")
    assert run.code == 0, run.stderr
    resource = ws.state()["resources"]["nodepool.train"]
    # max_count is not written and the pool is Logical: maxCount is not np's to record
    assert resource["applied"] == {"count": 2, "labels": {"team": "ai"}}
    assert resource["live"] == LIVE["train"]
    drift = ws.np("drift")
    assert drift.code == 0, drift.stdout
    plan = ws.np("plan", "--json").json()
    [change] = plan["resource_changes"]
    assert change["reasons"] == {"count": "config", "maxCount": "default", "labels.team": "config"}
    assert plan["resource_drift"] == []

    ws.write("main.hcl", config(train="  count = 3\n"))  # labels no longer managed
    patch = ws.np("plan", "--json").json()["resource_changes"][0]["patch"]
    assert patch["spec"]["resources"]["labels"] == {"team": None}  # owner was never np's


def test_import_refuses_a_node_pool_managed_under_another_address(ws: Workspace) -> None:
    seeded(ws, train="  count = 2\n")
    assert ws.np("import", "nodepool.train", "pool-prod/train").code == 0
    ws.write("main.hcl", config(gpu='  name = "train"\n  count = 2\n'))
    before = unchanged(ws)
    run = ws.np("import", "nodepool.gpu", "pool-prod/train")
    assert run.code == 1
    assert run.stderr == (
        "Error: nodepool.gpu: pool-prod/train is already managed as nodepool.train; to manage "
        "it under the new address, run: np state mv nodepool.train nodepool.gpu\n"
    )
    assert unchanged(ws) == before
    assert ws.np("state", "mv", "nodepool.train", "nodepool.gpu").code == 0
    assert ws.np("plan", "--detailed-exitcode").code == 0


# --- the project a state was written for ------------------------------------------------------


def test_a_state_of_another_project_is_refused_before_any_request(ws: Workspace) -> None:
    seeded(ws)
    ws.write("main.hcl", config(project="p1", **TWO))
    applied(ws)
    assert ws.state()["identity"] == {"project_id": "p1", "endpoint": "sim://world.json"}
    ws.write("main.hcl", config(project="p2", train="  count = 5\n", infer="  count = 1\n"))
    before = unchanged(ws)
    message = (
        f"Error: {ws.state_path} was written for project p1; this configuration uses project p2\n"
    )
    for args in (("plan",), ("apply", "--auto-approve"), ("drift",)):
        run = ws.np(*args)
        assert (run.code, run.stdout, run.stderr) == (1, "", message), args
    run = ws.np("import", "nodepool.train", "pool-prod/train")
    assert (run.code, run.stderr) == (1, message)
    assert unchanged(ws) == before


def test_another_endpoint_alone_is_a_warning_and_is_recorded_by_the_next_write(
    ws: Workspace,
) -> None:
    seeded(ws)
    applied(ws)
    shutil.copy(ws.world_path, ws.root / "world2.json")
    ws.write("main.hcl", config(endpoint="sim://world2.json", **TWO))
    warning = (
        f"Warning: {ws.state_path} was written for endpoint sim://world.json; this "
        "configuration uses sim://world2.json (the same project sim-project, so np goes on and "
        "records the new endpoint on its next write)\n"
    )
    plan = ws.np("plan", "--detailed-exitcode")
    assert (plan.code, plan.stderr) == (0, warning)
    ws.write("main.hcl", config(endpoint="sim://world2.json", train="  count = 3\n"))
    apply = ws.np("apply", "--auto-approve")
    assert apply.code == 0 and apply.stderr.startswith(warning)
    assert ws.state()["identity"]["endpoint"] == "sim://world2.json"
    assert ws.np("plan").stderr == ""


def test_a_state_from_before_identities_is_adopted_on_the_next_write(ws: Workspace) -> None:
    seeded(ws)
    applied(ws)
    doc = ws.state()
    del doc["identity"]
    ws.state_path.write_text(json.dumps(doc))
    plan = ws.np("plan", "--detailed-exitcode")
    assert (plan.code, plan.stderr) == (0, "")
    assert "identity" not in ws.state()  # a plan writes nothing
    ws.write("main.hcl", config(train="  count = 3\n", infer="  count = 1\n"))
    applied(ws)
    assert ws.state()["identity"] == {"project_id": "sim-project", "endpoint": "sim://world.json"}


# --- a state gone missing ---------------------------------------------------------------------


def test_a_missing_state_beside_its_backup_stops_plan_apply_and_drift(ws: Workspace) -> None:
    seeded(ws)
    applied(ws)
    ws.write("main.hcl", config(train="  count = 3\n", infer="  count = 1\n"))
    applied(ws)  # now a backup exists
    ws.state_path.unlink()
    before = unchanged(ws)
    state, backup = ws.state_path, f"{ws.state_path}.backup"
    message = (
        f"Error: {state} is missing, but its backup {backup} is there: if the state was "
        f"removed by mistake, restore it with `cp {backup} {state}`; to start from an empty "
        "state, delete the backup\n"
    )
    for args in (("plan",), ("apply", "--auto-approve"), ("drift",)):
        run = ws.np(*args)
        assert (run.code, run.stderr) == (1, message), args
    assert unchanged(ws) == before
    shutil.copy(backup, state)
    assert ws.np("plan").code == 0


# --- recording fails -------------------------------------------------------------------------


def test_an_apply_that_cannot_record_starts_nothing_new(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ["a", "b", "c"]
    ws.world(pool_world({n: {"flavor": "f", "count": 1, "maxCount": 1} for n in names}))
    ws.write("main.hcl", config(**dict.fromkeys(names, "  count = 1\n")))
    applied(ws)
    ws.write("main.hcl", config(**dict.fromkeys(names, "  count = 2\n")))
    appends: list[int] = []
    failed: list[str] = []
    sent: list[str] = []

    def disk_full(self: LocalJournal, records: Any) -> None:
        appends.append(len(records))
        raise StateError(f"cannot write {self.path}: No space left on device")

    real_commit, real_patch = Session.commit, ModelArtsClient.patch_nodepool

    async def commit(self: Session, changes: Any) -> None:
        try:
            await real_commit(self, changes)
        except StateError:
            failed.append(next(iter(changes)))
            raise

    async def patch(self: ModelArtsClient, pool: str, name: str, body: bytes) -> Any:
        sent.append(name)
        return await real_patch(self, pool, name, body)

    monkeypatch.setattr(LocalJournal, "append", disk_full)
    monkeypatch.setattr(Session, "commit", commit)
    monkeypatch.setattr(ModelArtsClient, "patch_nodepool", patch)
    run = ws.np("apply", "--auto-approve", "--parallelism", "1", "--no-wait")
    assert run.code == 1
    # the slot of a request is held until its change is recorded: with --parallelism 1 the
    # failed record is the only change sent and not recorded
    assert (len(sent), appends, failed) == (1, [1], [f"nodepool.{sent[0]}"])
    never = [n for n in names if n not in sent]
    assert [ws.nodepool("pool-prod", n)["count"] for n in names] == [
        1 if n in never else 2 for n in names
    ]
    full = f"cannot write {ws.state_path}.journal: No space left on device"
    assert [line for line in run.stderr.splitlines() if line.startswith("Error:")] == [
        f"Error: nodepool.{sent[0]}: {full}"
    ]
    assert f"2 not started ({', '.join(f'nodepool.{n}' for n in never)})" in run.stderr
    monkeypatch.undo()
    assert [r["applied"]["count"] for r in ws.state()["resources"].values()] == [1, 1, 1]


# --- choosing the backend ----------------------------------------------------------------------


def test_state_commands_read_the_configuration_only_for_its_backend(ws: Workspace) -> None:
    seeded(ws)
    applied(ws)
    state_dir = ws.root / "state"
    bare = ws.root / "bare"
    bare.mkdir()
    shutil.copytree(state_dir, bare / "state")
    listed = ws.np("-C", str(bare), "state", "list")  # no configuration at all: local files
    assert (listed.code, listed.stdout) == (0, "nodepool.infer\nnodepool.train\n")
    ws.write("main.hcl", "nodepool {")  # a configuration that cannot say where state lives
    broken = ws.np("state", "list")
    assert broken.code == 1 and broken.stderr.startswith("Error: main.hcl:")
    missing = ws.np("-C", str(ws.root / "nope"), "state", "list")
    assert (missing.code, missing.stderr) == (
        1,
        f"Error: configuration directory {ws.root / 'nope'} does not exist\n",
    )


def test_state_option_and_remote_backends_do_not_mix(tmp_path: Path) -> None:
    block = BackendBlock("pg", {"schema_name": "np"}, Pos("main.hcl", 3))
    with pytest.raises(StateError) as err:
        open_state(
            block,
            state_option=tmp_path / "s.json",
            directory=tmp_path,
            workspace="default",
            environ={},
        )
    assert str(err.value) == (
        f'--state {tmp_path / "s.json"}: main.hcl:3: backend "pg" keeps the state in the pg '
        "backend; --state only chooses the local state file"
    )
    with pytest.raises(StateError) as err:
        open_state(
            BackendBlock("gcs", {}, None),
            state_option=None,
            directory=tmp_path,
            workspace="default",
            environ={},
        )
    assert str(err.value) == "backend \"gcs\": unknown backend 'gcs' (np has pg and s3)"


def test_state_commands_read_the_configuration_once_and_only_for_its_backend(
    ws: Workspace,
) -> None:
    """A label that could not name a new node pool is fine for one that exists (validate says
    so, plan and the state commands do not refuse it); the configuration's warnings show once."""
    ws.world(pool_world({"cpu_batch": {"flavor": "f", "count": 1, "maxCount": 1}}))
    ws.write("main.hcl", config(cpu_batch="  count = 1\n"))
    applied(ws, "--workspace", "staging")
    assert ws.np("validate").code == 1
    listed = ws.np("--workspace", "staging", "state", "list")
    assert (listed.code, listed.stdout) == (0, "nodepool.cpu_batch\n")
    assert ws.np("workspace", "list").code == 0

    ws.write("np.npvars", "unknown = 1\n")
    deleted = ws.np("workspace", "delete", "staging", "--force")
    assert (deleted.code, deleted.stdout) == (0, "Deleted workspace staging.\n")
    assert deleted.stderr.count("Warning: ") == 1, deleted.stderr


def test_a_failed_release_is_shown_after_the_failure_and_the_summary(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store went down: the journal append failed first, then removing the lock did. The
    first failure and the summary are what the user needs; the lock problem comes after."""
    from reconciler.state.local_lock import LocalLocker

    ws.world(pool_world({"a": {"flavor": "f", "count": 1, "maxCount": 1}}))
    ws.write("main.hcl", config(a="  count = 1\n"))
    applied(ws)
    ws.write("main.hcl", config(a="  count = 2\n"))

    def disk_full(self: LocalJournal, records: Any) -> None:
        raise StateError(f"cannot write {self.path}: No space left on device")

    def unreachable(self: LocalLocker) -> None:
        raise StateError(f"cannot remove {self.path}: Input/output error")

    monkeypatch.setattr(LocalJournal, "append", disk_full)
    monkeypatch.setattr(LocalLocker, "release", unreachable)
    run = ws.np("apply", "--auto-approve", "--no-wait")
    assert run.code == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error:")]
    assert errors[0] == (
        f"Error: nodepool.a: cannot write {ws.state_path}.journal: No space left on device"
    )
    assert "Apply failed! Resources: 0 added, 0 changed, 0 destroyed; 1 failed" in run.stdout
    assert errors[-1] == f"Error: cannot remove {ws.state_path}.lock: Input/output error"
