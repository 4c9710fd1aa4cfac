"""Two np runs on one state at once (docs/state.md): exactly one holds the lock; the other fails at
once naming the holder, or waits with --lock-timeout; the state is never corrupted."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from procs import Fleet, fleet, sent_changes

from reconciler.state.local_lock import LocalLocker

SLOW_SERVER = ("--latency-ms", "300")
NAMES = ("a", "b")
HELD = re.compile(
    r"Error: state is locked \((?P<path>[^)]+)\)\n"
    r"  ID:        (?P<id>[0-9a-f-]{36})\n"
    r"  Operation: apply\n"
    r"  Who:       \S+@\S+ \(pid (?P<pid>\d+)\)\n"
    r"  Created:   \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n"
    r"Another np run may be in progress\. If you are sure it is not, run: "
    r"np force-unlock (?P=id)\n"
)
"""A lock held by a live run (a stale one says so, and how to remove it, instead)."""


def race(f: Fleet, *args: str) -> list[tuple[subprocess.Popen[str], str, str]]:
    runs = [f.start(*args) for _ in range(2)]
    return [(run, *run.communicate(timeout=60)) for run in runs]


def test_two_applies_at_once_exactly_one_proceeds(tmp_path: Path) -> None:
    with fleet(tmp_path, *SLOW_SERVER, live=dict.fromkeys(NAMES, 1)) as f:
        for count in (2, 3, 4):
            f.configure(dict.fromkeys(NAMES, count))
            before = len(f.requests())
            results = race(f, "apply", "--auto-approve", "--no-wait")

            assert sorted(run.returncode for run, _, _ in results) == [0, 1]
            [(winner, _, _)] = [r for r in results if r[0].returncode == 0]
            [(_, loser_out, loser_err)] = [r for r in results if r[0].returncode == 1]
            held = HELD.fullmatch(loser_err)
            assert held is not None, loser_err
            assert int(held["pid"]) == winner.pid
            assert held["path"] == "state/np.state.json.lock"
            assert loser_out == ""  # it stopped before planning: nothing shown, nothing sent

            state = f.assert_converged(dict.fromkeys(NAMES, count))
            assert state.serial == 2 * (count - 1)  # one journal write per node pool and round
            patches = sent_changes(f.settle()[before:])
            assert [(m, s) for m, _, s in patches] == [("PATCH", 200)] * len(NAMES)
            assert LocalLocker(f.ws.state_path).read() is None


def test_a_run_with_lock_timeout_waits_for_the_holder(tmp_path: Path) -> None:
    with fleet(tmp_path, *SLOW_SERVER, live=dict.fromkeys(NAMES, 1)) as f:
        f.configure(dict.fromkeys(NAMES, 2))
        applying = f.start("apply", "--auto-approve", "--no-wait")
        while LocalLocker(f.ws.state_path).read() is None:
            assert applying.poll() is None
            time.sleep(0.01)
        waited = f.np("plan", "--detailed-exitcode", "--lock-timeout", "30s")
        assert applying.wait(30) == 0
        assert waited.code == 0, waited.stderr  # it planned after the apply: no changes left
        assert "No changes." in waited.stdout
        f.assert_converged(dict.fromkeys(NAMES, 2))


RACER = """
import sys, time
from pathlib import Path
from reconciler.errors import LockError
from reconciler.state import local
from reconciler.state.manager import StateManager

state, go = Path(sys.argv[1]), Path(sys.argv[2])
backend = local.open_backend({"path": str(state)}, workspace="default", environ={}, where="s")
manager = StateManager(backend)
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
try:
    with manager.locked("apply"):
        print("won", flush=True)
        sys.stdin.read()  # hold the lock until the test has heard from every loser
except LockError as exc:
    print(exc, flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(30))
def test_racing_runs_always_name_the_holder(tmp_path: Path, round_: int) -> None:
    """Four runs reach the lock at the same instant: one wins, and each loser reads a whole
    holder (never 'empty or unreadable', which a lock visible before its content gave 2 times
    in 12 rounds)."""
    state, go = tmp_path / "state" / "np.state.json", tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(state), str(go)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = {racer.pid: racer.stdout for racer in racers if racer.stdout is not None}
    try:
        assert [out.readline() for out in outputs.values()] == ["ready\n"] * 4
        go.touch()
        first = {pid: out.readline() for pid, out in outputs.items()}
        [winner] = [pid for pid, line in first.items() if line == "won\n"]
        for pid, out in outputs.items():
            if pid != winner:
                text = first[pid] + out.read()
                held = HELD.fullmatch("Error: " + text)
                assert held is not None, text
                assert int(held["pid"]) == winner and held["path"] == f"{state}.lock"
    finally:
        for racer in racers:
            racer.communicate(timeout=30)
    assert [r.returncode for r in racers] == [0, 0, 0, 0]
    assert not Path(f"{state}.lock").exists()
