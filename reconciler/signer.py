"""The `SDK-HMAC-SHA256` AK/SK signature, byte-identical to the official Huawei Cloud SDK signer.

Pure functions, no I/O: the API client signs with `sign`, the simulator checks with `verify`, so
both sides share one canonical-request implementation.

    extra = sign("GET", "/v2/p/pools", [], {"Host": "h", "Content-Type": "application/json"},
                 b"", ak, sk, datetime.now(timezone.utc))
    # -> {"X-Sdk-Date": "20240101T000000Z", "Authorization": "SDK-HMAC-SHA256 Access=..., ..."}
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
HEADER_DATE = "X-Sdk-Date"
HEADER_CONTENT_SHA256 = "X-Sdk-Content-Sha256"
HEADER_AUTHORIZATION = "Authorization"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"

_AUTH_RE = re.compile(
    r"^(?P<alg>\S+) Access=(?P<ak>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<sig>[0-9a-fA-F]+)$"
)
# Headers that are never part of the caller's signed set: `sign` produces them itself.
_PRODUCED = {HEADER_DATE.lower(), HEADER_CONTENT_SHA256.lower(), HEADER_AUTHORIZATION.lower()}


def sign(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    ak: str,
    sk: str,
    now: datetime,
) -> dict[str, str]:
    """Return the headers to add (`X-Sdk-Date`, `Authorization`, maybe `X-Sdk-Content-Sha256`).

    `headers` are signed exactly as given, so they must already hold every header that should be
    covered (Host, Content-Type, X-Project-Id, X-Security-Token) with the values that will be sent.
    `path` is the request path as sent (percent-encoded); a naive `now` is taken as UTC.
    """
    added = {HEADER_DATE: _utc(now).strftime(DATE_FORMAT)}
    if _payload_is_unsigned(_get(headers, "content-type")):
        added[HEADER_CONTENT_SHA256] = UNSIGNED_PAYLOAD
    values = {k.lower(): v for k, v in headers.items() if k.lower() not in _PRODUCED}
    values.update((k.lower(), v) for k, v in added.items())
    signed = sorted(name for name in values if "_" not in name)
    payload = _payload_hash(body, values.get(HEADER_CONTENT_SHA256.lower()))
    signature = _signature(sk, method, path, query, signed, values, payload, added[HEADER_DATE])
    added[HEADER_AUTHORIZATION] = (
        f"{ALGORITHM} Access={ak}, SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    return added


def verify(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    secret_for: Callable[[str], str | None],
    now: datetime,
    max_skew: timedelta = timedelta(minutes=15),
) -> str | None:
    """Check an `SDK-HMAC-SHA256` request; None when valid, else a short reason without secrets.

    `path` is the raw (percent-encoded) request path and `query` the decoded query pairs, as
    `urllib.parse.parse_qsl(query_string, keep_blank_values=True)` returns them.
    """
    values = {k.lower(): v for k, v in headers.items()}
    authorization = values.get(HEADER_AUTHORIZATION.lower())
    if authorization is None:
        return "missing Authorization header"
    match = _AUTH_RE.match(authorization.strip())
    if match is None:
        return "malformed Authorization header"
    if match["alg"] != ALGORITHM:
        return "unsupported signing algorithm"
    signed = match["signed"].split(";")
    for required in ("host", HEADER_DATE.lower()):
        if required not in signed:
            return f"header {required} is not signed"
    missing = [name for name in signed if name not in values]
    if missing:
        return f"signed header {missing[0]} is missing"
    try:
        date = datetime.strptime(values[HEADER_DATE.lower()], DATE_FORMAT)
    except ValueError:
        return "malformed X-Sdk-Date header"
    if abs(_utc(now) - date.replace(tzinfo=timezone.utc)) > max_skew:
        return "X-Sdk-Date is outside the allowed clock skew"
    declared = (
        values.get(HEADER_CONTENT_SHA256.lower())
        if HEADER_CONTENT_SHA256.lower() in signed
        else None
    )
    if body and declared not in (None, UNSIGNED_PAYLOAD, _sha256_hex(body)):
        return "body does not match X-Sdk-Content-Sha256"
    sk = secret_for(match["ak"])
    if sk is None:
        return "unknown access key"
    payload = _payload_hash(body, declared)
    expected = _signature(
        sk, method, path, query, signed, values, payload, values[HEADER_DATE.lower()]
    )
    if not hmac.compare_digest(expected, match["sig"].lower()):
        return "signature does not match"
    return None


def _signature(
    sk: str,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    signed: Sequence[str],
    values: Mapping[str, str],
    payload_hash: str,
    date: str,
) -> str:
    """The hex HMAC of the string to sign, built from the canonical request."""
    canonical = "\n".join(
        [
            method.upper(),
            _canonical_uri(path),
            _canonical_query(query),
            "".join(f"{name}:{str(values[name]).strip()}\n" for name in signed),
            ";".join(signed),
            payload_hash,
        ]
    )
    string_to_sign = f"{ALGORITHM}\n{date}\n{_sha256_hex(canonical.encode())}"
    return hmac.new(sk.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def _canonical_uri(path: str) -> str:
    uri = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def _canonical_query(query: Sequence[tuple[str, str]]) -> str:
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(query))


def _payload_hash(body: bytes, declared: str | None) -> str:
    """Empty body → the empty hash; else the declared content hash, else the body's hash."""
    if not body:
        return EMPTY_SHA256
    return declared or _sha256_hex(body)


def _payload_is_unsigned(content_type: str | None) -> bool:
    """The SDK only hashes JSON (and BSON) bodies; any other declared type is sent unsigned."""
    if not content_type:
        return False
    return not content_type.startswith(("application/json", "application/bson"))


def _encode(text: str) -> str:
    return quote(text, safe="~")


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _get(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
