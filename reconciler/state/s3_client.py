"""A small S3 REST client for one bucket: signed (SigV4, as an ``httpx.Auth``), retried when a
failure is transient, never following a redirect, with the errors np shows.

    client = S3Client("https://obs.cn-north-4.myhuaweicloud.com", "infra-state", "cn-north-4",
                      Credentials(ak, sk), where='main.hcl:3: backend "s3"')
    reply = client.send("GET", "modelarts/np.state.json", expect=(200, 404), what="read state")

The backend built on it is ``reconciler.state.s3``.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree

import httpx

from reconciler.endpoint import is_loopback
from reconciler.errors import StateError
from reconciler.state.sigv4 import Credentials, encode_path, sign

_ATTEMPTS = 3
_RETRY_PAUSE = 0.3
_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_XMLNS = re.compile(r"^\{[^}]*\}")
_NOT_SIGNED = frozenset({"accept", "accept-encoding", "content-length"})
"""httpx's own headers: the signature covers what np sends on purpose (and ``host``)."""


class SigV4Auth(httpx.Auth):
    """Signs each request as sent (so every retry carries a fresh date and signature)."""

    requires_request_body = True

    def __init__(self, credentials: Credentials, region: str) -> None:
        self._credentials = credentials
        self._region = region

    def __repr__(self) -> str:
        return f"SigV4Auth({self._credentials!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_SIGNED}
        path = request.url.raw_path.split(b"?", 1)[0].decode("ascii")
        now = datetime.now(timezone.utc)
        query = request.url.params.multi_items()
        extra = sign(
            request.method,
            path,
            query,
            headers,
            request.content,
            self._credentials,
            self._region,
            now,
        )
        request.headers.update(extra)
        yield request


@dataclass(frozen=True)
class Reply:
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


class S3Client:
    """Signed requests to one bucket; transient failures (a dropped connection, a 5xx) are
    retried, and a conditional write whose first answer was lost is recognised on retry."""

    def __init__(
        self, endpoint: str, bucket: str, region: str, credentials: Credentials, where: str
    ) -> None:
        parts = urlsplit(endpoint)
        self.endpoint = f"{parts.scheme}://{parts.netloc}"
        self.where = where
        self.bucket = bucket
        self.region = region
        host = parts.netloc.lower()
        # Virtual-hosted style (bucket.host) where DNS can carry it, as current stores prefer;
        # path style (host/bucket) for IP addresses, localhost and dotted bucket names.
        hosted = "." not in bucket and not is_loopback(parts.hostname or "")
        hosted = hosted and not _is_ip(parts.hostname or "")
        self.host = f"{bucket}.{host}" if hosted else host
        self._prefix = "" if hosted else f"/{bucket}"
        self._base = f"{parts.scheme}://{self.host}"
        self._http = httpx.Client(
            timeout=_TIMEOUT,
            verify=True,
            follow_redirects=False,
            auth=SigV4Auth(credentials, region),
        )

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
    ) -> Reply:
        """One request (retried when transient); a status outside ``expect`` and 412 (left to
        the caller) is a StateError saying ``what`` failed."""
        path = self._prefix + ("/" + encode_path(key) if key is not None else "/")
        sent = dict(headers or {})
        if body:
            sent["content-md5"] = base64.b64encode(hashlib.md5(body).digest()).decode()
        reply: Reply | None = None
        for attempt in range(_ATTEMPTS):
            try:
                response = self._http.request(
                    method,
                    self._base + path,
                    params=list(query) or None,
                    headers=sent,
                    content=body or None,
                )
            except httpx.TransportError as exc:
                if attempt + 1 < _ATTEMPTS:
                    time.sleep(_RETRY_PAUSE * (attempt + 1))
                    continue
                raise StateError(
                    f"{self.where}: {what}: cannot reach {self.host}: {_reason(exc)}"
                ) from None
            reply = Reply(
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

    def _settle_lost_answer(self, key: str | None, body: bytes, reply: Reply) -> Reply:
        """A retried conditional write answered 412: if the object now holds exactly what we
        sent, it was our first attempt that landed (its answer was lost), not another writer."""
        if key is None or not body:
            return reply
        current = self.send("GET", key, expect=(200, 404), what="read back a write")
        if current.status == 200 and current.body == body:
            return Reply(200, b"", current.etag, current.headers)
        return reply

    def _error(self, reply: Reply) -> str:
        code, message = _error_of(reply.body)
        if reply.status in (401, 403):
            return (
                f"access denied by {self.host} ({reply.status} {code}): check the credentials "
                "and that they may use the bucket"
            )
        if code == "NoSuchBucket":
            return (
                f"bucket {self.bucket!r} does not exist at {self.endpoint}; create it first "
                "(versioning on is recommended: the store then keeps every earlier state)"
            )
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
            root = parse_xml(reply.body, self.where, what)
            keys += [
                (child.findtext("{*}Key") or "")
                for child in root.iter()
                if tag_of(child) == "Contents"
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


def tag_of(element: ElementTree.Element) -> str:
    return _XMLNS.sub("", element.tag)


def parse_xml(body: bytes, where: str, what: str) -> ElementTree.Element:
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
