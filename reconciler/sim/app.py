"""The simulator's HTTP face: a plain ASGI app serving a `World` on the ModelArts v2 paths.

    app = create_app(World.load("world.json"), verifier=TokenVerifier("t"))
    httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim")
    app.flush()  # the world file is current (also: POST /_sim/flush, and at shutdown)

Plain ASGI (stdlib only) keeps `sim://` cheap to start in-process; `serve.py` puts the same app
behind uvicorn. Every answer is JSON with an `X-Request-Id` header; errors are
`{"error_code", "error_msg"}` like the real API.

`POST /_sim/flush` is the simulator's own: it waits until no other request is in flight, writes
the world file and answers 200, so a test or script knows that the file and the request log
hold everything answered so far. It needs no credentials and is never faulted or logged.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote

from reconciler import signer
from reconciler.sim import jsontext
from reconciler.sim.faults import INTERNAL, Faults
from reconciler.sim.world import BAD_REQUEST, JsonObject, SimError, World, WorldError
from reconciler.sim.writebehind import WriteBehind

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

AUTH_FAILED = "APIGW.0301"
NO_SUCH_API = "APIGW.0101"
UNSUPPORTED_MEDIA_TYPE = "ModelArts.50004100"
MAX_BODY_BYTES = 1 << 20
FLUSH_PATH = "/_sim/flush"
_PATCH_TYPES = ("application/merge-patch+json", "application/json")
_POST_TYPES = ("application/json",)


@dataclass(frozen=True)
class Request:
    """What the handlers need of one HTTP request (header names lower-case)."""

    method: str
    raw_path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    @property
    def segments(self) -> list[str]:
        """The decoded path segments; an encoded `/` inside a name stays inside it."""
        parts = [unquote(part) for part in self.raw_path.split("/")[1:]]
        return parts[:-1] if parts and not parts[-1] else parts


class Verifier(Protocol):
    """Checks a caller's credentials; `check` returns None when the request may proceed."""

    def check(self, request: Request, now: datetime) -> str | None: ...


class TokenVerifier:
    """IAM token mode: `X-Auth-Token` must be the configured token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def check(self, request: Request, now: datetime) -> str | None:
        sent = request.headers.get("x-auth-token")
        if sent is None:
            return "missing X-Auth-Token header"
        if not hmac.compare_digest(sent.encode(), self._token.encode()):
            return "token is invalid"
        return None


class AkSkVerifier:
    """AK/SK mode: an `SDK-HMAC-SHA256` signature made with the one configured key pair."""

    def __init__(self, ak: str, sk: str) -> None:
        self._ak = ak
        self._sk = sk

    def check(self, request: Request, now: datetime) -> str | None:
        return signer.verify(
            request.method,
            request.raw_path,
            request.query,
            request.headers,
            request.body,
            lambda ak: self._sk if ak == self._ak else None,
            now,
        )


class RequestLog:
    """One JSON line per request (`method`, `path`, `status`, `ms`), written and closed before
    the answer is sent: a client that has its answer finds the line already in the file."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def write(self, method: str, path: str, status: int, ms: float) -> None:
        line = json.dumps({"method": method, "path": path, "status": status, "ms": round(ms, 1)})
        with self._path.open("a", encoding="utf-8") as file:
            file.write(line + "\n")


def create_app(
    world: World,
    *,
    verifier: Verifier | None = None,
    faults: Faults | None = None,
    request_log: Path | None = None,
    clock: Callable[[], float] = time.time,
    saver: WriteBehind | None = None,
) -> SimApp:
    """The ASGI app for `world`; `clock` is the wall time used to check signature dates."""
    log = RequestLog(request_log) if request_log is not None else None
    return SimApp(
        world,
        verifier=verifier,
        faults=faults,
        log=log,
        clock=clock,
        saver=saver or WriteBehind(world),
    )


class SimApp:
    """Reads a request, runs it through faults, auth and the world, and answers in JSON."""

    def __init__(
        self,
        world: World,
        *,
        verifier: Verifier | None,
        faults: Faults | None,
        log: RequestLog | None,
        clock: Callable[[], float],
        saver: WriteBehind,
    ) -> None:
        self._world = world
        self._verifier = verifier
        self._faults = faults
        self._log = log
        self._clock = clock
        self._saver = saver
        self._in_flight = 0
        self._idle_waiters: list[asyncio.Future[None]] = []

    def flush(self) -> None:
        """Write the world file now if it has unsaved changes (WorldError when that fails)."""
        self._saver.flush()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self._saver)
            return
        if scope["type"] != "http":
            return
        if scope["path"] == FLUSH_PATH and scope["method"] == "POST":
            await self._flush_when_idle(send)
            return
        self._in_flight += 1
        try:
            await self._serve(scope, receive, send)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                for waiter in self._idle_waiters:
                    if not waiter.done():
                        waiter.set_result(None)
                self._idle_waiters.clear()

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        status = 0  # logged as 0 when the connection is dropped
        try:
            status, body, headers = await self._answer(scope, receive)
            if status >= 400 and body["error_code"].startswith("APIGW."):
                body["request_id"] = request_id
        finally:
            if self._log is not None:
                elapsed = (time.perf_counter() - started) * 1000
                self._log.write(scope["method"], scope["path"], status, elapsed)
        await _send_json(send, status, body, [("X-Request-Id", request_id), *headers])

    async def _answer(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, JsonObject, tuple[tuple[str, str], ...]]:
        try:
            request = await _read_request(scope, receive)
            drop = False
            if self._faults is not None:
                target = f"{request.raw_path}?{scope['query_string'].decode('latin-1')}"
                drop = await self._faults.admit(f"{request.method} {target}")
            self._authenticate(request)
            self._saver.check()
            self._world.reload_if_changed()
            try:
                result = _route(self._world, request)
            finally:
                self._saver.changed()
            if drop and self._faults is not None:
                await self._faults.drop()
            return 200, result, ()
        except SimError as exc:
            return (
                exc.status,
                {"error_code": exc.error_code, "error_msg": exc.error_msg},
                exc.headers,
            )
        except WorldError as exc:
            return 500, _internal(exc), ()

    async def _flush_when_idle(self, send: Send) -> None:
        while self._in_flight:
            waiter = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(waiter)
            await waiter
        try:
            self._saver.flush()
        except WorldError as exc:
            await _send_json(send, 500, _internal(exc), [])
            return
        await _send_json(send, 200, {"flushed": True}, [])

    def _authenticate(self, request: Request) -> None:
        if self._verifier is None:
            return
        now = datetime.fromtimestamp(self._clock(), timezone.utc)
        reason = self._verifier.check(request, now)
        if reason is not None:
            raise SimError(401, AUTH_FAILED, f"Incorrect IAM authentication information: {reason}")


def _internal(exc: WorldError) -> JsonObject:
    return {"error_code": INTERNAL, "error_msg": f"simulator world: {exc}"}


def _route(world: World, request: Request) -> JsonObject:
    """Dispatch on method and path: `/v2/{project_id}/pools/...` for any project id."""
    segments = request.segments
    if len(segments) < 3 or segments[0] != "v2" or not segments[1] or segments[2] != "pools":
        raise _no_such_api(request)
    match (request.method, segments[3:]):
        case ("GET", []):
            return world.list_pools(dict(request.query).get("workspaceId"))
        case ("GET", [pool]):
            return world.get_pool(pool)
        case ("GET", [pool, "nodepools"]):
            return world.list_nodepools(pool)
        case ("POST", [pool, "nodepools"]):
            return world.create_nodepool(pool, _json_body(request, _POST_TYPES))
        case ("GET", [pool, "nodepools", name]):
            return world.get_nodepool(pool, name)
        case ("PATCH", [pool, "nodepools", name]):
            return world.patch_nodepool(pool, name, _json_body(request, _PATCH_TYPES))
        case ("DELETE", [pool, "nodepools", name]):
            return world.delete_nodepool(pool, name)
        case ("GET", [pool, "nodepools", name, "nodes"]):
            query = dict(request.query)
            return world.list_nodes(pool, name, _limit(query.get("limit")), query.get("continue"))
    raise _no_such_api(request)


def _no_such_api(request: Request) -> SimError:
    return SimError(404, NO_SUCH_API, f"no API for {request.method} {request.raw_path}")


def _limit(text: str | None) -> int:
    if text is None:
        return 500
    try:
        return int(text)
    except ValueError:
        raise SimError(400, BAD_REQUEST, f"limit must be an integer, got {text!r}") from None


def _json_body(request: Request, accepted: tuple[str, ...]) -> Any:
    """The parsed JSON body, once its Content-Type is one of `accepted` (charset utf-8 only);
    refused (400) unless the world could store and write it (see `jsontext`)."""
    content_type = request.headers.get("content-type", "")
    media, _, params = content_type.partition(";")
    charset = params.replace(" ", "").lower()
    if media.strip().lower() not in accepted or charset not in ("", "charset=utf-8"):
        raise SimError(
            400,
            UNSUPPORTED_MEDIA_TYPE,
            f"content type {content_type or '(none)'!r} is not supported; "
            f"use {' or '.join(accepted)}",
        )
    try:
        return jsontext.decode(request.body.decode("utf-8"))
    except UnicodeDecodeError:
        raise SimError(400, BAD_REQUEST, "request body is not UTF-8") from None
    except jsontext.JsonTextError as exc:
        raise SimError(400, BAD_REQUEST, f"request body: {exc}") from None


async def _read_request(scope: Scope, receive: Receive) -> Request:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        body += message.get("body", b"")
        if len(body) > MAX_BODY_BYTES:
            raise SimError(400, BAD_REQUEST, f"request body exceeds {MAX_BODY_BYTES} bytes")
        if not message.get("more_body", False):
            break
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    raw_path = scope.get("raw_path") or scope["path"].encode()
    return Request(
        method=scope["method"],
        raw_path=raw_path.decode("latin-1"),
        query=parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True),
        headers=headers,
        body=bytes(body),
    )


async def _send_json(
    send: Send, status: int, body: JsonObject, headers: list[tuple[str, str]]
) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *((name.lower().encode(), value.encode("latin-1")) for name, value in headers),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


async def _lifespan(receive: Receive, send: Send, saver: WriteBehind) -> None:
    """Nothing to set up; at shutdown the world file gets its last changes."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                saver.flush()
            except WorldError as exc:
                await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.shutdown.complete"})
            return
