"""A stand-in ModelArts endpoint on loopback: the simulator's ASGI app behind uvicorn in a
thread of the test process, optionally with a twist no well-behaved server has (a redirect for
every write). For in-process np runs that need a real HTTP endpoint.

    with serving(redirecting_writes(create_app(World.load(path)), "https://x/?t=T")) as url:
        ws.np("apply", ...)        # provider { endpoint = url }
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from reconciler.sim.app import AsgiApp, Receive, Scope, Send

WRITES = ("PATCH", "POST", "DELETE")


def redirecting_writes(app: AsgiApp, location: str, status: int = 307) -> AsgiApp:
    """`app`, except that every write is answered `status` with `location` and not done."""

    async def redirecting(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITES:
            await app(scope, receive, send)
            return
        headers = [(b"location", location.encode()), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    return redirecting


@contextmanager
def serving(app: AsgiApp) -> Iterator[str]:
    """`app` on a free loopback port until the block ends; yields its base URL. The socket
    listens before uvicorn starts, so a request made at once waits in the backlog."""
    sock = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()
