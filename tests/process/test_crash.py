"""Crash safety: `np apply` killed (SIGKILL) or interrupted (SIGINT) half way against
`np sim serve --latency-ms 150` never loses track of what it did (docs/state.md).

The simulator-plus-workspace `fleet` and its request-log readers live in procs.py, shared with
the other process-level safety tests (concurrency, faults, secrets).
"""

from __future__ import annotations

import random
import re
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
from procs import UPDATED, Fleet, created, fleet, read_state, sent_changes

from reconciler.state.document import State
from reconciler.state.local import LocalStore
from reconciler.state.local_lock import LocalLocker

LATENCY = ("--latency-ms", "150")


def desired(trial: int) -> dict[str, int]:
    """Trial `trial`: 17 updates (every base count moves to trial + 2) and 3 creates, while the
    node pools created by earlier trials stay as they are."""
    base = {name: trial + 2 for name in UPDATED}
    made = {f"new-{t}-{i}": 1 for t in range(trial + 1) for i in range(3)}
    return base | made


def unlock_stale(f: Fleet, pid: int) -> None:
    """If the dead run left its lock, np must refuse, call it stale, and name the command."""
    held = LocalLocker(f.ws.state_path).read()
    if held is None:
        return
    refused = f.np("plan")
    assert refused.code == 1
    if held.corrupt:  # killed between creating the lock file and writing it
        assert "The lock file is empty or unreadable" in refused.stderr
    else:
        assert f"The lock is stale: process {pid} is not running on this host." in refused.stderr
    assert f"np force-unlock {held.id}" in refused.stderr
    unlocked = f.np("force-unlock", "--force", held.id)
    assert unlocked.code == 0, unlocked.stderr


def assert_whole_and_private(directory: Path) -> None:
    """State and backup parse (the backup is never ahead); whatever a kill left is 0600. A run
    killed before its first checkpoint leaves only the journal, which read_state replays."""
    if not directory.exists():
        return
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in directory.iterdir()} == {
        p.name: 0o600 for p in directory.iterdir()
    }
    backup = directory / "np.state.json.backup"
    if not (directory / "np.state.json").exists():
        assert not backup.exists()
        return
    state = checkpoint(directory / "np.state.json")
    if backup.exists():
        previous = checkpoint(backup)
        assert (previous.lineage, previous.serial <= state.serial) == (state.lineage, True)


def checkpoint(path: Path) -> State:
    """The state file itself (no journal replayed): it must parse whenever it exists."""
    state = LocalStore(path).read().state
    assert state is not None
    return state


def wait_for_first_change(f: Fleet, proc: subprocess.Popen[str], since: int) -> int:
    """Block until the run's first change request is answered; return the log length then."""
    while proc.poll() is None:
        entries = f.requests()
        if sent_changes(entries[since:]):
            return len(entries)
        time.sleep(0.01)
    raise AssertionError(f"np exited ({proc.returncode}) before sending a change")


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    """Seven kills: a third land anywhere from start-up to planning, the rest after the first
    change was answered, so most trials die with the apply half done."""
    rng = random.Random(61)
    half_done = 0
    with fleet(tmp_path, *LATENCY) as f:
        serial = 0
        for trial in range(7):
            want = desired(trial)
            f.configure(want)
            before = len(f.requests())
            killed = f.start("apply", "--auto-approve", "--no-wait", "--parallelism", "3")
            if trial % 3 != 0:
                wait_for_first_change(f, killed, before)
            time.sleep(rng.uniform(0.05, 0.9))
            killed.kill()
            killed.communicate()
            sent = len(sent_changes(f.settle()[before:]))
            half_done += 0 < sent < 20

            state = read_state(f.ws)
            assert state is None or state.serial >= serial
            serial = state.serial if state is not None else serial
            assert_whole_and_private(f.ws.state_path.parent)
            unlock_stale(f, killed.pid)

            rerun = f.np("apply", "--auto-approve", "--no-wait")
            assert rerun.code == 0, rerun.stderr
            state = f.assert_converged(want)
            assert state.serial >= serial
            serial = state.serial
            # every new node pool was created exactly once, by the killed run or by the rerun
            assert created(f.settle()[before:]) == 3
        assert f.np("plan", "--detailed-exitcode").code == 0
        drift = f.np("drift")
        assert drift.code == 0, drift.stdout
    assert half_done >= 3


SUMMARY = re.compile(
    r"Interrupted: (\d+) done, (\d+) failed, (\d+) not started \(([^)]*)\)\. "
    r"Run np apply again to continue\."
)


def interrupted_apply(f: Fleet, signum: int = signal.SIGINT) -> tuple[str, str, int]:
    """`np apply` one change at a time, Ctrl-C (or SIGTERM, as a cancelled CI job sends) as
    soon as the first change is answered; return its stdout, stderr and how many requests the
    server had answered at the signal."""
    run = f.start("apply", "--auto-approve", "--no-wait", "--parallelism", "1")
    at_signal = wait_for_first_change(f, run, 0)
    run.send_signal(signum)
    stdout, stderr = run.communicate(timeout=30)
    assert run.returncode == 1
    assert "Traceback" not in stderr
    return stdout, stderr, at_signal


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_first_ctrl_c_finishes_what_is_in_flight_and_starts_nothing_new(
    tmp_path: Path, signum: int
) -> None:
    with fleet(tmp_path, *LATENCY) as f:
        want = desired(0)
        f.configure(want)
        _, stderr, at_signal = interrupted_apply(f, signum)
        entries = f.settle()

        assert (
            "Interrupt received: finishing the requests in flight, starting no new ones. "
            "Press Ctrl-C again to abort at once (state keeps what is done)." in stderr
        )
        summary = SUMMARY.search(stderr)
        assert summary is not None, stderr
        done, failed, skipped = (int(summary[i]) for i in (1, 2, 3))
        not_started = summary[4].split(", ")
        assert (failed, done + skipped, len(not_started)) == (0, 20, skipped)
        assert skipped > 0

        # the one request in flight at the signal finished; nothing was started after it
        assert len(entries) - at_signal <= 1
        assert len(sent_changes(entries)) == done
        state = read_state(f.ws)
        assert state is not None
        recorded = set(state.resources)
        assert len(recorded) == done and not recorded & set(not_started)
        live = f.live()
        for address, resource in state.resources.items():
            assert live[address[len("nodepool.") :]]["count"] == resource.applied["count"]
        assert LocalLocker(f.ws.state_path).read() is None  # a graceful stop releases the lock

        rerun = f.np("apply", "--auto-approve", "--no-wait")
        assert rerun.code == 0, rerun.stderr
        f.assert_converged(want)
        assert created(f.requests()) == 3


@pytest.mark.slow
def test_an_interrupted_apply_does_not_say_complete(tmp_path: Path) -> None:
    names = ["np-00", "np-01", "np-02", "np-03"]
    with fleet(tmp_path, *LATENCY, live=dict.fromkeys(names, 1)) as f:
        f.configure(dict.fromkeys(names, 2))
        stdout, stderr, _ = interrupted_apply(f)
        assert SUMMARY.search(stderr) is not None
        assert "Apply complete!" not in stdout
