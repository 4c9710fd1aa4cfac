"""The local state lock: exclusion, holder details, stale detection, force-unlock, and a lock
that is never visible without its holder."""

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
from support import local_backend

from reconciler.errors import LockError
from reconciler.state import local_lock
from reconciler.state.local_lock import LocalLocker
from reconciler.state.locking import Keeper, holder_info
from reconciler.state.manager import StateManager
from reconciler.state.protocols import LockHeldError, LockInfo, LockLostError

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


def read_lock(state: Path) -> LockInfo | None:
    return LocalLocker(state).read()


def take(state: Path, operation: str, timeout: float = 0.0) -> tuple[LocalLocker, LockInfo]:
    locker, info = LocalLocker(state), holder_info(operation)
    locker.acquire(info, timeout)
    return locker, info


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
    lock, info = take(state, "plan")
    doc = json.loads(lock_file(state).read_text())
    assert doc == {
        "id": info.id,
        "pid": os.getpid(),
        "host": HOST,
        "user": getpass.getuser(),
        "operation": "plan",
        "created": doc["created"],
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["created"])
    assert stat.S_IMODE(lock_file(state).stat().st_mode) == 0o600
    assert read_lock(state) == LockInfo(**doc) == info
    assert [p.name for p in state.parent.iterdir()] == ["np.state.json.lock"]  # no temp left
    lock.release()
    assert not lock_file(state).exists()
    assert read_lock(state) is None


def test_second_run_fails_at_once_naming_the_holder(state: Path) -> None:
    plant(state)
    started = time.monotonic()
    with pytest.raises(LockHeldError) as err:
        take(state, "plan")
    assert time.monotonic() - started < 2  # no wait (timeout 0); room for a busy machine
    assert str(err.value) == held(state, os.getpid()) + FOOTER
    assert err.value.holder == read_lock(state) and err.value.stale is None


def test_stale_lock_is_reported_not_taken_over(state: Path) -> None:
    pid = dead_pid()
    plant(state, pid=pid)
    with pytest.raises(LockError) as err:
        take(state, "apply")
    assert str(err.value) == (
        held(state, pid)
        + f"The lock is stale: process {pid} is not running on this host. To remove it, run: "
        + f"np force-unlock {LOCK_ID}"
    )
    assert json.loads(lock_file(state).read_text())["id"] == LOCK_ID


def test_dead_pid_on_another_host_is_not_called_stale(state: Path) -> None:
    pid = dead_pid()
    plant(state, pid=pid, host="elsewhere")
    with pytest.raises(LockError) as err:
        take(state, "apply")
    assert str(err.value) == held(state, pid, host="elsewhere") + FOOTER


@pytest.mark.parametrize("content", ["", '{"id": "x"}', "not json", json.dumps({"pid": 0})])
def test_corrupt_lock_is_held_by_unknown_and_can_be_force_unlocked(
    state: Path, content: str
) -> None:
    state.parent.mkdir()
    lock_file(state).write_text(content)
    lock_id = "corrupt-" + hashlib.sha256(content.encode()).hexdigest()[:12]
    with pytest.raises(LockError) as err:
        take(state, "apply")
    assert str(err.value) == (
        f"state is locked ({lock_file(state)})\n"
        "  The lock file is empty or unreadable, so its holder is unknown.\n"
        "Another np run may be in progress. If you are sure it is not, run: "
        f"np force-unlock {lock_id}\n"
        f"(or delete {lock_file(state)})"
    )
    assert unlock(state, lock_id).corrupt
    assert not lock_file(state).exists()


def test_acquire_waits_up_to_timeout_then_fails(state: Path) -> None:
    plant(state)
    started = time.monotonic()
    with pytest.raises(LockError):
        take(state, "apply", timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 3  # not before the timeout; room for load


def test_acquire_gets_the_lock_once_the_holder_releases(state: Path) -> None:
    holder, first = take(state, "apply")
    threading.Timer(0.2, holder.release).start()
    _, second = take(state, "plan", timeout=5.0)
    assert json.loads(lock_file(state).read_text())["id"] == second.id != first.id


def test_a_locked_session_releases_on_error_and_uses_its_timeout(state: Path) -> None:
    manager = StateManager(local_backend(state))
    with pytest.raises(ValueError), manager.locked("apply"):
        info = read_lock(state)
        assert info is not None and info.operation == "apply"
        raise ValueError
    assert not lock_file(state).exists()

    plant(state)
    threading.Timer(0.2, lock_file(state).unlink).start()
    with manager.locked("plan", timeout=5.0):
        assert json.loads(lock_file(state).read_text())["operation"] == "plan"
    assert not lock_file(state).exists()


def test_release_leaves_a_lock_that_is_no_longer_ours(state: Path) -> None:
    lock, _ = take(state, "apply")
    plant(state)  # force-unlocked and taken by another run meanwhile
    lock.release()
    assert json.loads(lock_file(state).read_text())["id"] == LOCK_ID


def test_refresh_touches_our_lock_and_notices_losing_it(state: Path) -> None:
    lock, _ = take(state, "apply")
    os.utime(lock_file(state), (1_000_000, 1_000_000))
    lock.refresh()
    assert lock_file(state).stat().st_mtime > time.time() - 60
    plant(state)
    with pytest.raises(LockLostError) as err:
        lock.refresh()
    assert str(err.value) == (
        f"lost the state lock {lock_file(state)}: it was removed or taken by another run"
    )


def unlock(state: Path, lock_id: str) -> LockInfo | None:
    return StateManager(local_backend(state)).force_unlock(lock_id)


def test_force_unlock_with_the_right_id_removes_the_lock(state: Path) -> None:
    doc = plant(state)
    assert unlock(state, LOCK_ID) == LockInfo(**doc)
    assert not lock_file(state).exists()
    take(state, "apply")


def test_force_unlock_with_a_wrong_id_keeps_the_lock(state: Path) -> None:
    plant(state)
    with pytest.raises(LockError) as err:
        unlock(state, "nope")
    assert str(err.value) == (
        f"lock ID nope does not match the lock held on {lock_file(state)}; nothing removed\n"
        + details(os.getpid())
    )
    assert lock_file(state).exists()


def test_force_unlock_without_a_lock(state: Path) -> None:
    with pytest.raises(LockError) as err:
        unlock(state, LOCK_ID)
    assert str(err.value) == f"no lock is held on {lock_file(state)}; nothing to unlock"


RACER = """
import sys, time
from pathlib import Path
from reconciler.errors import LockError
from reconciler.state.local_lock import LocalLocker
from reconciler.state.locking import holder_info

state, go = Path(sys.argv[1]), Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
try:
    LocalLocker(state).acquire(holder_info("apply"), 0)
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


def test_the_keeper_keeps_the_lock_fresh_and_warns_once_when_it_is_taken(
    tmp_path: Path,
) -> None:
    state_path = tmp_path / "np.state.json"
    lock, info = take(state_path, "apply")
    old = time.time() - 3600
    os.utime(lock.path, (old, old))
    warnings: list[str] = []
    keeper = Keeper(lock, warnings.append, every=0.01)
    keeper.start()
    try:
        deadline = time.monotonic() + 10
        while lock.path.stat().st_mtime < old + 3000 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert lock.path.stat().st_mtime > old + 3000  # refreshed by the heartbeat
        assert warnings == []
        keeper.prove()
        unlock(state_path, info.id)
        while keeper.lost is None and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(LockLostError):
            keeper.prove()
    finally:
        keeper.stop()
    assert len(warnings) == 1 and "lost the state lock" in warnings[0]


def test_refresh_reports_a_lock_removed_just_before_the_touch_as_lost(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """force-unlock between refresh's ownership check and its touch: a lost lock, reported as
    such, not a FileNotFoundError that would kill the heartbeat."""
    lock, _ = take(state, "apply")
    real_utime = os.utime

    def unlocked_first(path: Any, *args: Any, **kwargs: Any) -> None:
        lock_file(state).unlink()
        real_utime(path, *args, **kwargs)

    monkeypatch.setattr(os, "utime", unlocked_first)
    with pytest.raises(LockLostError) as err:
        lock.refresh()
    assert str(err.value) == (
        f"lost the state lock {lock_file(state)}: it was removed or taken by another run"
    )


def test_a_reader_meeting_a_half_written_lock_looks_again(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock created by an older np (create, then write) may be read empty for a moment."""
    state.parent.mkdir()
    lock_file(state).write_text("")
    waits: list[float] = []

    def writer_finishes(seconds: float) -> None:
        waits.append(seconds)
        plant(state)

    monkeypatch.setattr(local_lock.time, "sleep", writer_finishes)
    info = read_lock(state)
    assert info is not None and not info.corrupt and info.id == LOCK_ID
    assert waits == [0.02]


def test_an_empty_lock_that_stays_empty_is_reported_after_a_few_looks(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state.parent.mkdir()
    lock_file(state).write_text("")
    waits: list[float] = []
    monkeypatch.setattr(local_lock.time, "sleep", waits.append)
    info = read_lock(state)
    assert info is not None and info.corrupt
    assert waits == [0.02] * 10


FLIPPER = """
import sys
from pathlib import Path
from reconciler.state.local_lock import LocalLocker
from reconciler.state.locking import holder_info

locker = LocalLocker(Path(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    locker.acquire(holder_info("apply"), 5.0)
    locker.release()
"""


def test_a_lock_is_never_visible_without_its_holder(tmp_path: Path) -> None:
    """Another process takes and releases the lock again and again; every time this one finds
    a lock file at all, it holds a whole holder (read raw: no retry hides a partial one)."""
    state = tmp_path / "np.state.json"
    flipper = subprocess.Popen([sys.executable, "-c", FLIPPER, str(state), "400"])
    seen = 0
    try:
        while flipper.poll() is None:
            try:
                raw = lock_file(state).read_bytes()
            except FileNotFoundError:
                continue
            doc = json.loads(raw)
            assert doc["operation"] == "apply" and doc["pid"] == flipper.pid
            seen += 1
    finally:
        flipper.wait(30)
    assert flipper.returncode == 0
    assert seen > 0
