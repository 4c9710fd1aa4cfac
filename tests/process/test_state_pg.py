"""The pg backend against a real PostgreSQL: clear connection errors that never show the
password, a dead holder's lock freed by the server at once, and a connection cut at any point of
a write leaving the old state or the new one, whole."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict
from urllib.parse import urlsplit

import pytest
from remote import Place, holder, pg_place
from tcpproxy import TcpProxy

from reconciler.errors import StateError
from reconciler.state import pg_session
from reconciler.state.document import ResourceState, State
from reconciler.state.manager import StateManager
from reconciler.state.protocols import NOTHING_STORED, JournalRecord

PASSWORD_SENTINEL = "pw-sentinel-7d2e91"


@pytest.fixture
def place(pg_url: str) -> Iterator[Place]:
    made = pg_place(pg_url)
    yield made
    made.close()


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    return parts._replace(
        netloc=f"{parts.username}:{password}@{parts.hostname}:{parts.port}"
    ).geturl()


def big_state(lineage: str, serial: int, count: int) -> State:
    doc = {"flavor": "modelarts.vm.cpu.8u", "count": count, "labels": {"k": "v" * 50}}
    resources = {
        f"nodepool.np{i:03d}": ResourceState("pool-prod", f"np{i:03d}", doc, doc, "t")
        for i in range(150)
    }
    return State(lineage, serial, resources)


def error_of(place: Place) -> str:
    with pytest.raises(StateError) as err:
        place.open().store.read()
    return str(err.value)


def test_a_wrong_password_is_one_clear_error_without_the_password(pg_url: str) -> None:
    place = pg_place(with_password(pg_url, PASSWORD_SENTINEL))
    message = error_of(place)
    assert message.startswith(
        'main.hcl:1: backend "pg": cannot connect to PostgreSQL at 127.0.0.1:'
    )
    assert "password authentication failed" in message
    assert "NP_PG_CONN_STR" in message
    assert PASSWORD_SENTINEL not in message


@pytest.mark.parametrize(
    "conninfo",
    [
        f"host=127.0.0.1 port=1 user=np password={PASSWORD_SENTINEL}",
        f"postgresql://np:{PASSWORD_SENTINEL}@127.0.0.1:1/db",
        f"host=127.0.0.1 password={PASSWORD_SENTINEL} user",  # not parseable
        f"postgresql://np:{PASSWORD_SENTINEL}@[::1/db",  # not parseable
        f"host=127.0.0.1 password='{PASSWORD_SENTINEL} with spaces' nonsense",
    ],
)
def test_no_message_shows_the_password(conninfo: str) -> None:
    place = Place("pg", {}, {"NP_PG_CONN_STR": conninfo})
    message = error_of(place)
    assert PASSWORD_SENTINEL not in message
    assert message.startswith('main.hcl:1: backend "pg": ')


def test_pgpassword_is_masked_too(pg_url: str) -> None:
    parts = urlsplit(pg_url)
    env = {"NP_PG_CONN_STR": f"host=127.0.0.1 port=1 user={parts.username}"}
    place = Place("pg", {}, {**env, "PGPASSWORD": PASSWORD_SENTINEL})
    assert PASSWORD_SENTINEL not in error_of(place)


def test_a_server_that_never_answers_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A black hole (accepts, never speaks) is an error after the connect timeout, not a hang."""
    monkeypatch.setattr(pg_session, "CONNECT_TIMEOUT", 1)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        place = Place("pg", {}, {"NP_PG_CONN_STR": f"host=127.0.0.1 port={port} user=np"})
        message = error_of(place)
    assert f"cannot connect to PostgreSQL at 127.0.0.1:{port}" in message
    assert "timeout" in message


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"schema_name": "Np-State"}, "schema_name: 'Np-State' is not a plain PostgreSQL name"),
        ({"schema_name": "x; DROP TABLE y"}, "is not a plain PostgreSQL name"),
        ({"conn_str": "postgresql://..."}, "unknown setting 'conn_str'"),
    ],
)
def test_bad_settings_are_refused_before_connecting(settings: dict[str, str], problem: str) -> None:
    with pytest.raises(StateError, match=problem):
        Place("pg", settings, {"NP_PG_CONN_STR": "host=127.0.0.1 port=1"}).open()


HOLD = textwrap.dedent(
    """
    import sys, time
    from reconciler.state.pg import open_backend
    from reconciler.state.protocols import LockInfo
    backend = open_backend({"schema_name": sys.argv[1]}, workspace="default",
                           environ={"NP_PG_CONN_STR": sys.argv[2]}, where="holder")
    backend.locker.acquire(LockInfo(id="killed-holder", pid=1, host="h", user="u",
                                    operation="apply", created="c"), 0)
    print("locked", flush=True)
    time.sleep(600)
    """
)


def test_a_killed_holder_frees_its_lock_at_once(place: Place, pg_url: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, place.settings["schema_name"], pg_url],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
        assert place.open().locker.read() is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # The server sees the connection close and frees the lock: no force-unlock, no wait
        # for a timeout (the retry window is only the server noticing the closed socket).
        locker = place.open().locker
        locker.acquire(holder(2), timeout=5)
        assert locker.read() == holder(2)
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def test_a_lost_connection_is_never_reopened(place: Place, pg_url: str) -> None:
    """The lock went with the connection: carrying on with a new one could write over the run
    that took the lock since."""
    parts = urlsplit(pg_url)
    with TcpProxy((parts.hostname or "", parts.port or 0)) as proxy:
        via = pg_place(pg_url.replace(f":{parts.port}/", f":{proxy.port}/"))
        via.settings = place.settings
        backend = via.open()
        backend.locker.acquire(holder(1), timeout=0)
        proxy.cut_after(1)
        with pytest.raises(StateError, match="the connection was lost"):
            backend.store.write(State("L", 1, {}), NOTHING_STORED)
        with pytest.raises(StateError, match="this run stops here"):
            backend.journal.append([JournalRecord("L", 0, "nodepool.a", None)])
        via.close()
    other = place.open().locker
    other.acquire(holder(2), timeout=5)  # the server freed the cut session's lock


def write_through_proxy(place: Place, pg_url: str, cut: Callable[[TcpProxy], None]) -> TcpProxy:
    """Write a new state (from a fresh connection through a proxy) after ``cut`` armed it."""
    old, new = big_state("L", 1, count=1), big_state("L", 2, count=2)
    v1 = place.open().store.write(old, NOTHING_STORED)
    parts = urlsplit(pg_url)
    with TcpProxy((parts.hostname or "", parts.port or 0)) as proxy:
        via = pg_place(pg_url.replace(f":{parts.port}/", f":{proxy.port}/"))
        via.settings = place.settings
        backend = via.open()
        backend.store.read()  # connected; what follows is the write alone
        before = proxy.sent, proxy.received
        cut(proxy)
        try:
            backend.store.write(new, v1)
        except StateError as exc:
            assert "connection was lost" in str(exc)
        via.close()
    proxy.sent -= before[0]
    proxy.received -= before[1]
    assert place.open().store.read().state in (old, new)
    return proxy


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, 0.99, 1.0])
def test_a_connection_cut_mid_write_leaves_the_old_state_or_the_new(
    place: Place, pg_url: str, fraction: float
) -> None:
    size = write_through_proxy(place, pg_url, lambda proxy: None).sent
    second = pg_place(pg_url)
    cut_at = min(int(size * fraction), size - 1)
    proxy = write_through_proxy(second, pg_url, lambda proxy: proxy.cut_after(cut_at))
    second.close()
    assert proxy.cuts == 1


def test_a_write_whose_answer_is_lost_has_landed_whole(place: Place, pg_url: str) -> None:
    """The server committed, the client never heard so: the new state, whole."""
    answer = write_through_proxy(place, pg_url, lambda proxy: None).received
    second = pg_place(pg_url)
    proxy = write_through_proxy(second, pg_url, lambda p: p.cut_after(answer - 1, True))
    assert proxy.cuts == 1
    assert second.open().store.read().state == big_state("L", 2, count=2)
    second.close()


def test_a_reader_waits_for_the_holder_record_that_is_about_to_commit(place: Place) -> None:
    """The lock shows in pg_locks as soon as it is taken, its holder's record only on commit:
    a reader in between waits for the record instead of naming an anonymous session."""
    import json

    import psycopg

    key = pg_session.lock_key(place.settings["schema_name"], "default")
    place.open().store.read()  # the tables exist
    with psycopg.connect(place.env["NP_PG_CONN_STR"]) as holding:  # a transaction, not autocommit
        holding.execute("SELECT pg_try_advisory_lock(%s)", (key,))
        record = {**asdict(holder(1)), "backend_pid": holding.info.backend_pid}
        holding.execute(
            f'INSERT INTO "{place.settings["schema_name"]}".states (workspace, lock_info) '
            "VALUES ('default', %s)",
            (json.dumps(record),),
        )
        threading.Timer(2.5, holding.commit).start()  # longer than any fixed grace
        assert place.open().locker.read() == holder(1)


def test_a_holder_that_never_recorded_itself_is_named_by_its_session(place: Place) -> None:
    """An older np or another tool holding the lock: the server's view of the session, and a
    force-unlock by that name ends it."""
    import psycopg

    key = pg_session.lock_key(place.settings["schema_name"], "default")
    place.open().store.read()
    with psycopg.connect(place.env["NP_PG_CONN_STR"], autocommit=True) as holding:
        holding.execute("SELECT pg_advisory_lock(%s)", (key,))
        found = place.open().locker.read()
        assert found is not None
        assert found.id == f"pg-session-{holding.info.backend_pid}"
        assert found.user == "np_admin" and found.host == "127.0.0.1"
        StateManager(place.open()).force_unlock(found.id)
        with pytest.raises(psycopg.OperationalError):
            holding.execute("SELECT 1")
    locker = place.open().locker
    locker.acquire(holder(2), timeout=5)
    assert locker.read() == holder(2)
