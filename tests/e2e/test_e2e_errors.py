"""Each remaining user-facing error: one `Error:` line naming what is wrong, exit 1, nothing
changed."""

from __future__ import annotations

import pytest
from support import PROVIDER, Workspace, pool_world

from reconciler.state.local_lock import LocalLocker
from reconciler.state.locking import holder_info

CONFIG = PROVIDER + 'nodepool "train" {\n  pool  = "pool-prod"\n  count = 2\n}\n'
LIVE = {"train": {"flavor": "f", "count": 2, "maxCount": 2}}


def seeded(ws: Workspace) -> Workspace:
    ws.world(pool_world(dict(LIVE)))
    ws.write("main.hcl", CONFIG)
    return ws


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("import", "nodepool.train", "pool-prod"), "pool-prod: expected POOL/NODEPOOL"),
        (
            ("import", "nodepool.other", "pool-prod/train"),
            "nodepool.other: not declared in the configuration; write its block first",
        ),
        (
            ("import", "nodepool.train", "pool-prod/infer"),
            "nodepool.train: the configuration declares pool-prod/train, not pool-prod/infer",
        ),
        (("state", "rm", "nodepool.nope"), "not in state: nodepool.nope"),
        (("state", "show", "nodepool.nope"), "nodepool.nope: not in state"),
        (("force-unlock", "abc", "--force"), "no lock is held on"),
        (("apply", "missing.plan"), "missing.plan: No such file or directory"),
    ],
)
def test_error_is_one_line_and_changes_nothing(
    ws: Workspace, args: tuple[str, ...], message: str
) -> None:
    seeded(ws)
    world = ws.world_path.read_bytes()
    run = ws.np(*args)
    assert run.code == 1
    [line] = run.stderr.splitlines()
    assert line.startswith("Error: ") and message in line
    assert ws.world_path.read_bytes() == world
    assert not ws.state_path.exists()


def test_a_configuration_without_an_endpoint_says_where_to_set_one(ws: Workspace) -> None:
    ws.write("main.hcl", 'nodepool "train" {\n  pool = "pool-prod"\n}\n')
    assert ws.np("validate").code == 0  # offline: an endpoint is plan's concern
    run = ws.np("plan", env={"NP_ENDPOINT": ""})
    assert run.code == 1
    assert run.stderr == (
        "Error: provider: no endpoint: set region (or endpoint) in the provider block, "
        "or the NP_ENDPOINT environment variable\n"
    )


def test_force_unlock_without_a_terminal_needs_force(ws: Workspace) -> None:
    seeded(ws)
    lock, info = LocalLocker(ws.state_path), holder_info("apply")
    lock.acquire(info, 0)
    run = ws.np("force-unlock", info.id)
    assert run.code == 1
    assert "no terminal to confirm: pass --force to remove the lock" in run.stderr
    assert lock.path.exists()
    mismatch = ws.np("force-unlock", "not-the-id", "--force")
    assert mismatch.code == 1 and "does not match the lock held" in mismatch.stderr
    assert ws.np("force-unlock", info.id, "--force").code == 0
    assert not lock.path.exists()
