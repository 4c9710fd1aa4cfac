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

The connection comes from ``NP_PG_CONN_STR`` (a libpq URI or key=value string) and the usual
``PG*`` variables; its password never appears in a message.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from reconciler.errors import LockError, StateError
from reconciler.state.document import State
from reconciler.state.locking import LOCK_FIELDS, lock_record
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

CONN_VARIABLE = "NP_PG_CONN_STR"
DEFAULT_SCHEMA = "np"
CONNECT_TIMEOUT = 10
"""Seconds: an unreachable server or a wrong password is one clear error, not a hang."""
_CLIENT_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
_SERVER_KEEPALIVES = (
    "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
)
"""The server's side of the same: a runner whose machine vanished loses its lock in ~25 s."""
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
    session = _Session(environ.get(CONN_VARIABLE, ""), environ, schema, workspace, where)
    locker = PgLocker(session)

    def close() -> None:
        locker.release()
        session.close()

    return Backend(
        store=PgStore(session),
        journal=PgJournal(session),
        locker=locker,
        workspaces=PgWorkspaces(session),
        workspace=workspace,
        close=close,
    )


class _Session:
    """The run's one connection, opened on first use; every statement goes through ``run``."""

    def __init__(
        self, conninfo: str, environ: Mapping[str, str], schema: str, workspace: str, where: str
    ) -> None:
        self.conninfo = conninfo
        self.schema = schema
        self.workspace = workspace
        self.where = where
        self._secrets = _secrets_of(conninfo, environ)
        self._conn: psycopg.Connection[Any] | None = None
        self._mutex = threading.RLock()
        """apply journals from worker threads while the main thread refreshes the lock."""
        self.lock_key = _lock_key(schema, workspace)

    def describe(self) -> str:
        """``pg schema "np", workspace "default" (PostgreSQL at host:port/db)``."""
        return f'pg schema "{self.schema}", workspace "{self.workspace}" ({self.server()})'

    def server(self) -> str:
        """The server as messages name it, never with the password."""
        try:
            params = conninfo_to_dict(self.conninfo)
        except psycopg.Error:
            return "PostgreSQL"
        host = params.get("host") or params.get("hostaddr") or "the default host"
        port = f":{params['port']}" if params.get("port") else ""
        database = f"/{params['dbname']}" if params.get("dbname") else ""
        return f"PostgreSQL at {host}{port}{database}"

    def table(self, name: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(name))

    def run(self, what: str, action: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        """``action`` on the connection, one thread at a time, psycopg errors as one message."""
        with self._mutex:
            conn = self._connection()
            try:
                return action(conn)
            except psycopg.Error as exc:
                reason = "the connection was lost" if conn.broken else self.mask(_first_line(exc))
                raise StateError(f"{self.where}: {what}: {reason} ({self.server()})") from None

    @contextmanager
    def transaction(self, conn: psycopg.Connection[Any]) -> Iterator[psycopg.Cursor[Any]]:
        """A cursor inside one transaction: any failure rolls all of it back."""
        with conn.transaction(), conn.cursor() as cursor:
            yield cursor

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", text, flags=re.I)
        return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._conn.close()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            self._conn = self._connect()
            self._create_tables(self._conn)
        elif self._conn.broken or self._conn.closed:
            # Never reconnect: the lock belonged to the old session, and with it every write.
            raise StateError(
                f"{self.where}: the connection to {self.server()} was lost; the state lock "
                "went with it, so this run stops here"
            )
        return self._conn

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            params = conninfo_to_dict(self.conninfo)
        except psycopg.Error as exc:
            raise StateError(
                f"{self.where}: {CONN_VARIABLE} is not a valid libpq connection string: "
                f"{self.mask(_first_line(exc))}"
            ) from None
        options: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT, **_CLIENT_KEEPALIVES}
        options.update(params)
        options["options"] = f"{params.get('options', '')} {_SERVER_KEEPALIVES}".strip()
        options.setdefault("application_name", "np")
        try:
            return psycopg.connect(autocommit=True, **options)
        except psycopg.Error as exc:
            raise StateError(
                f"{self.where}: cannot connect to {self.server()}: "
                f"{self.mask(_connect_reason(exc))} "
                f"(the connection comes from {CONN_VARIABLE} and the PG* variables)"
            ) from None

    def _create_tables(self, conn: psycopg.Connection[Any]) -> None:
        def create(conn: psycopg.Connection[Any]) -> None:
            found = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL",
                (f'"{self.schema}".states', f'"{self.schema}".journal'),
            ).fetchone()
            if found and found[0]:
                return
            with self.transaction(conn) as cur:
                # Two first runs at once would both CREATE ... IF NOT EXISTS, and one would fail
                # on the catalog's unique index: take turns.
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(self.schema, ""),))
                cur.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
                )
                cur.execute(sql.SQL(_STATES_TABLE).format(self.table("states")))
                cur.execute(sql.SQL(_JOURNAL_TABLE).format(self.table("journal")))

        with self._mutex:
            try:
                create(conn)
            except psycopg.Error as exc:
                raise StateError(
                    f"{self.where}: cannot create the tables in schema {self.schema!r}: "
                    f"{self.mask(_first_line(exc))} ({self.server()})"
                ) from None


_STATES_TABLE = """CREATE TABLE IF NOT EXISTS {} (
    workspace text PRIMARY KEY,
    lineage text,
    serial bigint NOT NULL DEFAULT 0,
    state jsonb,
    lock_info jsonb,
    updated_at timestamptz NOT NULL DEFAULT now())"""
"""``lineage`` is NULL in a row that only records a lock: nothing is stored there yet."""

_JOURNAL_TABLE = """CREATE TABLE IF NOT EXISTS {} (
    workspace text NOT NULL,
    seq bigserial,
    record jsonb NOT NULL,
    PRIMARY KEY (workspace, seq))"""

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


def _folded(cur: psycopg.Cursor[Any], s: _Session, workspace: str, upto: Version) -> None:
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

    def __init__(self, session: _Session) -> None:
        self._s = session

    def describe(self) -> str:
        return self._s.describe()

    def read(self) -> Stored:
        query = sql.SQL("SELECT lineage, serial, state FROM {} WHERE workspace = %s")

        def read(conn: psycopg.Connection[Any]) -> Any:
            return conn.execute(
                query.format(self._s.table("states")), (self._s.workspace,)
            ).fetchone()

        row = self._s.run("cannot read the state", read)
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

    def __init__(self, session: _Session) -> None:
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
        s = self._s
        query = sql.SQL("SELECT seq, record FROM {} WHERE workspace = %s ORDER BY seq")

        def read(conn: psycopg.Connection[Any]) -> list[Any]:
            return conn.execute(query.format(s.table("journal")), (s.workspace,)).fetchall()

        return [
            JournalRecord.from_json(record, f"{s.describe()}: journal row {seq}")
            for seq, record in s.run("cannot read the journal", read)
        ]

    def clear(self, upto: Version) -> None:
        s = self._s

        def clear(conn: psycopg.Connection[Any]) -> None:
            with s.transaction(conn) as cur:
                _folded(cur, s, s.workspace, upto)

        s.run("cannot clear the journal", clear)


class PgWorkspaces:
    def __init__(self, session: _Session) -> None:
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

    def __init__(self, session: _Session) -> None:
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
        except StateError as exc:
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

    def force_unlock(self, lock_id: str) -> LockInfo:
        """End the holder's database session, if it holds ``lock_id``: the server then frees
        the lock, and the holder, should it still run, can write nothing more."""
        holder = self._holder()
        if holder is None:
            raise LockError(f"{self.describe()}: the state is not locked; nothing to unlock")
        if holder.id != lock_id:
            raise LockError(
                f"lock ID {lock_id} does not match the lock on {self.describe()}; nothing "
                "removed\n" + holder.describe()
            )
        pid = holder.pid if holder.id.startswith(_SESSION_PREFIX) else self._holder_backend()

        def terminate(conn: psycopg.Connection[Any]) -> bool:
            row = conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
            return bool(row and row[0])

        if pid is None or not self._s.run("cannot end the lock holder's session", terminate):
            raise LockError(
                f"{self.describe()}: could not end the lock holder's database session "
                f"(backend pid {pid}); a database administrator can run "
                f"SELECT pg_terminate_backend({pid})"
            )
        return holder

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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _connect_reason(exc: BaseException) -> str:
    """libpq's reason without its boilerplate: ``connection failed: connection to server at
    "h", port p failed: FATAL:  password authentication failed`` → the part after FATAL."""
    reason = _first_line(exc).rsplit(" failed: ", 1)[-1]
    return re.sub(r"^(FATAL|ERROR):\s+", "", reason)


def _secrets_of(conninfo: str, environ: Mapping[str, str]) -> list[str]:
    """Every password np may be handed, longest first, so that masking never leaves a tail."""
    found = [environ.get("PGPASSWORD", "")]
    with suppress(psycopg.Error):
        found.append(str(conninfo_to_dict(conninfo).get("password") or ""))
    return sorted({s for s in found if s}, key=len, reverse=True)
