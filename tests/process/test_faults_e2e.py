"""Plan and apply against a misbehaving simulator: dropped connections, 2-second stalls, 429s
and 500s. Each run either succeeds with the world as desired, or fails with one `Error:` line
per failed address (or one for the plan); reruns converge; nothing is applied twice in a
harmful way: every new node pool is created exactly once, deleted ones stay deleted."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from procs import POOL, Fleet, Result, config_of, created, fleet

UPDATED = [f"upd-{i}" for i in range(7)]
DELETED = ["del-0", "del-1"]
LIVE = dict.fromkeys([*UPDATED, *DELETED, "keep"], 1)
WANT = dict.fromkeys(UPDATED, 2) | {"keep": 1} | dict.fromkeys(["new-0", "new-1", "new-2"], 1)
ADDRESS_ERROR = re.compile(r"Error: nodepool\.[a-z0-9-]+: .+")
PLAN_ERROR = re.compile(r"Error: (GET|PATCH|POST|DELETE) /v2/proj/pools\S*: .+")

FAULTS = {
    # --drop-rate: the request is carried out, then its connection is closed without an answer
    "dropped": (("--drop-rate", "0.2", "--seed", "3"), {0}),
    # --stall-seconds: a dropped request first hangs that long (sim/faults.py Faults.drop)
    "stalled": (("--drop-rate", "0.15", "--stall-seconds", "2", "--seed", "5"), {0}),
    # 429s from a token bucket and random 500s, both refused before the request takes effect
    "throttled-and-failing": (
        ("--rate-limit", "10", "--fail-rate", "0.2", "--seed", "11"),
        {429, 500},
    ),
}


def adopt(f: Fleet, live: dict[str, int]) -> None:
    """Put every live node pool into state through the in-process simulator (no faults), for
    the project the served simulator is then reached with (state records which one)."""
    f.ws.write("main.hcl", config_of({POOL: live}, endpoint="sim://world.json", project="proj"))
    adopted = f.ws.np("apply", "--auto-approve")
    assert adopted.code == 0, adopted.stderr
    assert len(f.ws.state()["resources"]) == len(live)


def assert_clean_failure(stderr: str) -> None:
    """One `Error:` line per failed address, or one for the whole plan; never a traceback."""
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert errors, stderr
    if len(errors) == 1 and PLAN_ERROR.fullmatch(errors[0]):
        return
    assert all(ADDRESS_ERROR.fullmatch(line) for line in errors), errors
    addresses = [line.split(":")[1].strip() for line in errors]
    assert len(set(addresses)) == len(addresses)


@pytest.mark.parametrize("kind", list(FAULTS))
def test_apply_through_faults_converges_without_harm(tmp_path: Path, kind: str) -> None:
    server_args, injected = FAULTS[kind]
    with fleet(tmp_path, *server_args, live=LIVE) as f:
        adopt(f, LIVE)
        f.configure(WANT)
        runs: list[Result] = []
        while not runs or runs[-1].code != 0:
            assert len(runs) < 4, [r.stderr for r in runs]
            run = f.np("apply", "--auto-approve", "--no-wait")
            runs.append(run)
            assert run.code in (0, 1)
            if run.code == 1:
                assert_clean_failure(run.stderr)
        f.assert_converged(WANT)
        assert set(f.live()) == set(WANT)
        entries = f.settle()
        assert created(entries) == 3  # each new node pool exactly once, whatever was retried
        statuses = Counter(e["status"] for e in entries)
        assert all(statuses[status] for status in injected), statuses
        assert not [e for e in entries if e["method"] == "POST" and e["status"] == 409]


def test_a_delete_whose_answer_was_lost_is_not_a_failure(tmp_path: Path) -> None:
    # --seed 15 fixes the draw of each attempt of each request: the plan's two reads and the
    # read just before the DELETE are answered, the DELETE is carried out and its answer
    # dropped, its retry finds nothing.
    live = {"keep": 1, "gone": 1}
    with fleet(tmp_path, "--drop-rate", "0.5", "--seed", "15", live=live) as f:
        adopt(f, live)
        f.configure({"keep": 1})
        run = f.np("apply", "--auto-approve", "--no-wait")
        sent = [(e["method"], e["status"]) for e in f.settle()]
        assert sent == [("GET", 200), ("GET", 200), ("GET", 200), ("DELETE", 0), ("DELETE", 404)]
        assert set(f.live()) == {"keep"}
        assert run.code == 0, run.stderr
        assert list(f.ws.state()["resources"]) == ["nodepool.keep"]
