"""`np sim serve`: the simulator over real HTTP, on uvicorn.

    serve("world.json", port=0, auth="aksk", ak="AK", sk="SK")
    # stdout: "np sim listening on http://127.0.0.1:41234" once the socket accepts connections,
    # then the provider block to paste and the credentials to set (never their values)

The socket is bound here, not by uvicorn, so that port 0 yields the real port before the
announcement, and so that a non-loopback address is refused before anything listens. The
world file gets its last changes when the server stops (SIGINT/SIGTERM).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import sys
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from reconciler.errors import NpError
from reconciler.sim.app import AkSkVerifier, Scope, TokenVerifier, Verifier, create_app
from reconciler.sim.faults import ConnectionDropped, Faults
from reconciler.sim.world import World


def serve(
    world_path: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8787,
    auth: str = "none",
    ak: str | None = None,
    sk: str | None = None,
    token: str | None = None,
    latency_ms: float = 0.0,
    scale_seconds: float | None = None,
    rate_limit: float | None = None,
    fail_rate: float = 0.0,
    request_log: Path | None = None,
    allow_remote: bool = False,
    drop_rate: float = 0.0,
    stall_seconds: float = 0.0,
    seed: int | None = None,
) -> None:
    """Serve the world until SIGINT/SIGTERM; option errors raise NpError before binding."""
    if not allow_remote and not _is_loopback(host):
        raise NpError(
            f"refusing to listen on {host}: not a loopback address "
            "(pass --allow-remote to expose the simulator)"
        )
    verifier = _verifier(auth, ak, sk, token)
    world = World.load(world_path, scale_seconds=scale_seconds)
    faults = None
    if latency_ms or rate_limit or fail_rate or drop_rate:
        faults = Faults(
            latency_ms=latency_ms,
            rate_limit=rate_limit,
            fail_rate=fail_rate,
            drop_rate=drop_rate,
            stall_seconds=stall_seconds,
            seed=seed,
        )
    app = create_app(world, verifier=verifier, faults=faults, request_log=request_log)
    sock = _bind(host, port)
    config = uvicorn.Config(
        app, http=_DroppingH11Protocol, lifespan="on", log_level="warning", access_log=False
    )
    url = _url(sock)
    _AnnouncingServer(config, banner(url, auth)).run(sockets=[sock])
    app.flush()  # already done at lifespan shutdown; raises WorldError if it could not be


_CREDENTIALS = {
    "none": "Credentials: none are checked. With no credential variables set, np sends none "
    "to a loopback http endpoint.",
    "token": "Credentials: set HW_AUTH_TOKEN to the --token value, and HW_PROJECT_ID to any "
    "project id.",
    "aksk": "Credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK to the --ak and --sk "
    "values, and HUAWEICLOUD_SDK_PROJECT_ID to any project id.",
}


def banner(url: str, auth: str) -> str:
    """What `serve` prints: the listening line (scripts wait for exactly that first line), the
    provider block to paste, and which credentials to set. Never a credential's value."""
    return (
        f"np sim listening on {url}\n"
        "Point a configuration at it with:\n"
        '  provider "modelarts" {\n'
        f'    endpoint = "{url}"\n'
        "  }\n"
        f"{_CREDENTIALS[auth]}\n"
    )


def _verifier(mode: str, ak: str | None, sk: str | None, token: str | None) -> Verifier | None:
    if mode == "none":
        return None
    if mode == "token":
        if not token:
            raise NpError("--auth token needs --token")
        return TokenVerifier(token)
    if mode == "aksk":
        if not ak or not sk:
            raise NpError("--auth aksk needs --ak and --sk")
        return AkSkVerifier(ak, sk)
    raise NpError(f"unknown auth mode {mode!r}: use none, token or aksk")


def _is_loopback(host: str) -> bool:
    """True when every address `host` resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False
    return all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        raise NpError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _AnnouncingServer(uvicorn.Server):
    """Prints the banner once uvicorn is accepting on the socket, not before, and treats
    SIGINT/SIGTERM as a normal stop (exit 0) instead of re-raising them afterwards."""

    def __init__(self, config: uvicorn.Config, banner: str) -> None:
        super().__init__(config)
        self._banner = banner

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        sys.stdout.write(self._banner)
        sys.stdout.flush()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets=sockets)
        self._captured_signals.clear()


class _DroppingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, except that `ConnectionDropped` from the app aborts the TCP
    connection with no response at all (plain ASGI has no way to say that)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner = self.app

        async def app(scope: Scope, receive: Any, send: Any) -> None:
            try:
                await inner(scope, receive, send)
            except ConnectionDropped:
                self.transport.abort()
                await asyncio.sleep(0)  # let connection_lost mark the request as disconnected

        self.app = app
