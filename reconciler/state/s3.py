"""The s3 state backend: state, journal and lock as objects in an S3-compatible bucket.

Every write is conditional, so that the store itself decides which of two runs wins:

- the lock is the object ``KEY.lock``, created with ``If-None-Match: *`` (of two runs exactly one
  creates it), rewritten with ``If-Match`` while the run lasts, removed with ``If-Match``;
- the state ``KEY`` is written with ``If-Match: <ETag read>`` (the first write with
  ``If-None-Match: *``): a 412 means another writer won (``StateConflict``);
- the journal is one object per batch, ``KEY.journal/<base serial>-<sequence>``, created with
  ``If-None-Match: *``; a checkpoint is one conditional write of ``KEY``, no whole-document
  rewrite per change.

A store that ignores these headers would make all of that silently unsafe, so before its first
write np probes it (a second create of the same object must answer 412) and refuses a store that
fails. A lock whose holder stopped refreshing it is reported as stale, never broken.
Non-default workspaces live under ``env:/NAME/KEY``, as Terraform lays them out.

Credentials come from ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (+ ``AWS_SESSION_TOKEN``),
else ``HUAWEICLOUD_SDK_AK``/``HUAWEICLOUD_SDK_SK``; requests are signed with SigV4 over httpx.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree

import httpx

from reconciler.endpoint import check_config_endpoint, is_loopback
from reconciler.errors import LockError, StateError
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
from reconciler.state.sigv4 import Credentials, encode_path, sign

SETTINGS = ("bucket", "key", "region", "endpoint")
WORKSPACE_PREFIX = "env:/"
DEFAULT_SIGNING_REGION = "us-east-1"
"""What S3-compatible stores expect in the signature when no region is configured."""
STALE_AFTER = 300.0
"""Seconds without a refresh after which a lock is reported as stale (np refreshes every 30)."""
_ATTEMPTS = 3
_RETRY_PAUSE = 0.3
_POLL = 0.5
_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
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
    if key.startswith("/") or key.endswith("/") or key.startswith(WORKSPACE_PREFIX):
        raise StateError(
            f"{where}: key: {key!r} must be an object name (no leading or trailing /, "
            f"not under {WORKSPACE_PREFIX})"
        )
    endpoint = settings.get("endpoint") or f"https://obs.{region}.myhuaweicloud.com"
    # The configuration may come from a pull request: the bucket's credentials only go to
    # Huawei Cloud's OBS, a loopback test store, or a host the operator allowed.
    setting = "endpoint" if settings.get("endpoint") else "region"
    check_config_endpoint(endpoint, "obs", environ, where=f"{where}: {setting}")
    client = _Client(endpoint, bucket, region, _credentials(environ, where), where)
    objects = _Objects(client, key, workspace)
    locker = S3Locker(objects)

    def close() -> None:
        locker.release()
        client.close()

    return Backend(
        store=S3Store(objects),
        journal=S3Journal(objects),
        locker=locker,
        workspaces=S3Workspaces(client, key),
        workspace=workspace,
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


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    etag: str | None
    headers: httpx.Headers

    def age(self) -> float | None:
        """Seconds since the object was last written, by the store's own clock."""
        try:
            now = parsedate_to_datetime(self.headers["date"])
            written = parsedate_to_datetime(self.headers["last-modified"])
        except (KeyError, TypeError, ValueError):
            return None
        return (now - written).total_seconds()


class _Client:
    """Signed requests to one bucket; transient failures (a dropped connection, a 5xx) are
    retried, and a conditional write whose first answer was lost is recognised on retry."""

    def __init__(
        self, endpoint: str, bucket: str, region: str, credentials: Credentials, where: str
    ) -> None:
        parts = urlsplit(endpoint)
        self.where = where
        self.bucket = bucket
        self.region = region
        self._credentials = credentials
        host = parts.netloc.lower()
        # Virtual-hosted style (bucket.host) where DNS can carry it, as current stores prefer;
        # path style (host/bucket) for IP addresses, localhost and dotted bucket names.
        hosted = "." not in bucket and not is_loopback(parts.hostname or "")
        hosted = hosted and not _is_ip(parts.hostname or "")
        self.host = f"{bucket}.{host}" if hosted else host
        self._prefix = "" if hosted else f"/{bucket}"
        self._base = f"{parts.scheme}://{self.host}"
        self._http = httpx.Client(timeout=_TIMEOUT, verify=True, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def url(self, key: str) -> str:
        """``s3://bucket/key``, as messages name an object."""
        return f"s3://{self.bucket}/{key}"

    def send(
        self,
        method: str,
        key: str | None,
        *,
        query: Sequence[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        expect: Sequence[int] = (200, 204),
        what: str,
    ) -> _Reply:
        """One request (retried when transient); a status outside ``expect`` and 412 (left to
        the caller) is a StateError saying ``what`` failed."""
        path = self._prefix + ("/" + encode_path(key) if key is not None else "/")
        sent = {"host": self.host, **(headers or {})}
        if body:
            sent["content-md5"] = base64.b64encode(hashlib.md5(body).digest()).decode()
        reply: _Reply | None = None
        for attempt in range(_ATTEMPTS):
            signed = {**sent, **self._sign(method, path, query, sent, body)}
            try:
                response = self._http.request(
                    method,
                    self._base + path,
                    params=list(query) or None,
                    headers=signed,
                    content=body or None,
                )
            except httpx.TransportError as exc:
                if attempt + 1 < _ATTEMPTS:
                    time.sleep(_RETRY_PAUSE * (attempt + 1))
                    continue
                raise StateError(
                    f"{self.where}: {what}: cannot reach {self.host}: {_reason(exc)}"
                ) from None
            reply = _Reply(
                response.status_code,
                response.content,
                response.headers.get("etag"),
                response.headers,
            )
            if reply.status == 412 and attempt > 0:
                return self._settle_lost_answer(key, body, reply)
            missing_bucket = reply.status == 404 and _error_of(reply.body)[0] == "NoSuchBucket"
            if (reply.status in expect or reply.status == 412) and not missing_bucket:
                return reply
            if reply.status >= 500 and attempt + 1 < _ATTEMPTS:
                time.sleep(_RETRY_PAUSE * (attempt + 1))
                continue
            break
        assert reply is not None
        raise StateError(f"{self.where}: {what}: {self._error(reply)}")

    def _settle_lost_answer(self, key: str | None, body: bytes, reply: _Reply) -> _Reply:
        """A retried conditional write answered 412: if the object now holds exactly what we
        sent, it was our first attempt that landed (its answer was lost), not another writer."""
        if key is None or not body:
            return reply
        current = self.send("GET", key, expect=(200, 404), what="read back a write")
        if current.status == 200 and current.body == body:
            return _Reply(200, b"", current.etag, current.headers)
        return reply

    def _sign(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> dict[str, str]:
        now = datetime.now(timezone.utc)
        return sign(method, path, query, headers, body, self._credentials, self.region, now)

    def _error(self, reply: _Reply) -> str:
        code, message = _error_of(reply.body)
        if reply.status in (401, 403):
            return (
                f"access denied by {self.host} ({reply.status} {code}): check the credentials "
                "and that they may use the bucket"
            )
        if code == "NoSuchBucket":
            return f"bucket {self.bucket!r} does not exist at {self.host}"
        detail = f"{code}: {message}" if code else reply.body[:200].decode("utf-8", "replace")
        return f"{self.host} answered {reply.status} ({detail})"

    def list(self, prefix: str, what: str) -> list[str]:
        """Every key under ``prefix`` (ListObjectsV2, all pages), in the store's order."""
        keys: list[str] = []
        token: str | None = None
        while True:
            query = [("list-type", "2"), ("prefix", prefix)]
            if token:
                query.append(("continuation-token", token))
            reply = self.send("GET", None, query=query, expect=(200,), what=what)
            root = _xml(reply.body, self.where, what)
            keys += [
                (child.findtext("{*}Key") or "")
                for child in root.iter()
                if _tag(child) == "Contents"
            ]
            token = root.findtext("{*}NextContinuationToken")
            if root.findtext("{*}IsTruncated") != "true" or not token:
                return keys

    def delete_many(self, keys: Sequence[str], what: str) -> None:
        """DeleteObjects, up to 1,000 keys a request."""
        for start in range(0, len(keys), 1000):
            items = "".join(
                f"<Object><Key>{_escape(k)}</Key></Object>" for k in keys[start : start + 1000]
            )
            body = f"<Delete><Quiet>true</Quiet>{items}</Delete>".encode()
            self.send("POST", None, query=[("delete", "")], body=body, expect=(200,), what=what)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _tag(element: ElementTree.Element) -> str:
    return _XMLNS.sub("", element.tag)


def _xml(body: bytes, where: str, what: str) -> ElementTree.Element:
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise StateError(f"{where}: {what}: the store answered XML with a DOCTYPE; refused")
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise StateError(f"{where}: {what}: the store answered malformed XML ({exc})") from None


def _error_of(body: bytes) -> tuple[str, str]:
    try:
        root = ElementTree.fromstring(body) if b"<!" not in body else None
    except ElementTree.ParseError:
        root = None
    if root is None:
        return "", ""
    return root.findtext("Code") or "", root.findtext("Message") or ""


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Objects:
    """The object names of one workspace, and the once-per-run conditional-write probe."""

    def __init__(self, client: _Client, key: str, workspace: str) -> None:
        self.client = client
        self.workspace = workspace
        self.state = (
            key if workspace == DEFAULT_WORKSPACE else f"{WORKSPACE_PREFIX}{workspace}/{key}"
        )
        self.lock = f"{self.state}.lock"
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
            what = "probe conditional writes"
            try:
                first = c.send("PUT", key, headers={"if-none-match": "*"}, body=b"1", what=what)
                if first.status == 412:
                    raise StateError(f"{c.where}: {what}: a new object answered 412")
                again = c.send("PUT", key, headers={"if-none-match": "*"}, body=b"2", what=what)
                wrong = c.send("PUT", key, headers={"if-match": '"np-probe"'}, body=b"3", what=what)
            finally:
                c.send("DELETE", key, expect=(200, 204, 404), what="remove the probe object")
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

    def describe(self) -> str:
        return self._o.describe()

    def read(self) -> Stored:
        reply = self._o.client.send(
            "GET", self._o.state, expect=(200, 404), what=f"read {self.describe()}"
        )
        if reply.status == 404:
            return Stored(None, NOTHING_STORED)
        state = parse(reply.body, self.describe())
        return Stored(state, Version(state.lineage, state.serial, reply.etag))

    def write(self, state: State, expected: Version) -> Version:
        self._o.probe()
        if expected.lineage is None:
            condition = {"if-none-match": "*"}
        elif expected.token is None:
            raise StateError(f"{self.describe()}: a write needs the ETag of the state it replaces")
        else:
            condition = {"if-match": expected.token}
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

    def read(self) -> list[JournalRecord]:
        records: list[JournalRecord] = []
        for key in sorted(self._keys()):
            reply = self._o.client.send(
                "GET", key, expect=(200, 404), what=f"read the journal {self._o.describe(key)}"
            )
            if reply.status == 404:  # cleared since the listing
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
    def __init__(self, client: _Client, key: str) -> None:
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
        try:
            reply = self._o.client.send(
                "PUT",
                self._o.lock,
                headers={"if-match": self._etag, "content-type": "application/json"},
                body=self._body,
                expect=(200, 204, 404),
                what=f"refresh the lock {self.describe()}",
            )
        except StateError as exc:
            raise LockLostError(f"lost the state lock: {exc}") from None
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

    def force_unlock(self, lock_id: str) -> LockInfo:
        reply = self._o.client.send(
            "GET", self._o.lock, expect=(200, 404), what=f"read the lock {self.describe()}"
        )
        if reply.status == 404:
            raise LockError(f"{self.describe()}: the state is not locked; nothing to unlock")
        holder = parse_lock(reply.body)
        if holder.id != lock_id:
            raise LockError(
                f"lock ID {lock_id} does not match the lock {self.describe()}; nothing removed\n"
                + holder.describe()
            )
        assert reply.etag is not None
        removed = self._o.client.send(
            "DELETE",
            self._o.lock,
            headers={"if-match": reply.etag},
            expect=(200, 204, 404),
            what=f"remove the lock {self.describe()}",
        )
        if removed.status == 412:
            raise LockError(f"{self.describe()}: the lock changed while removing it; try again")
        return holder

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
