"""The s3 state backend: state, journal and lock as objects in an S3-compatible bucket.

Every write is conditional, so that the store itself decides which of two runs wins:

- the lock is the object ``KEY.lock``, created with ``If-None-Match: *`` (of two runs exactly one
  creates it), rewritten with ``If-Match`` while the run lasts, removed with ``If-Match``;
- the state ``KEY`` is written with ``If-Match: <ETag read>`` (the first write with
  ``If-None-Match: *``): a 412 means another writer won (``StateConflict``);
- the journal is one object per batch, ``KEY.journal/<base serial>-<sequence>``, created with
  ``If-None-Match: *``; a checkpoint is one conditional write of ``KEY``, no whole-document
  rewrite per change;
- before a run's first checkpoint the state it replaces is copied to ``KEY.backup``, so a
  state object cut or emptied by a faulty store can be restored (bucket versioning is better
  still, and recommended).

Readers take the state, then the journal, then check that the state object is the one they
read: a checkpoint in between (which clears the journal) makes them read again.

A store that ignores these headers would make all of that silently unsafe, so before its first
write np probes it (a second create of the same object must answer 412) and refuses a store that
fails. A lock whose holder stopped refreshing it is reported as stale, never broken.
Non-default workspaces live under ``env:/NAME/KEY``, as Terraform lays them out.

Credentials come from ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (+ ``AWS_SESSION_TOKEN``),
else ``HUAWEICLOUD_SDK_AK``/``HUAWEICLOUD_SDK_SK``; requests are signed with SigV4 over httpx.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Literal, overload

from reconciler.endpoint import check_config_endpoint
from reconciler.errors import StateError
from reconciler.state.document import State, parse, render
from reconciler.state.locking import holder_gone, lock_record, parse_lock
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
from reconciler.state.s3_client import S3Client
from reconciler.state.sigv4 import Credentials, encode_path

SETTINGS = ("bucket", "key", "region", "endpoint")
WORKSPACE_PREFIX = "env:/"
DEFAULT_SIGNING_REGION = "us-east-1"
"""What S3-compatible stores expect in the signature when no region is configured."""
STALE_AFTER = 300.0
"""Seconds without a refresh after which a lock is reported as stale (np refreshes every 30)."""
_POLL = 0.5
SNAPSHOT_ATTEMPTS = 10
_XMLNS = re.compile(r"^\{[^}]*\}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def open_backend(
    settings: Mapping[str, str], *, workspace: str, environ: Mapping[str, str], where: str
) -> Backend:
    """The s3 backend for ``workspace``; nothing is sent until the first operation."""
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise StateError(
            f"{where}: unknown setting {unknown[0]!r} (the s3 backend takes {', '.join(SETTINGS)})"
        )
    missing = [name for name in ("bucket", "key") if not settings.get(name)]
    if missing:
        raise StateError(f"{where}: {missing[0]} is required")
    if not settings.get("region") and not settings.get("endpoint"):
        raise StateError(f"{where}: region is required (it names the OBS endpoint)")
    bucket, key = settings["bucket"], settings["key"]
    region = settings.get("region") or DEFAULT_SIGNING_REGION
    if not _BUCKET.fullmatch(bucket):
        raise StateError(f"{where}: bucket: {bucket!r} is not a valid bucket name")
    segments = key.split("/")
    if key.startswith(WORKSPACE_PREFIX) or any(part in ("", ".", "..") for part in segments):
        raise StateError(
            f"{where}: key: {key!r} must be an object name (no leading, trailing or doubled /, "
            f"no . or .. segment, not under {WORKSPACE_PREFIX})"
        )
    endpoint = settings.get("endpoint") or f"https://obs.{region}.myhuaweicloud.com"
    # The configuration may come from a pull request: the bucket's credentials only go to
    # Huawei Cloud's OBS, a loopback test store, or a host the operator allowed.
    setting = "endpoint" if settings.get("endpoint") else "region"
    check_config_endpoint(endpoint, "obs", environ, where=f"{where}: {setting}")
    client = S3Client(endpoint, bucket, region, _credentials(environ, where), where)
    objects = _Objects(client, key, workspace)
    locker = S3Locker(objects)
    store, journal = S3Store(objects), S3Journal(objects)

    def close() -> None:
        locker.release()
        client.close()

    def snapshot() -> tuple[Stored, list[JournalRecord]]:
        for _ in range(SNAPSHOT_ATTEMPTS):
            stored = store.read()
            records = journal.read(settled=True)
            if records is not None and store.etag() == stored.version.token:
                return stored, records
        raise StateError(f"{store.describe()} kept changing while np read it; try again")

    return Backend(
        store=store,
        journal=journal,
        locker=locker,
        workspaces=S3Workspaces(client, key),
        workspace=workspace,
        snapshot=snapshot,
        close=close,
    )


def _credentials(environ: Mapping[str, str], where: str) -> Credentials:
    for ak, sk, token in (
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
        ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN"),
    ):
        if environ.get(ak) and environ.get(sk):
            return Credentials(environ[ak], environ[sk], environ.get(token) or None)
    raise StateError(
        f"{where}: no credentials for the bucket: set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones), or "
        "HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK"
    )


class _Objects:
    """The object names of one workspace, and the once-per-run conditional-write probe."""

    def __init__(self, client: S3Client, key: str, workspace: str) -> None:
        self.client = client
        self.workspace = workspace
        self.state = (
            key if workspace == DEFAULT_WORKSPACE else f"{WORKSPACE_PREFIX}{workspace}/{key}"
        )
        self.lock = f"{self.state}.lock"
        self.backup = f"{self.state}.backup"
        self.journal = f"{self.state}.journal/"
        self._probed = False
        self._mutex = threading.Lock()

    def describe(self, key: str | None = None) -> str:
        return self.client.url(key or self.state)

    def probe(self) -> None:
        """Refuse a store that ignores conditional writes, before anything depends on them."""
        with self._mutex:
            if self._probed:
                return
            c = self.client
            key = f"{self.state}.probe-{uuid.uuid4().hex}"
            what = "check that the store honours conditional writes"

            def clean_up() -> None:
                c.send("DELETE", key, expect=(200, 204, 404), what=f"{what} (clean up)")

            try:
                first = c.send("PUT", key, headers={"if-none-match": "*"}, body=b"1", what=what)
                if first.status == 412:
                    raise StateError(f"{c.where}: {what}: creating a new object answered 412")
                again = c.send("PUT", key, headers={"if-none-match": "*"}, body=b"2", what=what)
                wrong = c.send("PUT", key, headers={"if-match": '"np-probe"'}, body=b"3", what=what)
            except StateError:
                with suppress(StateError):  # the first failure is the one to report
                    clean_up()
                raise
            clean_up()
            for reply, header, test in (
                (again, "If-None-Match: *", "a second create of the same object succeeded"),
                (wrong, "If-Match", "a write naming a wrong ETag succeeded"),
            ):
                if reply.status != 412:
                    raise StateError(
                        f"{c.where}: the store at {c.host} does not honour conditional writes "
                        f"({header}: {test}). Without them two runs could both take the lock "
                        "or overwrite each other's state, so np refuses this store. Huawei OBS "
                        "documents no conditional PUT: use the pg backend instead (Huawei RDS "
                        "for PostgreSQL serves it)."
                    )
            self._probed = True


class S3Store:
    def __init__(self, objects: _Objects) -> None:
        self._o = objects
        self._backed_up = False

    def describe(self) -> str:
        return self._o.describe()

    def read(self) -> Stored:
        """The checkpoint; a run's first write after this backs it up first."""
        self._backed_up = False
        reply = self._o.client.send(
            "GET", self._o.state, expect=(200, 404), what=f"read {self.describe()}"
        )
        if reply.status == 404:
            return Stored(None, NOTHING_STORED)
        try:
            state = parse(reply.body, self.describe()) if reply.body else None
        except StateError as exc:
            raise StateError(f"{exc}. {self.restore_hint()}") from None
        if state is None:
            raise StateError(
                f"{self.describe()} is empty (0 bytes): a write was cut short. "
                + self.restore_hint()
            )
        return Stored(state, Version(state.lineage, state.serial, reply.etag))

    def etag(self) -> str | None:
        """The state object's ETag now (None: there is none): has it changed since a read?"""
        reply = self._o.client.send(
            "HEAD", self._o.state, expect=(200, 404), what=f"read {self.describe()}"
        )
        return None if reply.status == 404 else reply.etag

    def restore_hint(self) -> str:
        backup = self._o.describe(self._o.backup)
        return (
            f"The state before the last run's first write is kept at {backup}: restore it "
            f"with `aws s3 cp {backup} np.state.json && np state push --force np.state.json` "
            "(or restore an earlier version of the object if the bucket keeps versions)"
        )

    def write(self, state: State, expected: Version) -> Version:
        self._o.probe()
        if expected.lineage is None:
            condition = {"if-none-match": "*"}
        elif expected.token is None:
            raise StateError(f"{self.describe()}: a write needs the ETag of the state it replaces")
        else:
            condition = {"if-match": expected.token}
            if not self._backed_up:
                self._backup(expected.token)
        reply = self._o.client.send(
            "PUT",
            self._o.state,
            headers={**condition, "content-type": "application/json"},
            body=render(state).encode(),
            what=f"write {self.describe()}",
        )
        if reply.status == 412:
            raise StateConflict(
                f"{self.describe()}: the state changed since this run read it: another run "
                "wrote it first"
            )
        return Version(state.lineage, state.serial, reply.etag)

    def _backup(self, etag: str) -> None:
        """Copy the state about to be replaced to ``KEY.backup`` (in the store: no download),
        only while it is still the version this run read."""
        client = self._o.client
        source = f"/{client.bucket}/{encode_path(self._o.state)}"
        client.send(
            "PUT",
            self._o.backup,
            headers={"x-amz-copy-source": source, "x-amz-copy-source-if-match": etag},
            expect=(200,),
            what=f"back up {self.describe()} to {self._o.describe(self._o.backup)}",
        )
        self._backed_up = True


class S3Journal:
    """One object per batch; names sort in append order: base serial, then a sequence number
    that the conditional create makes unique across writers."""

    def __init__(self, objects: _Objects) -> None:
        self._o = objects
        self._next: int | None = None
        self._mutex = threading.Lock()

    def describe(self) -> str:
        return self._o.describe(self._o.journal)

    def append(self, records: Sequence[JournalRecord]) -> None:
        if not records:
            return
        self._o.probe()
        body = "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in records)
        with self._mutex:
            if self._next is None:
                self._next = 1 + max((_sequence(k) for k in self._keys()), default=0)
            key = f"{self._o.journal}{records[0].base_serial:012d}-{self._next:08d}"
            reply = self._o.client.send(
                "PUT",
                key,
                headers={"if-none-match": "*", "content-type": "application/x-ndjson"},
                body=body.encode(),
                what=f"append to the journal {self._o.describe(key)}",
            )
            if reply.status == 412:
                raise StateConflict(
                    f"{self._o.describe(key)}: another run is writing this journal: this run "
                    "no longer holds the lock"
                )
            self._next += 1

    @overload
    def read(self) -> list[JournalRecord]: ...

    @overload
    def read(self, *, settled: Literal[True]) -> list[JournalRecord] | None: ...

    def read(self, *, settled: bool = False) -> list[JournalRecord] | None:
        """Every record in append order. ``settled``: None when a listed batch was cleared
        before it could be read (a checkpoint landed meanwhile: read the state again)."""
        records: list[JournalRecord] = []
        for key in sorted(self._keys()):
            reply = self._o.client.send(
                "GET", key, expect=(200, 404), what=f"read the journal {self._o.describe(key)}"
            )
            if reply.status == 404:  # cleared since the listing
                if settled:
                    return None
                continue
            for number, line in enumerate(reply.body.decode("utf-8", "replace").splitlines()):
                source = f"{self._o.describe(key)}:{number + 1}"
                try:
                    doc = json.loads(line)
                except ValueError as exc:
                    raise StateError(f"{source}: not valid JSON: {exc}") from None
                records.append(JournalRecord.from_json(doc, source))
        return records

    def clear(self, upto: Version) -> None:
        folded = [
            key
            for key in self._keys()
            if _base_serial(key) < upto.serial or not self._same_lineage(key, upto)
        ]
        if folded:
            self._o.client.delete_many(folded, f"clear the journal {self._o.describe()}")

    def _same_lineage(self, key: str, upto: Version) -> bool:
        """Records of a base serial at or above the checkpoint's: keep them only if they extend
        this lineage (a pushed state of another lineage folds every record before it)."""
        reply = self._o.client.send("GET", key, expect=(200, 404), what="read the journal")
        if reply.status == 404:
            return True
        first = reply.body.split(b"\n", 1)[0]
        try:
            lineage = json.loads(first).get("lineage")
        except (ValueError, AttributeError):
            return False
        return bool(lineage == upto.lineage)

    def _keys(self) -> list[str]:
        prefix = self._o.journal
        return [
            k
            for k in self._o.client.list(prefix, f"list the journal {self._o.describe()}")
            if _JOURNAL_NAME.fullmatch(k[len(prefix) :])
        ]


_JOURNAL_NAME = re.compile(r"(\d{12})-(\d{8})")


def _base_serial(key: str) -> int:
    return int(key.rsplit("/", 1)[1][:12])


def _sequence(key: str) -> int:
    return int(key.rsplit("-", 1)[1])


class S3Workspaces:
    def __init__(self, client: S3Client, key: str) -> None:
        self._client = client
        self._key = key

    def list(self) -> list[str]:
        names = set()
        suffixes = (self._key, f"{self._key}.journal/")
        for key in self._client.list(self._key, "list the workspaces"):
            if key == self._key or key.startswith(suffixes[1]):
                names.add(DEFAULT_WORKSPACE)
        for key in self._client.list(WORKSPACE_PREFIX, "list the workspaces"):
            name, _, rest = key[len(WORKSPACE_PREFIX) :].partition("/")
            if name and (rest == self._key or rest.startswith(suffixes[1])):
                names.add(name)
        return sorted(names)

    def delete(self, name: str) -> None:
        if name == DEFAULT_WORKSPACE:
            raise StateError(f"{self._client.where}: the default workspace cannot be deleted")
        objects = _Objects(self._client, self._key, name)
        keys = [
            k
            for k in self._client.list(objects.state, f"delete workspace {name!r}")
            if k in (objects.state, objects.lock) or k.startswith(objects.journal)
        ]
        if keys:
            self._client.delete_many(keys, f"delete workspace {name!r}")


class S3Locker:
    """``KEY.lock``: created only if absent, rewritten and removed only by its holder."""

    def __init__(self, objects: _Objects) -> None:
        self._o = objects
        self._etag: str | None = None
        self._body = b""

    def describe(self) -> str:
        return self._o.describe(self._o.lock)

    def acquire(self, info: LockInfo, timeout: float) -> None:
        self._o.probe()
        body = json.dumps(lock_record(info), indent=2).encode() + b"\n"
        deadline = time.monotonic() + timeout
        while True:
            reply = self._o.client.send(
                "PUT",
                self._o.lock,
                headers={"if-none-match": "*", "content-type": "application/json"},
                body=body,
                what=f"create the lock {self.describe()}",
            )
            if reply.status != 412:
                self._etag, self._body = reply.etag, body
                return
            held = self._get()
            if held is None:  # released between our attempt and the read: try again
                continue
            if time.monotonic() >= deadline:
                holder, age = held
                raise LockHeldError(holder, self.describe(), stale=_stale(holder, age))
            time.sleep(_POLL)

    def refresh(self) -> None:
        if self._etag is None:
            raise LockLostError(f"{self.describe()}: this run does not hold the state lock")
        reply = self._o.client.send(  # a StateError here: unreachable, not lost (yet)
            "PUT",
            self._o.lock,
            headers={"if-match": self._etag, "content-type": "application/json"},
            body=self._body,
            expect=(200, 204, 404),
            what=f"refresh the lock {self.describe()}",
        )
        if reply.status in (404, 412):
            self._etag = None
            raise LockLostError(
                f"lost the state lock {self.describe()}: it was removed or taken by another run"
            )
        self._etag = reply.etag

    def release(self) -> None:
        if self._etag is None:
            return
        etag, self._etag = self._etag, None
        # Only if still ours: after a force-unlock the lock may be another run's by now.
        self._o.client.send(
            "DELETE",
            self._o.lock,
            headers={"if-match": etag},
            expect=(200, 204, 404),
            what=f"remove the lock {self.describe()}",
        )

    def read(self) -> LockInfo | None:
        held = self._get()
        return None if held is None else held[0]

    def remove(self, holder: LockInfo) -> bool:
        reply = self._o.client.send(
            "GET", self._o.lock, expect=(200, 404), what=f"read the lock {self.describe()}"
        )
        if reply.status == 404 or parse_lock(reply.body).id != holder.id or reply.etag is None:
            return False
        removed = self._o.client.send(
            "DELETE",
            self._o.lock,
            headers={"if-match": reply.etag},
            expect=(200, 204, 404),
            what=f"remove the lock {self.describe()}",
        )
        return removed.status != 412

    def _get(self) -> tuple[LockInfo, float | None] | None:
        reply = self._o.client.send(
            "GET", self._o.lock, expect=(200, 404), what=f"read the lock {self.describe()}"
        )
        if reply.status == 404:
            return None
        return parse_lock(reply.body), reply.age()


def _stale(holder: LockInfo, age: float | None) -> str | None:
    """Why the holder looks gone: its process is not running on this host, or it has not
    refreshed the lock for longer than a live np ever waits."""
    gone = holder_gone(holder)
    if gone:
        return gone
    if age is not None and age > STALE_AFTER:
        return f"its holder has not refreshed it for {int(age // 60)} minutes"
    return None
