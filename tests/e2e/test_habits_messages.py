"""Messages a user acts on (issue 23, items 1, 3 and 7-11): a likely rename said under both
changes, generated configuration that validates and plans only adoptions, suggestions that
can be pasted into a shell, what a lock wait says, drift statuses, a static AZ sum, a missing
var file, a corrupt state's backup, sorted state listings. The np script runs as a subprocess
on a ``sim://`` world; suggested commands are run through bash exactly as printed."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest
from procs import np, shell
from support import PROVIDER, Workspace, pool_world

from reconciler.state import manager
from reconciler.state.local_lock import LocalLocker
from reconciler.state.locking import holder_info

SPEC = {"flavor": "f", "count": 2, "maxCount": 2}


def block(label: str, *lines: str) -> str:
    body = "".join(f"  {line}\n" for line in ('pool = "pool-prod"', *lines))
    return f'nodepool "{label}" {{\n{body}}}\n'


def managed(ws: Workspace, world: dict[str, Any], *blocks: str) -> None:
    """The set-up (in-process): ``world`` live and ``blocks`` applied."""
    ws.world(world)
    ws.write("main.hcl", PROVIDER + "".join(blocks))
    run = ws.np("apply", "-auto-approve")
    assert run.code == 0, run.stderr


# --- item 1: renames ---------------------------------------------------------------------------


def test_a_relabelled_block_is_shown_as_a_likely_rename_under_both_changes(ws: Workspace) -> None:
    managed(
        ws,
        pool_world({"cpu": dict(SPEC), "infer": dict(SPEC)}),
        block("cpu", "count = 2"),
        block("infer", "count = 2"),
    )
    ws.write(
        "main.hcl",
        PROVIDER + block("train-cpu", 'flavor = "f"', "count = 2") + block("infer", "count = 2"),
    )
    hint = 'looks like a rename: to keep the node pool, write name = "cpu" in nodepool.train-cpu'

    text = np(ws, "plan", "-no-color")
    assert text.code == 0, text.stderr
    assert f"  # nodepool.cpu will be destroyed\n  # {hint}\n" in text.stdout
    assert f"  # nodepool.train-cpu will be created\n  # {hint}\n" in text.stdout
    assert text.stdout.count("looks like a rename") == 2

    doc = ws.np("plan", "-json").json()
    hints = {r["address"]: r.get("hint") for r in doc["resource_changes"]}
    assert hints == {"nodepool.cpu": hint, "nodepool.train-cpu": hint, "nodepool.infer": None}

    # Following the hint keeps the node pool: the label moves, nothing is sent.
    ws.write(
        "main.hcl",
        PROVIDER + block("train-cpu", 'name = "cpu"', "count = 2") + block("infer", "count = 2"),
    )
    kept = ws.np("plan")
    assert kept.code == 0, kept.stderr
    assert kept.stdout == (
        "  # nodepool.cpu has moved to nodepool.train-cpu\n\nNo changes. Your node pools match "
        "the configuration. np apply will only update its state.\n"
    )


def test_changing_a_managed_blocks_name_says_the_label_is_the_name(ws: Workspace) -> None:
    managed(ws, pool_world({"cpu": dict(SPEC)}), block("cpu", "count = 2"))
    ws.write("main.hcl", PROVIDER + block("cpu", 'name = "cpu-two"', 'flavor = "f"', "count = 2"))
    run = np(ws, "plan")
    assert run.code == 1
    assert (
        'change only the block label and keep name = "cpu" in it (the label is the name '
        "unless name is written)"
    ) in run.stderr


# --- item 3 and 9: generate, then validate and plan -------------------------------------------


def test_generated_configuration_validates_and_plans_only_adoptions(ws: Workspace) -> None:
    names = ["pool-dev-default", "Default_NP", "_9lives", "cpu"]
    ws.world(pool_world({name: dict(SPEC) for name in names}))
    ws.write("main.hcl", PROVIDER)
    generated = np(ws, "generate")
    assert generated.code == 0, generated.stderr
    written = re.findall(r'^  name += "(.*)"$', generated.stdout, re.M)
    assert sorted(written) == sorted(names)  # always written: a label is free to change
    ws.write("generated.hcl", generated.stdout)

    valid = np(ws, "validate")
    assert (valid.code, valid.stderr) == (0, ""), valid.stderr
    plan = np(ws, "plan", "-detailed-exitcode", "-no-color")
    assert plan.code == 2, plan.stderr  # apply would still record four adoptions
    assert plan.stdout.startswith("np will record 4 node pools in state without changing:\n")
    assert plan.stdout.endswith(
        "No changes. Your node pools match the configuration. np apply will only update its "
        "state.\n"
    )
    assert not ws.state_path.exists()


# --- items 7 and 11: pasteable suggestions, sorted listings --------------------------------------


def test_suggested_commands_paste_into_a_shell_and_state_lists_are_sorted(ws: Workspace) -> None:
    both = 'for_each = { c = "pool-x", d = "pool-prod" }'
    keyed = 'nodepool "gpu" {\n  %s\n  pool  = each.value\n  name  = each.key\n  count = 2\n}\n'
    world = pool_world({"a": dict(SPEC), "d": dict(SPEC)})
    world["pools"]["pool-x"] = {"type": "Logical", "privileged": True, "nodepools": {"c": SPEC}}
    managed(ws, world, keyed % both, block("a", "count = 2"))

    # However the backend stored them (pg's jsonb has its own order), listings are sorted.
    stored = ws.state()
    stored["resources"] = dict(reversed(list(stored["resources"].items())))
    ws.state_path.write_text(json.dumps(stored))
    listed = np(ws, "state", "list")
    assert listed.stdout == 'nodepool.a\nnodepool.gpu["c"]\nnodepool.gpu["d"]\n'
    pulled = ws.np("state", "pull").json()
    assert list(pulled["resources"]) == ["nodepool.a", 'nodepool.gpu["c"]', 'nodepool.gpu["d"]']

    # c is the last node pool of pool-x: the plan refuses to delete it and says what to run.
    ws.write("main.hcl", PROVIDER + keyed % 'for_each = { d = "pool-prod" }' + block("a"))
    refused = np(ws, "plan")
    assert refused.code == 1
    [suggested] = re.findall(r"run `([^`]*)` to stop managing it", refused.stderr)
    assert suggested == "np state rm 'nodepool.gpu[\"c\"]'"
    pasted = shell(ws, suggested)
    assert (pasted.returncode, pasted.stderr) == (0, ""), pasted.stderr
    assert list(ws.state()["resources"]) == ["nodepool.a", 'nodepool.gpu["d"]']
    assert ws.world()["pools"]["pool-x"]["nodepools"]["c"]["count"] == 2  # forgotten, not gone

    # What a shell leaves of nodepool.gpu["d"] typed without quotes is the same address.
    unquoted = shell(
        ws,
        "np state rm nodepool.gpu[d] && np import nodepool.gpu[d] pool-prod/d && "
        "np state show nodepool.gpu[d]",
    )
    assert unquoted.returncode == 0, unquoted.stderr
    assert unquoted.stdout.startswith(
        'Removed nodepool.gpu["d"] from state (the node pool itself is untouched).\n'
        "Imported pool-prod/d as nodepool.gpu"
    )
    assert '\n# nodepool.gpu["d"]: pool-prod/d, last applied ' in unquoted.stdout
    assert list(ws.state()["resources"]) == ["nodepool.a", 'nodepool.gpu["d"]']


# --- item 8: lock waits and stale locks ----------------------------------------------------------


def test_a_lock_wait_says_whose_lock_and_a_stale_lock_is_removed_without_a_terminal(
    ws: Workspace,
) -> None:
    managed(ws, pool_world({"cpu": dict(SPEC)}), block("cpu", "count = 2"))
    locker = LocalLocker(ws.state_path)
    live = holder_info("apply")  # this test's process: alive
    locker.acquire(live, 0)
    held = f"{live.user}@{live.host}, apply, since {live.created}"
    waited = np(ws, "plan", "-lock-timeout=0.3s")
    assert waited.code == 1
    lines = waited.stderr.splitlines()
    assert lines[0] == f"Acquiring the state lock (held by {held})..."
    assert lines[-1] == (
        "Another np run may be in progress. If you are sure it is not, run: np force-unlock "
        f"{live.id}"
    )
    kept = np(ws, "force-unlock", live.id)  # no terminal, holder alive: ask for --force
    assert kept.stderr.splitlines()[-1] == (
        f"Error: no terminal to confirm: pass --force to remove the lock: np force-unlock "
        f"--force {live.id}"
    )
    assert kept.code == 1 and locker.path.exists()
    locker.release()

    gone = dataclasses.replace(holder_info("apply"), pid=2**22 + 7)
    LocalLocker(ws.state_path).acquire(gone, 0)
    stale = ws.np("plan")  # in-process: the message, not the process, is tested here
    assert stale.code == 1
    assert "Another np run may be in progress" not in stale.stderr
    assert stale.stderr.splitlines()[-1] == (
        f"The lock is stale: process {gone.pid} is not running on this host. To remove it, "
        f"run: np force-unlock {gone.id}"
    )
    # Nothing will release a stale lock: a CI job's -lock-timeout does not wait it out.
    waited_for_stale = ws.np("plan", "-lock-timeout=20s")
    assert waited_for_stale.code == 1
    assert waited_for_stale.stderr.splitlines()[0] == (
        "Not waiting for the state lock: its holder is gone, so nothing will release it."
    )
    assert waited_for_stale.stderr.splitlines()[-1] == stale.stderr.splitlines()[-1]
    removed = np(ws, "force-unlock", gone.id)
    assert removed.code == 0, removed.stderr
    assert removed.stdout.endswith(
        f"The lock is stale (process {gone.pid} is not running on this host): removing it "
        f"without asking.\nThe lock {gone.id} (apply by {gone.user}@{gone.host}) was removed.\n"
    )
    assert not locker.path.exists()


def test_a_long_lock_wait_says_so_again_at_each_interval(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process, with the 10 s interval made 0.2 s: the notice repeats with the time left."""
    managed(ws, pool_world({"cpu": dict(SPEC)}), block("cpu", "count = 2"))
    monkeypatch.setattr(manager, "WAIT_NOTICE_SECONDS", 0.2)
    locker = LocalLocker(ws.state_path)
    live = holder_info("apply")
    locker.acquire(live, 0)
    try:
        run = ws.np("plan", "-lock-timeout=1s")
    finally:
        locker.release()
    held = f"{live.user}@{live.host}, apply, since {live.created}"
    notices = [line for line in run.stderr.splitlines() if not line.startswith(("Error", " "))]
    assert run.code == 1
    assert notices[0] == f"Acquiring the state lock (held by {held})..."
    again = notices[1:-1]  # the last line says what to do
    assert 2 <= len(again) <= 5, notices
    for line in again:
        assert re.fullmatch(
            rf"Still waiting for the state lock \(held by {re.escape(held)}; \d+s left of "
            r"--lock-timeout\)\.\.\.",
            line,
        ), line


# --- item 9: drift, validate, var files, a corrupt state -----------------------------------------


def test_drift_tells_missing_unmanaged_and_not_created_apart(ws: Workspace) -> None:
    managed(
        ws,
        pool_world({"gone": dict(SPEC), "kept": dict(SPEC), "live": dict(SPEC)}),
        block("gone", "count = 2"),
        block("kept", "count = 2"),
    )
    world = ws.world()
    del world["pools"]["pool-prod"]["nodepools"]["gone"]
    ws.world(world)
    ws.write(
        "main.hcl",
        PROVIDER
        + block("gone", "count = 2")
        + block("kept", "count = 2")
        + block("live", "count = 2")
        + block("fresh", 'flavor = "f"', "count = 1"),
    )
    run = np(ws, "drift", "-no-color")
    assert (run.code, run.stderr) == (2, "")
    assert run.stdout == (
        'nodepool.fresh (pool "pool-prod", node pool "fresh"): not-created\n'
        "  + declared, but the node pool does not exist: np apply creates it\n"
        'nodepool.gone (pool "pool-prod", node pool "gone"): missing\n'
        "  - the node pool no longer exists\n"
        'nodepool.kept (pool "pool-prod", node pool "kept"): in-sync\n'
        'nodepool.live (pool "pool-prod", node pool "live"): unmanaged\n'
        "  + declared and live, but not in state: np apply adopts it\n"
        "\n"
        "Drift found: 1 missing, 1 unmanaged, 1 not-created, 1 in-sync.\n"
    )


def test_validate_catches_an_az_sum_and_a_missing_var_file_has_no_line_number(
    ws: Workspace,
) -> None:
    ws.write(
        "main.hcl",
        PROVIDER
        + block(
            "az",
            'flavor = "f"',
            "count = 3",
            'azs = [{ az = "a", count = 1 }, { az = "b", count = 1 }]',
        ),
    )
    run = np(ws, "validate")
    assert (run.code, run.stdout, run.stderr) == (
        1,
        "",
        "Error: main.hcl:8: nodepool.az: azs: the AZ counts add up to 2, but count is 3\n",
    )
    missing = np(ws, "plan", "-var-file=nope.tfvars")
    assert (missing.code, missing.stderr) == (
        1,
        "Error: nope.tfvars: the file does not exist\n",
    )


def test_a_corrupt_state_names_its_backup_and_the_cp_that_restores_it(ws: Workspace) -> None:
    managed(ws, pool_world({"cpu": dict(SPEC)}), block("cpu", "count = 2"))
    ws.write("main.hcl", PROVIDER + block("cpu", "count = 3"))
    assert ws.np("apply", "-auto-approve").code == 0  # the second write keeps a backup
    ws.state_path.write_text('{"version": 1, "lineage"')
    world = ws.world_path.read_bytes()

    run = np(ws, "plan")
    assert run.code == 1
    restore = "cp state/np.state.json.backup state/np.state.json"
    assert run.stderr.endswith(
        "The state before the last run that wrote it is kept at state/np.state.json.backup: "
        f"restore it with `{restore}`\n"
    ), run.stderr
    assert run.stderr.startswith("Error: state/np.state.json: not valid JSON")
    assert shell(ws, restore).returncode == 0
    plan = np(ws, "plan", "-detailed-exitcode")
    assert plan.code == 2, plan.stderr  # the backup: the state before count = 3
    assert "  # nodepool.cpu has changed outside of np\n  ~ count: 2 -> 3" in plan.stdout
    assert plan.stdout.endswith("np apply will only update its state.\n")
    assert ws.world_path.read_bytes() == world


# --- item 10: S3 ---------------------------------------------------------------------------------


def test_a_missing_bucket_says_to_create_it(ws: Workspace, s3_url: str) -> None:
    ws.world(pool_world({}))
    backend = (
        f'backend "s3" {{\n  bucket   = "infra-state"\n  key      = "a/np.json"\n'
        f'  region   = "eu-west-1"\n  endpoint = "{s3_url}"\n}}\n'
    )
    ws.write("main.hcl", PROVIDER + backend)
    for args in (("plan",), ("init",)):
        run = np(ws, *args, env={"AWS_ACCESS_KEY_ID": "np", "AWS_SECRET_ACCESS_KEY": "np-secret"})
        assert (run.code, run.stdout) == (1, "")
        assert run.stderr.startswith('Error: main.hcl:4: backend "s3": '), run.stderr
        assert run.stderr.endswith(
            f": bucket 'infra-state' does not exist at {s3_url}; create it first (versioning on "
            "is recommended: the store then keeps every earlier state)\n"
        ), run.stderr
        assert "probe" not in run.stderr
    assert sorted(p.name for p in ws.root.iterdir()) == ["main.hcl", "world.json"]
