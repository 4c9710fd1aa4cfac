"""np itself, as processes, with its state in a real PostgreSQL and a real S3 (moto), against
`np sim serve`: racing runners, a runner killed while it holds the lock, saved plans refused when
the remote state moved, a move from the local file, and no secret in any output or state."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from procs import POOL, Fleet, Result, config_of, fleet, sent_changes
from remote import S3_SECRET, Place, client_of, pg_place, s3_place
from tcpproxy import TcpProxy

SLOW_SERVER = ("--latency-ms", "300")
NAMES = ("pa", "pb")
PG_SENTINEL = "pg-sentinel-pw-61c0"
HELD = re.compile(
    r"Error: state is locked \((?P<where>[^\n]+)\)\n"
    r"  ID:        (?P<id>[0-9a-f-]{36})\n"
    r"  Operation: (?P<op>plan|apply)\n"
    r"  Who:       \S+@\S+ \(pid (?P<pid>\d+)\)\n"
    r"  Created:   \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n"
    r"(?:(?P<stale>The lock is stale: [^\n]+?)\. To remove it, run: "
    r"|Another np run may be in progress\. If you are sure it is not, run: )"
    r"np force-unlock (?P=id)\n"
)


@pytest.fixture(params=["pg", "s3"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_place(request: pytest.FixtureRequest, kind: str) -> Place:
    if kind == "pg":
        return pg_place(request.getfixturevalue("pg_url"))
    return s3_place(request.getfixturevalue("s3_url"))


@contextmanager
def remote_fleet(
    root: Path, place: Place, *server_args: str, live: dict[str, int]
) -> Iterator[Fleet]:
    """procs.fleet with the state in ``place``: its backend block beside main.hcl, its
    environment (connection string, keys) given to every np run."""
    with fleet(root, *server_args, live=live) as f:
        f.ws.write("backend.hcl", place.block())
        f.env.update(place.env)
        yield f
    place.close()


def pulled(f: Fleet) -> dict[str, object]:
    done = f.np("state", "pull")
    assert done.code == 0, done.stderr
    doc: dict[str, object] = json.loads(done.stdout)
    return doc


def counts(f: Fleet) -> dict[str, int]:
    resources = pulled(f)["resources"]
    assert isinstance(resources, dict)
    return {a.split(".", 1)[1]: r["applied"]["count"] for a, r in resources.items()}


@pytest.mark.slow
def test_two_runners_racing_exactly_one_proceeds(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    """Rounds of two plans started at once (5 in the suite; NP_TEST_RACE_ROUNDS=30 or more to
    hammer it, as was done before landing). The simulator sits behind a proxy that holds every
    request until the loser has given up, so the winner still holds the lock when the loser
    tries however slowly either starts (CI machines are busy)."""
    place = make_place(request, kind)
    with remote_fleet(tmp_path, place, live=dict.fromkeys(NAMES, 1)) as f:
        with TcpProxy(target(f.server.url)) as gate:
            f.ws.write("main.hcl", config_of({POOL: dict.fromkeys(NAMES, 2)}, endpoint=gate.url))
            for round_ in range(int(os.environ.get("NP_TEST_RACE_ROUNDS", "5"))):
                gate.pause()
                runs = [f.start("plan", "--no-color") for _ in range(2)]
                loser = wait_first(runs)
                gate.resume()
                [winner] = [run for run in runs if run is not loser]
                loser_out, loser_err = loser.communicate(timeout=60)
                winner_out, winner_err = winner.communicate(timeout=60)
                assert (winner.returncode, loser.returncode) == (0, 1), (
                    round_,
                    winner_err,
                    loser_err,
                )
                held = HELD.fullmatch(loser_err)
                assert held is not None, (round_, loser_err)
                assert int(held["pid"]) == winner.pid
                assert held["op"] == "plan" and held["stale"] is None
                assert loser_out == ""
                assert "Plan: 0 to add, 2 to change, 0 to destroy." in winner_out
        assert place.open().locker.read() is None  # every winner released it


def wait_first(runs: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    """The first of ``runs`` to exit."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for run in runs:
            if run.poll() is not None:
                return run
        time.sleep(0.01)
    raise AssertionError("neither run ended: both wait for the simulator")


def target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or 0


def lock_holder(place: Place) -> int:
    """Wait until someone holds ``place``'s lock; its pid."""
    locker = place.open().locker
    while (info := locker.read()) is None:
        time.sleep(0.02)
    return info.pid


@pytest.mark.slow
def test_a_runner_killed_holding_the_lock(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    """pg: the server freed the lock with the connection, the next run proceeds at once.
    s3: the lock object stays; it is reported stale with the exact force-unlock, and after it
    the rerun converges. Either way the serial never goes back."""
    place = make_place(request, kind)
    names = [f"n{i}" for i in range(6)]
    with remote_fleet(tmp_path, place, *SLOW_SERVER, live=dict.fromkeys(names, 1)) as f:
        f.configure(dict.fromkeys(names, 2))
        assert f.np("apply", "--auto-approve", "--no-wait").code == 0
        serial_before = pulled(f)["serial"]
        assert isinstance(serial_before, int)

        f.configure(dict.fromkeys(names, 3))
        victim = f.start("apply", "--auto-approve", "--no-wait", "--parallelism", "1")
        assert lock_holder(place) == victim.pid
        while not any(m == "PATCH" for m, _, _ in sent_changes(f.requests())[len(names) :]):
            time.sleep(0.02)  # killed mid-apply, after at least one change went out
        os.killpg(victim.pid, signal.SIGKILL)
        victim.communicate()
        f.settle()

        rerun = f.np("apply", "--auto-approve", "--no-wait")
        if kind == "s3":
            assert rerun.code == 1
            held = HELD.search(rerun.stderr)
            assert held is not None, rerun.stderr
            assert int(held["pid"]) == victim.pid
            assert held["stale"] == (
                f"The lock is stale: process {victim.pid} is not running on this host"
            )
            unlocked = f.np("force-unlock", "--force", held["id"])
            assert unlocked.code == 0, unlocked.stderr
            rerun = f.np("apply", "--auto-approve", "--no-wait")
        assert rerun.code == 0, rerun.stderr
        assert counts(f) == dict.fromkeys(names, 3)
        assert {n: f.live()[n]["count"] for n in names} == dict.fromkeys(names, 3)
        serial_after = pulled(f)["serial"]
        assert isinstance(serial_after, int) and serial_after > serial_before
        assert place.open().locker.read() is None


@pytest.mark.slow
def test_a_run_whose_lock_was_taken_cannot_write_over_the_next(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    """Someone force-unlocks a live apply and runs another: the first one's next write is
    refused (pg: its session was ended with the lock; s3: the compare-and-swap answers 412),
    it stops, and the state stays the second run's — whole, its serial never going back."""
    place = make_place(request, kind)
    names = [f"n{i:02d}" for i in range(16)]  # 16 changes one at a time: the first run is slow
    with remote_fleet(tmp_path, place, *SLOW_SERVER, live=dict.fromkeys(names, 1)) as f:
        f.configure(dict.fromkeys(names, 2))
        first = f.start("apply", "--auto-approve", "--no-wait", "--parallelism", "1")
        holder = place.open().locker
        while (info := holder.read()) is None or not sent_changes(f.requests()):
            time.sleep(0.02)  # it holds the lock and has changed a node pool
        assert f.np("force-unlock", "--force", info.id).code == 0
        # The second run changes the node pool the first one would change last.
        second = f.np("apply", "--auto-approve", "--no-wait", "--target", f"nodepool.{names[-1]}")
        assert second.code == 0, second.stderr
        serial = pulled(f)["serial"]
        out, err = first.communicate(timeout=60)
        assert first.returncode == 1, out + err
        assert ("another run" in err) if kind == "s3" else ("connection" in err), err
        assert isinstance(serial, int) and pulled(f)["serial"] == serial
        final = f.np("apply", "--auto-approve", "--no-wait")
        assert final.code == 0, final.stderr
        assert counts(f) == dict.fromkeys(names, 2)
        latest = pulled(f)["serial"]
        assert isinstance(latest, int) and latest >= serial


def test_a_saved_plan_is_refused_when_the_remote_state_moved(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    place = make_place(request, kind)
    names = ("pa", "pb", "pc")
    with remote_fleet(tmp_path, place, live=dict.fromkeys(names, 1)) as f:
        f.configure(dict.fromkeys(names, 2))
        assert f.np("apply", "--auto-approve", "--no-wait", "--target", "nodepool.pa").code == 0
        assert f.np("plan", "-out", "rest.plan").code == 0  # b and c, from serial 1
        moved = f.np("apply", "--auto-approve", "--no-wait", "--target", "nodepool.pb")
        assert moved.code == 0, moved.stderr  # another run moves the remote state on
        before = len(f.requests())
        stale = f.np("apply", "rest.plan")
        assert stale.code == 1
        assert stale.errors() == [
            "Error: the saved plan is out of date: state changed since the plan was made "
            "(serial 1 → 2); run np plan again"
        ]
        assert sent_changes(f.requests()[before:]) == []
        assert counts(f) == {"pa": 2, "pb": 2}


def test_a_local_state_moves_to_the_remote_backend_and_plans_no_changes(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    """The steps docs/state-backends.md gives: add the block, np init -migrate-state, plan."""
    place = make_place(request, kind)
    with fleet(tmp_path, live=dict.fromkeys(NAMES, 1)) as f:
        f.configure(dict.fromkeys(NAMES, 2))
        assert f.np("apply", "--auto-approve", "--no-wait").code == 0
        local = f.np("state", "pull")

        f.ws.write("backend.hcl", place.block())
        f.env.update(place.env)
        before = len(f.requests())
        for command in (("state", "pull"), ("plan",), ("apply", "-auto-approve")):
            stopped = f.np(*command)
            assert stopped.code == 1
            [error] = stopped.errors()
            assert error.startswith(f"Error: the backend changed from local to {kind} ("), error
            assert error.endswith(
                "since this directory last used it; run np init -migrate-state to copy the "
                "state, or np init -reconfigure to start from the new one"
            )
        assert sent_changes(f.requests()[before:]) == []
        migrated = f.np("init", "-migrate-state")
        assert migrated.code == 0, migrated.stderr
        assert "Workspace default: lineage" in migrated.stdout
        plan = f.np("plan", "--detailed-exitcode")
        assert plan.code == 0, plan.stdout + plan.stderr
        assert "No changes." in plan.stdout
        assert json.loads(f.np("state", "pull").stdout) == json.loads(local.stdout)
    place.close()


def every_output(f: Fleet) -> list[Result]:
    f.configure(dict.fromkeys(NAMES, 2))
    runs = [
        f.np("plan", "-v", "-out", "saved.plan"),
        f.np("apply", "-v", "saved.plan"),
        f.np("show", "-v"),
        f.np("state", "pull"),
        f.np("state", "list", "-v"),
        f.np("workspace", "list", "-v"),
        f.np("--workspace", "blue", "state", "list", "-v"),
    ]
    for run in runs:
        assert run.code == 0, run.stderr
    return runs


def test_no_secret_in_any_output_state_or_saved_plan(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    if kind == "pg":
        url = request.getfixturevalue("pg_url")
        parts = urlsplit(url)
        place = pg_place(url)
        place.env = {  # the real password only through PGPASSWORD, a sentinel beside it
            "NP_PG_CONN_STR": url.replace(f":{parts.password}@", "@"),
            "PGPASSWORD": parts.password or "",
        }
        secret = parts.password or ""
    else:
        place = make_place(request, kind)
        secret = S3_SECRET
    with remote_fleet(tmp_path, place, live=dict.fromkeys(NAMES, 1)) as f:
        runs = every_output(f)
        texts = [r.stdout + r.stderr for r in runs]
        texts.append((tmp_path / "saved.plan").read_text())
        assert all(secret not in text for text in texts)
        assert sent_changes(f.requests()) != []


def test_a_bad_password_is_one_error_naming_the_server_and_nothing_is_sent(
    pg_url: str, tmp_path: Path
) -> None:
    parts = urlsplit(pg_url)
    place = pg_place(pg_url.replace(f":{parts.password}@", f":{PG_SENTINEL}@"))
    with remote_fleet(tmp_path, place, live=dict.fromkeys(NAMES, 1)) as f:
        f.configure(dict.fromkeys(NAMES, 2))
        for args in (("plan",), ("apply", "--auto-approve"), ("plan", "-v")):
            done = f.np(*args)
            assert done.code == 1
            assert PG_SENTINEL not in done.stdout + done.stderr
            assert "password authentication failed" in done.stderr
            assert f"cannot connect to PostgreSQL at 127.0.0.1:{parts.port}/postgres" in done.stderr
        assert f.requests() == []


def test_a_store_that_ignores_conditional_writes_is_refused_before_any_request(
    s3_url: str, tmp_path: Path
) -> None:
    """np plan and apply through a proxy that strips If-Match and If-None-Match: one message
    naming the missing feature and the pg backend; nothing sent to ModelArts, nothing left in
    the bucket."""
    place = s3_place(s3_url)
    with TcpProxy(target(s3_url), strip_headers=("if-match", "if-none-match")) as proxy:
        stripped = Place("s3", {**place.settings, "endpoint": proxy.url}, place.env)
        with remote_fleet(tmp_path, stripped, live=dict.fromkeys(NAMES, 1)) as f:
            f.configure(dict.fromkeys(NAMES, 2))
            for args in (("plan",), ("apply", "--auto-approve")):
                done = f.np(*args)
                assert done.code == 1
                [error] = done.errors()
                assert "does not honour conditional writes (If-None-Match: *" in error
                assert "use the pg backend instead" in error
            assert f.requests() == []
    bucket = place.settings["bucket"]
    assert "<Key>" not in httpx.get(f"{s3_url}/{bucket}", params={"list-type": "2"}).text


def test_a_bucket_lost_and_made_again_stops_plan_until_the_state_is_restored(
    s3_url: str, tmp_path: Path
) -> None:
    """The bucket comes back empty (lost, then created again): np stops instead of starting
    from an empty state, which would adopt every node pool as if for the first time."""
    place = s3_place(s3_url)
    bucket = place.settings["bucket"]
    with remote_fleet(tmp_path, place, live=dict.fromkeys(NAMES, 1)) as f:
        f.configure(dict.fromkeys(NAMES, 2))
        assert f.np("apply", "--auto-approve", "--no-wait").code == 0
        saved = tmp_path / "saved.json"
        saved.write_text(f.np("state", "pull").stdout)
        client = client_of(place)
        listing = client.send("GET", None, query=[("list-type", "2")], what="list").body
        for key in re.findall(r"<Key>([^<]+)</Key>", listing.decode()):
            client.send("DELETE", key, what="lose the bucket's objects")
        before = len(f.requests())

        stopped = f.np("plan")
        assert stopped.code == 1
        [error] = stopped.errors()
        assert f"s3://{bucket}/" in error and "holds no state, but this directory last saw" in error
        assert "np init -reconfigure" in error
        assert f.np("apply", "-auto-approve").code == 1
        assert sent_changes(f.requests()[before:]) == []

        pushed = f.np("state", "push", str(saved))
        assert pushed.code == 0, pushed.stderr
        plan = f.np("plan", "-detailed-exitcode")
        assert plan.code == 0, plan.stdout + plan.stderr
