"""A small TCP proxy on loopback for fault tests against the real state servers.

    with TcpProxy(("127.0.0.1", 5432)) as proxy:       # np talks to proxy.port instead
        proxy.cut_after(700)   # the next 700 bytes to the server pass, then both ends are reset
        proxy.cut_after(0, towards_client=True)   # the request passes whole, its answer never
        proxy.pause()          # requests wait here (the server sees nothing) until resume()
    with TcpProxy(target, strip_headers=("if-match", "if-none-match")) as proxy:
        ...                    # an HTTP store that never sees conditional headers

Each connection is served by two threads (one per direction); all stop when the proxy closes.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType


class TcpProxy:
    def __init__(self, target: tuple[str, int], strip_headers: tuple[str, ...] = ()) -> None:
        self.target = target
        self.strip = tuple(h.lower().encode() for h in strip_headers)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._mutex = threading.Lock()
        self._budget: int | None = None
        self._cut_towards_client = False
        self.cuts = 0
        self.sent = 0
        self.received = 0
        """Bytes forwarded towards the server, and back towards the client, so far."""
        self.stripped = 0
        self._sockets: list[socket.socket] = []
        self._closed = False
        self._open = threading.Event()
        self._open.set()

    def __enter__(self) -> TcpProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._closed = True
        self._open.set()
        self._listener.close()
        with self._mutex:
            for sock in self._sockets:
                _reset(sock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pause(self) -> None:
        """Hold everything sent towards the server from now on, until ``resume``."""
        self._open.clear()

    def resume(self) -> None:
        self._open.set()

    def drop_all(self) -> None:
        """Reset every connection now, as a server restart looks to its clients (new
        connections pass again)."""
        with self._mutex:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _reset(sock)

    def cut_after(self, budget: int, towards_client: bool = False) -> None:
        """Forward ``budget`` more bytes towards the server (or the client), then reset both
        ends of that connection (once; later traffic passes again)."""
        with self._mutex:
            self._budget = budget
            self._cut_towards_client = towards_client

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                _reset(client)
                continue
            with self._mutex:
                self._sockets += [client, server]
            upstream = _HeaderFilter(self.strip, self) if self.strip else None
            for args in ((client, server, upstream), (server, client, None)):
                threading.Thread(target=self._pump, args=args, daemon=True).start()

    def _pump(
        self, source: socket.socket, sink: socket.socket, upstream: _HeaderFilter | None
    ) -> None:
        """Copy ``source`` to ``sink``; the client→server direction carries the header filter
        (``upstream``) and the armed cut."""
        towards_server = not self._is_server(source)
        try:
            while data := source.recv(65536):
                if upstream is not None:
                    data = upstream.feed(data)
                if towards_server:
                    self._open.wait()
                if self._cut(data, towards_server, source, sink):
                    return
                # Counted before it is passed on: once a peer has the bytes, so do the counters.
                with self._mutex:
                    if towards_server:
                        self.sent += len(data)
                    else:
                        self.received += len(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _is_server(self, sock: socket.socket) -> bool:
        with self._mutex:
            return sock in self._sockets[1::2]

    def _cut(
        self, data: bytes, towards_server: bool, source: socket.socket, sink: socket.socket
    ) -> bool:
        with self._mutex:
            if self._budget is None or towards_server == self._cut_towards_client:
                return False
            if len(data) < self._budget:
                self._budget -= len(data)
                return False
            part, self._budget = data[: self._budget], None
            self.cuts += 1
        sink.sendall(part)
        _reset(sink)
        _reset(source)
        return True


class _HeaderFilter:
    """Drops the named headers from each HTTP/1.1 request head on a client→server stream."""

    def __init__(self, names: tuple[bytes, ...], proxy: TcpProxy) -> None:
        self._names = names
        self._proxy = proxy
        self._head = b""
        self._body_left = 0

    def feed(self, data: bytes) -> bytes:
        out = b""
        while data:
            if self._body_left:
                chunk, data = data[: self._body_left], data[self._body_left :]
                self._body_left -= len(chunk)
                out += chunk
                continue
            self._head += data
            data = b""
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                break
            head, data = self._head[: end + 4], self._head[end + 4 :]
            self._head = b""
            lines = head.split(b"\r\n")
            kept = [line for line in lines if not line.lower().startswith(self._names)]
            self._proxy.stripped += len(lines) - len(kept)
            for line in kept:
                if line.lower().startswith(b"content-length:"):
                    self._body_left = int(line.split(b":", 1)[1])
            out += b"\r\n".join(kept)
        return out


def _reset(sock: socket.socket) -> None:
    """Close with RST, as a cable pulled or a process killed mid-transfer looks to the peer."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # Wake the thread blocked reading it: the socket (and the RST) only goes when it lets go.
        sock.shutdown(socket.SHUT_RD)
    sock.close()
