"""State lock: exclusion, holder details, stale detection, force-unlock."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import LockError
from reconciler.lock import LockInfo, StateLock, force_unlock, read_lock

HOST = socket.gethostname()
LOCK_ID = "8f1c2d3e-0000-4000-8000-000000000001"


pytestmark = pytest.mark.usefixtures("umask_022")


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state" / "np.state.json"


def lock_file(state: Path) -> Path:
    return state.parent / "np.state.json.lock"


def plant(state: Path, **overrides: Any) -> dict[str, Any]:
    """Write a lock as another run would have left it."""
    doc = {
        "id": LOCK_ID,
        "pid": os.getpid(),
        "host": HOST,
        "user": "alice",
        "operation": "apply",
        "created": "2026-11-27T04:31:00Z",
        **overrides,
    }
    state.parent.mkdir(parents=True, exist_ok=True)
    lock_file(state).write_text(json.dumps(doc))
    return doc


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def details(pid: int, host: str = HOST) -> str:
    return (
        f"  ID:        {LOCK_ID}\n"
        "  Operation: apply\n"
        f"  Who:       alice@{host} (pid {pid})\n"
        "  Created:   2026-11-27T04:31:00Z"
    )


def held(state: Path, pid: int, host: str = HOST) -> str:
    return f"state is locked ({lock_file(state)})\n{details(pid, host)}\n"


FOOTER = (
    f"Another np run may be in progress. If you are sure it is not, run: np force-unlock {LOCK_ID}"
)


def test_acquire_writes_holder_details_with_mode_0600(state: Path) -> None:
    lock = StateLock(state, "plan")
    lock.acquire()
    doc = json.loads(lock_file(state).read_text())
    assert doc == {
        "id": lock.id,
        "pid": os.getpid(),
        "host": HOST,
        "user": getpass.getuser(),
        "operation": "plan",
        "created": doc["created"],
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["created"])
    assert stat.S_IMODE(lock_file(state).stat().st_mode) == 0o600
    assert read_lock(state) == LockInfo(lock_file(state), **doc)
    lock.release()
    assert not lock_file(state).exists()
    assert read_lock(state) is None


def test_second_run_fails_at_once_naming_the_holder(state: Path) -> None:
    plant(state)
    started = time.monotonic()
    with pytest.raises(LockError) as err:
        StateLock(state, "plan").acquire()
    assert time.monotonic() - started < 0.5
    assert str(err.value) == held(state, os.getpid()) + FOOTER


def test_stale_lock_is_reported_not_taken_over(state: Path) -> None:
    pid = dead_pid()
    plant(state, pid=pid)
    with pytest.raises(LockError) as err:
        StateLock(state, "apply").acquire()
    assert str(err.value) == (
        held(state, pid)
        + f"The lock is stale: process {pid} is not running on this host.\n"
        + FOOTER
    )
    assert json.loads(lock_file(state).read_text())["id"] == LOCK_ID


def test_dead_pid_on_another_host_is_not_called_stale(state: Path) -> None:
    pid = dead_pid()
    plant(state, pid=pid, host="elsewhere")
    with pytest.raises(LockError) as err:
        StateLock(state, "apply").acquire()
    assert str(err.value) == held(state, pid, host="elsewhere") + FOOTER


@pytest.mark.parametrize("content", ["", '{"id": "x"}', "not json", json.dumps({"pid": 0})])
def test_corrupt_lock_is_held_by_unknown_and_can_be_force_unlocked(
    state: Path, content: str
) -> None:
    state.parent.mkdir()
    lock_file(state).write_text(content)
    lock_id = "corrupt-" + hashlib.sha256(content.encode()).hexdigest()[:12]
    with pytest.raises(LockError) as err:
        StateLock(state, "apply").acquire()
    assert str(err.value) == (
        f"state is locked ({lock_file(state)})\n"
        "  The lock file is empty or unreadable, so its holder is unknown.\n"
        "Another np run may be in progress. If you are sure it is not, run: "
        f"np force-unlock {lock_id}\n"
        f"(or delete {lock_file(state)})"
    )
    assert force_unlock(state, lock_id).corrupt
    assert not lock_file(state).exists()


def test_acquire_waits_up_to_timeout_then_fails(state: Path) -> None:
    plant(state)
    started = time.monotonic()
    with pytest.raises(LockError):
        StateLock(state, "apply").acquire(timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 1.0


def test_acquire_gets_the_lock_once_the_holder_releases(state: Path) -> None:
    holder = StateLock(state, "apply")
    holder.acquire()
    threading.Timer(0.2, holder.release).start()
    waiter = StateLock(state, "plan")
    waiter.acquire(timeout=5.0)
    assert json.loads(lock_file(state).read_text())["id"] == waiter.id != holder.id


def test_context_manager_releases_on_error_and_uses_its_timeout(state: Path) -> None:
    with pytest.raises(ValueError), StateLock(state, "apply") as lock:
        info = read_lock(state)
        assert info is not None and info.id == lock.id
        raise ValueError
    assert not lock_file(state).exists()

    plant(state)
    threading.Timer(0.2, lock_file(state).unlink).start()
    with StateLock(state, "plan", timeout=5.0) as lock:
        assert json.loads(lock_file(state).read_text())["operation"] == "plan"


def test_release_leaves_a_lock_that_is_no_longer_ours(state: Path) -> None:
    lock = StateLock(state, "apply")
    lock.acquire()
    plant(state)  # force-unlocked and taken by another run meanwhile
    lock.release()
    assert json.loads(lock_file(state).read_text())["id"] == LOCK_ID


def test_refresh_touches_our_lock_and_notices_losing_it(state: Path) -> None:
    lock = StateLock(state, "apply")
    lock.acquire()
    os.utime(lock_file(state), (1_000_000, 1_000_000))
    lock.refresh()
    assert lock_file(state).stat().st_mtime > time.time() - 60
    plant(state)
    with pytest.raises(LockError) as err:
        lock.refresh()
    assert str(err.value) == (
        f"lost the state lock {lock_file(state)}: it was removed or taken by another run"
    )


def test_force_unlock_with_the_right_id_removes_the_lock(state: Path) -> None:
    doc = plant(state)
    assert force_unlock(state, LOCK_ID) == LockInfo(lock_file(state), **doc)
    assert not lock_file(state).exists()
    StateLock(state, "apply").acquire()


def test_force_unlock_with_a_wrong_id_keeps_the_lock(state: Path) -> None:
    plant(state)
    with pytest.raises(LockError) as err:
        force_unlock(state, "nope")
    assert str(err.value) == (
        f"lock ID nope does not match the lock on {state}; nothing removed\n" + details(os.getpid())
    )
    assert lock_file(state).exists()


def test_force_unlock_without_a_lock(state: Path) -> None:
    with pytest.raises(LockError) as err:
        force_unlock(state, LOCK_ID)
    assert str(err.value) == f"state {state} is not locked; nothing to unlock"


RACER = """
import sys, time
from pathlib import Path
from reconciler.errors import LockError
from reconciler.lock import StateLock

state, go = Path(sys.argv[1]), Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
try:
    StateLock(state, "apply").acquire()
except LockError:
    print("lost")
else:
    print("won")
"""


@pytest.mark.parametrize("round_", range(3))
def test_racing_processes_exactly_one_wins(tmp_path: Path, round_: int) -> None:
    state = tmp_path / "np.state.json"
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(state), str(go)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    time.sleep(0.3)  # let them all import and reach the start line
    go.touch()
    results = {racer.pid: racer.communicate(timeout=10)[0].strip() for racer in racers}
    winners = [pid for pid, result in results.items() if result == "won"]
    assert sorted(results.values()) == ["lost"] * 5 + ["won"]
    assert json.loads(lock_file(state).read_text())["pid"] == winners[0]


def test_a_long_apply_keeps_its_lock_fresh_and_warns_once_when_it_is_taken(
    tmp_path: Path,
) -> None:
    import asyncio

    from reconciler.cli import _keep_fresh

    state_path = tmp_path / "np.state.json"
    lock = StateLock(state_path, "apply")
    lock.acquire()
    old = time.time() - 3600
    os.utime(lock.path, (old, old))
    warnings: list[str] = []

    async def run_for(seconds: float) -> None:
        async with _keep_fresh(lock, warnings.append, every=0.01):
            await asyncio.sleep(seconds)

    asyncio.run(run_for(0.1))
    assert lock.path.stat().st_mtime > old + 3000
    assert warnings == []
    assert lock.id is not None
    force_unlock(state_path, lock.id)
    asyncio.run(run_for(0.1))
    assert len(warnings) == 1 and "lost the state lock" in warnings[0]
