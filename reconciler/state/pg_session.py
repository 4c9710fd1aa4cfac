"""The pg backend's one connection: opened on first use, never reopened, every statement through
``run``. The run's lock is a session advisory lock on it, so a connection that is lost takes the
lock with it (``SessionLost``), and np then writes nothing more.

    session = PgSession(environ["NP_PG_CONN_STR"], environ, "np", "default", where)
    row = session.run("cannot read the state", lambda conn: conn.execute(...).fetchone())

The connection comes from ``NP_PG_CONN_STR`` (a libpq URI or key=value string) and the usual
``PG*`` variables; its password never appears in a message. Keepalives on both ends notice a
vanished machine in about 25 s; ``statement_timeout`` and ``tcp_user_timeout`` bound a
statement that a stalled server or network would otherwise let hang.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

import psycopg
from psycopg import pq, sql
from psycopg.conninfo import conninfo_to_dict

from reconciler.errors import StateError

CONN_VARIABLE = "NP_PG_CONN_STR"
CONNECT_TIMEOUT = 10
"""Seconds: an unreachable server or a wrong password is one clear error, not a hang."""
STATEMENT_TIMEOUT_MS = 30_000
"""No statement np runs takes seconds; one that does is stalled, and apply must stop sending."""
_CLIENT_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": STATEMENT_TIMEOUT_MS,
}
_SERVER_SETTINGS = (
    "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3 "
    f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"
)
"""The server's side of the same: a runner whose machine vanished loses its lock in ~25 s."""
_T = TypeVar("_T")


class SessionLost(StateError):
    """The connection is gone, and the session advisory lock with it."""


def lock_key(schema: str, workspace: str) -> int:
    """The advisory lock key of one workspace's state: 64 bits of a hash of its name."""
    digest = hashlib.sha256(f"np-state/{schema}/{workspace}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PgSession:
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
        self.lock_key = lock_key(schema, workspace)

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
        """``action`` on the connection, one thread at a time, psycopg errors as one message;
        ``SessionLost`` when the connection (and with it the lock) is gone."""
        with self._mutex:
            conn = self._connection()
            try:
                return action(conn)
            except psycopg.Error as exc:
                if _gone(conn) or _connection_failed(exc):
                    conn.close()  # never used again: the lock went with the session
                    raise SessionLost(
                        f"{self.where}: {what}: the connection was lost ({self.server()})"
                    ) from None
                reason = self.mask(_first_line(exc))
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
        elif _gone(self._conn):
            # Never reconnect: the lock belonged to the old session, and with it every write.
            raise SessionLost(
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
        options["options"] = f"{params.get('options', '')} {_SERVER_SETTINGS}".strip()
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
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(self.schema, ""),))
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


def _gone(conn: psycopg.Connection[Any]) -> bool:
    """Whether the connection (and with it the session's advisory lock) is gone."""
    return conn.broken or conn.closed or conn.pgconn.status == pq.ConnStatus.BAD


def _connection_failed(exc: psycopg.Error) -> bool:
    """An error of the connection itself, not of a statement: the server sends a SQLSTATE
    with every error it raises (a statement timeout, a lock timeout), libpq none when the
    socket closed or the answer was cut, even before the connection says it is broken."""
    return isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None


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
