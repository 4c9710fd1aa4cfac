"""The pg state backend: state, journal and lock in PostgreSQL, for teams that share one state.

Two tables in ``schema_name`` (default ``np``), created on first use: ``states`` holds one row per
workspace (lineage, serial, the state document as jsonb, and who holds the lock) and ``journal``
the changes recorded since that row was last written. One dedicated connection serves the whole
run — the lock and every read and write — so that:

- the lock is a session-level advisory lock: when a runner dies its connection closes and the
  server frees the lock at once (TCP keepalives on both ends notice a vanished machine too);
- a runner that loses its connection has lost the lock, and never reconnects to write more;
- a write is ``UPDATE ... WHERE lineage = %s AND serial = %s``: zero rows means another writer
  won (``StateConflict``), and the run stops;
- each batch of journal records is one transaction; a checkpoint replaces the state row and
  drops the records it folded in, in one transaction under the same compare-and-swap.

Readers see the state row and its journal rows in one REPEATABLE READ transaction, so a view
never lacks records a checkpoint folded after it read the row. The connection itself (opened
once, masked, bounded by timeouts) is ``pg_session``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from reconciler.errors import StateError
from reconciler.state.document import State
from reconciler.state.locking import LOCK_FIELDS, lock_record
from reconciler.state.pg_session import CONN_VARIABLE, PgSession, SessionLost
from reconciler.state.protocols import (
    DEFAULT_WORKSPACE,
    NOTHING_STORED,
    Backend,
    JournalRecord,
    LockHeldError,
    LockInfo,
    LockLostError,
    StateConflict,
    Stored,
    Version,
)

DEFAULT_SCHEMA = "np"
_POLL = 0.2
_HOLDER_SETTLE = 30.0
"""At most this long a reader waits for a holder's record to commit (on a badly overloaded
machine); it stops waiting as soon as the holder's session is outside any transaction."""
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_T = TypeVar("_T")


def open_backend(
    settings: Mapping[str, str], *, workspace: str, environ: Mapping[str, str], where: str
) -> Backend:
    """The pg backend for ``workspace``; nothing connects until the first operation."""
    unknown = sorted(set(settings) - {"schema_name"})
    if unknown:
        raise StateError(
            f"{where}: unknown setting {unknown[0]!r} (the pg backend takes schema_name)"
        )
    schema = settings.get("schema_name", DEFAULT_SCHEMA)
    if not _IDENTIFIER.fullmatch(schema):
        raise StateError(
            f"{where}: schema_name: {schema!r} is not a plain PostgreSQL name "
            "(lower-case letters, digits and _, not starting with a digit, at most 63)"
        )
    session = PgSession(environ.get(CONN_VARIABLE, ""), environ, schema, workspace, where)
    locker = PgLocker(session)

    def close() -> None:
        locker.release()
        session.close()

    store, journal = PgStore(session), PgJournal(session)

    def snapshot() -> tuple[Stored, list[JournalRecord]]:
        """The row and its journal rows in one REPEATABLE READ transaction: one moment."""

        def both(conn: psycopg.Connection[Any]) -> tuple[Stored, list[JournalRecord]]:
            with session.transaction(conn) as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                return store.read_in(cur), journal.read_in(cur)

        return session.run("cannot read the state", both)

    return Backend(
        store=store,
        journal=journal,
        locker=locker,
        workspaces=PgWorkspaces(session),
        workspace=workspace,
        snapshot=snapshot,
        close=close,
    )


_HELD_BY = """SELECT l.pid, a.usename, host(a.client_addr), a.backend_start,
           a.xact_start IS NOT NULL
    FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s
      AND l.objsubid = 1"""


def _lock_key(schema: str, workspace: str) -> int:
    """The advisory lock key of one workspace's state: 64 bits of a hash of its name."""
    digest = hashlib.sha256(f"np-state/{schema}/{workspace}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _lock_ids(key: int) -> tuple[int, int]:
    """A bigint advisory key as pg_locks shows it: high and low 32 bits, unsigned."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


def _folded(cur: psycopg.Cursor[Any], s: PgSession, workspace: str, upto: Version) -> None:
    """Drop the journal records that the checkpoint ``upto`` already holds."""
    cur.execute(
        sql.SQL(
            "DELETE FROM {} WHERE workspace = %s AND "
            "(record->>'lineage' IS DISTINCT FROM %s OR (record->>'base_serial')::bigint < %s)"
        ).format(s.table("journal")),
        (workspace, upto.lineage, upto.serial),
    )


class PgStore:
    """The state row of one workspace, written only under compare-and-swap."""

    def __init__(self, session: PgSession) -> None:
        self._s = session

    def describe(self) -> str:
        return self._s.describe()

    def restore_hint(self) -> str | None:
        return None  # one row per workspace, no earlier version: the database's own backups

    def read(self) -> Stored:
        def read(conn: psycopg.Connection[Any]) -> Stored:
            with conn.cursor() as cur:
                return self.read_in(cur)

        return self._s.run("cannot read the state", read)

    def read_in(self, cur: psycopg.Cursor[Any]) -> Stored:
        query = sql.SQL("SELECT lineage, serial, state FROM {} WHERE workspace = %s")
        row = cur.execute(query.format(self._s.table("states")), (self._s.workspace,)).fetchone()
        if row is None or row[0] is None:
            return Stored(None, NOTHING_STORED)
        state = State.from_json(row[2], self.describe())
        return Stored(state, Version(row[0], row[1]))

    def write(self, state: State, expected: Version) -> Version:
        s = self._s
        document = json.dumps(state.to_json(), ensure_ascii=False)
        if expected.lineage is None:
            query = sql.SQL(
                """INSERT INTO {t} (workspace, lineage, serial, state) VALUES (%s, %s, %s, %s)
                   ON CONFLICT (workspace) DO UPDATE
                   SET lineage = excluded.lineage, serial = excluded.serial,
                       state = excluded.state, updated_at = now()
                   WHERE {t}.lineage IS NULL"""
            ).format(t=s.table("states"))
            params: tuple[Any, ...] = (s.workspace, state.lineage, state.serial, document)
        else:
            query = sql.SQL(
                """UPDATE {} SET lineage = %s, serial = %s, state = %s, updated_at = now()
                   WHERE workspace = %s AND lineage = %s AND serial = %s"""
            ).format(s.table("states"))
            params = (state.lineage, state.serial, document, s.workspace)
            params += (expected.lineage, expected.serial)

        def write(conn: psycopg.Connection[Any]) -> bool:
            with s.transaction(conn) as cur:
                cur.execute(query, params)
                if cur.rowcount != 1:
                    return False
                _folded(cur, s, s.workspace, Version(state.lineage, state.serial))
                return True

        if not s.run("cannot write the state", write):
            raise StateConflict(
                f"{self.describe()}: the state changed since this run read it "
                f"({_version(expected)}): another run wrote it first"
            )
        return Version(state.lineage, state.serial)


def _version(version: Version) -> str:
    if version.lineage is None:
        return "it was empty then"
    return f"it was lineage {version.lineage}, serial {version.serial} then"


class PgJournal:
    """Journal rows of one workspace: each ``append`` is one transaction, durable on return."""

    def __init__(self, session: PgSession) -> None:
        self._s = session

    def describe(self) -> str:
        return f"the journal of {self._s.describe()}"

    def append(self, records: Sequence[JournalRecord]) -> None:
        if not records:
            return
        s = self._s
        # One statement, so one round trip and one (implicit) transaction per batch: the rows
        # take their sequence numbers in the batch's order, all or none of them.
        insert = sql.SQL(
            "INSERT INTO {} (workspace, record) SELECT %s, r.value "
            "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS r ORDER BY r.ordinality"
        ).format(s.table("journal"))
        batch = json.dumps([r.to_json() for r in records], ensure_ascii=False)

        def append(conn: psycopg.Connection[Any]) -> None:
            conn.execute(insert, (s.workspace, batch))

        s.run("cannot append to the journal", append)

    def read(self) -> list[JournalRecord]:
        def read(conn: psycopg.Connection[Any]) -> list[JournalRecord]:
            with conn.cursor() as cur:
                return self.read_in(cur)

        return self._s.run("cannot read the journal", read)

    def read_in(self, cur: psycopg.Cursor[Any]) -> list[JournalRecord]:
        s = self._s
        query = sql.SQL("SELECT seq, record FROM {} WHERE workspace = %s ORDER BY seq")
        rows = cur.execute(query.format(s.table("journal")), (s.workspace,)).fetchall()
        return [
            JournalRecord.from_json(record, f"{s.describe()}: journal row {seq}")
            for seq, record in rows
        ]

    def clear(self, upto: Version) -> None:
        s = self._s

        def clear(conn: psycopg.Connection[Any]) -> None:
            with s.transaction(conn) as cur:
                _folded(cur, s, s.workspace, upto)

        s.run("cannot clear the journal", clear)


class PgWorkspaces:
    def __init__(self, session: PgSession) -> None:
        self._s = session

    def list(self) -> list[str]:
        s = self._s
        query = sql.SQL(
            "SELECT workspace FROM {} WHERE lineage IS NOT NULL "
            "UNION SELECT DISTINCT workspace FROM {}"
        ).format(s.table("states"), s.table("journal"))

        def names(conn: psycopg.Connection[Any]) -> list[str]:
            return sorted(row[0] for row in conn.execute(query).fetchall())

        return s.run("cannot list the workspaces", names)

    def delete(self, name: str) -> None:
        if name == DEFAULT_WORKSPACE:
            raise StateError(f"{self._s.where}: the default workspace cannot be deleted")
        s = self._s

        def delete(conn: psycopg.Connection[Any]) -> None:
            with s.transaction(conn) as cur:
                for table in ("journal", "states"):
                    cur.execute(
                        sql.SQL("DELETE FROM {} WHERE workspace = %s").format(s.table(table)),
                        (name,),
                    )

        s.run(f"cannot delete workspace {name!r}", delete)


class PgLocker:
    """A session advisory lock per workspace; the state row records who holds it."""

    def __init__(self, session: PgSession) -> None:
        self._s = session
        self._held: LockInfo | None = None

    def describe(self) -> str:
        return self._s.describe()

    def acquire(self, info: LockInfo, timeout: float) -> None:
        s = self._s
        upsert = sql.SQL(
            """INSERT INTO {} (workspace, lock_info) VALUES (%s, %s)
               ON CONFLICT (workspace) DO UPDATE SET lock_info = excluded.lock_info"""
        ).format(s.table("states"))

        def try_lock(conn: psycopg.Connection[Any]) -> bool:
            # The holder says who it is in the same transaction that takes the lock, so that
            # nobody ever sees the lock held without its holder (or a previous holder's name).
            with s.transaction(conn) as cur:
                row = cur.execute("SELECT pg_try_advisory_lock(%s)", (s.lock_key,)).fetchone()
                if not (row and row[0]):
                    return False
                record = {**lock_record(info), "backend_pid": conn.info.backend_pid}
                cur.execute(upsert, (s.workspace, json.dumps(record)))
                return True

        deadline = time.monotonic() + timeout
        while not s.run("cannot take the state lock", try_lock):
            if time.monotonic() >= deadline:
                holder = self._holder()
                if holder is not None:  # else it was released just now: try once more
                    raise LockHeldError(holder, self.describe())
            else:
                time.sleep(_POLL)
        self._held = info

    def refresh(self) -> None:
        if self._held is None:
            raise LockLostError(f"{self.describe()}: this run does not hold the state lock")

        def ours(conn: psycopg.Connection[Any]) -> bool:
            row = conn.execute(_HELD_BY, _lock_ids(self._s.lock_key)).fetchone()
            return row is not None and row[0] == conn.info.backend_pid

        try:
            held = self._s.run("cannot check the state lock", ours)
        except SessionLost as exc:  # the lock went with the session
            raise LockLostError(f"lost the state lock: {exc}") from None
        if not held:
            raise LockLostError(f"lost the state lock ({self.describe()}): it was force-unlocked")

    def release(self) -> None:
        if self._held is None:
            return
        lock_id, self._held = self._held.id, None
        s = self._s
        clear = sql.SQL(
            "UPDATE {} SET lock_info = NULL WHERE workspace = %s AND lock_info->>'id' = %s"
        ).format(s.table("states"))

        def unlock(conn: psycopg.Connection[Any]) -> None:
            with s.transaction(conn) as cur:
                cur.execute(clear, (s.workspace, lock_id))
                cur.execute("SELECT pg_advisory_unlock(%s)", (s.lock_key,))

        with suppress(StateError):  # the connection is gone, and the server freed the lock
            s.run("cannot release the state lock", unlock)

    def read(self) -> LockInfo | None:
        return self._holder()

    def remove(self, holder: LockInfo) -> bool:
        """End the holder's database session, if it still holds the lock: the server then
        frees the lock, and the holder, should it still run, can write nothing more."""
        current = self._holder()
        if current is None or current.id != holder.id:
            return False
        pid = holder.pid if holder.id.startswith(_SESSION_PREFIX) else self._holder_backend()

        def terminate(conn: psycopg.Connection[Any]) -> bool:
            row = conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
            return bool(row and row[0])

        if pid is None or not self._s.run("cannot end the lock holder's session", terminate):
            raise StateError(
                f"{self.describe()}: could not end the lock holder's database session "
                f"(backend pid {pid}); a database administrator can run "
                f"SELECT pg_terminate_backend({pid})"
            )
        return True

    def _holder_backend(self) -> int | None:
        def pid(conn: psycopg.Connection[Any]) -> int | None:
            row = conn.execute(_HELD_BY, _lock_ids(self._s.lock_key)).fetchone()
            return None if row is None else int(row[0])

        return self._s.run("cannot read the state lock", pid)

    def _holder(self) -> LockInfo | None:
        """Who holds the lock: what its holder recorded, if the lock really is that session's.

        A holder records itself in the transaction that takes the lock, and the lock shows in
        ``pg_locks`` before that commits: while the holder's session is in a transaction, its
        record may be about to appear, so wait. A session out of any transaction whose record
        does not match never recorded itself: say what the server knows of it.
        """
        s = self._s
        recorded = sql.SQL("SELECT lock_info FROM {} WHERE workspace = %s").format(
            s.table("states")
        )

        def look(conn: psycopg.Connection[Any]) -> tuple[LockInfo | None, bool]:
            session = conn.execute(_HELD_BY, _lock_ids(s.lock_key)).fetchone()
            if session is None:
                return None, True
            found = conn.execute(recorded, (s.workspace,)).fetchone()
            record = found[0] if found else None
            if isinstance(record, dict) and record.get("backend_pid") == session[0]:
                return _lock_info(record), True
            in_transaction = bool(session[4])
            return _session_info(*session[:4]), not in_transaction

        deadline = time.monotonic() + _HOLDER_SETTLE
        while True:
            holder, known = s.run("cannot read the state lock", look)
            if known or time.monotonic() >= deadline:
                return holder
            time.sleep(_POLL)


_SESSION_PREFIX = "pg-session-"


def _lock_info(record: dict[str, Any]) -> LockInfo:
    return LockInfo(**{name: record[name] for name in LOCK_FIELDS if name in record})


def _session_info(pid: int, user: str | None, client: str | None, started: Any) -> LockInfo:
    """A holder known only to the server (an older np, or one that is just starting)."""
    return LockInfo(
        id=f"{_SESSION_PREFIX}{pid}",
        pid=pid,
        host=client or "local socket",
        user=user or "?",
        operation="(database session)",
        created=str(started or ""),
    )
