"""A small stand-in for the parts of GitLab's REST API (v4) that the GitLab CI recipe calls:
merge-request notes, the merge requests of a commit, pipelines, jobs and job artifacts. It
serves on loopback, checks the PRIVATE-TOKEN header, pages every list (two items a page, so
that the recipe must follow X-Next-Page) and records each request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PAGE = 2


@dataclass
class Request:
    method: str
    path: str
    body: Any


@dataclass
class FakeGitLab:
    token: str
    user_id: int
    notes_path: str  # /projects/ID/merge_requests/IID/notes
    notes: dict[int, dict[str, Any]] = field(default_factory=dict)
    lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # GET path -> items
    files: dict[str, bytes] = field(default_factory=dict)  # GET path -> raw body
    requests: list[Request] = field(default_factory=list)
    url: str = ""

    def note(self, author: int, body: str) -> int:
        number = max(self.notes, default=0) + 1
        self.notes[number] = {"id": number, "author": {"id": author}, "body": body}
        return number

    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON or bytes, headers) for one request to /api/v4 + path."""
        split = urlsplit(path)
        route, query = split.path, parse_qs(split.query)
        items: list[dict[str, Any]] | None = None
        if method == "GET" and route == "/user":
            return 200, {"id": self.user_id}, {}
        if route == self.notes_path and method == "GET":
            items = list(self.notes.values())
        elif route == self.notes_path and method == "POST":
            number = self.note(self.user_id, body["body"])
            return 201, self.notes[number], {}
        elif route.startswith(f"{self.notes_path}/") and method == "DELETE":
            number = int(route.rsplit("/", 1)[1])
            return (204, b"", {}) if self.notes.pop(number, None) else (404, {}, {})
        elif method == "GET" and route in self.lists:
            items = self.lists[route]
        elif method == "GET" and route in self.files:
            return 200, self.files[route], {}
        if items is None:
            return 404, {"message": "404 Not Found"}, {}
        page = int(query.get("page", ["1"])[0])
        more = len(items) > page * PAGE
        return (
            200,
            items[(page - 1) * PAGE : page * PAGE],
            {"X-Next-Page": str(page + 1) if more else ""},
        )

    @contextmanager
    def serving(self) -> Iterator[FakeGitLab]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                path = self.path.removeprefix("/api/v4")
                fake.requests.append(Request(self.command, path, body))
                if self.headers.get("PRIVATE-TOKEN") != fake.token:
                    status, answer, headers = 401, {"message": "401 Unauthorized"}, {}
                else:
                    status, answer, headers = fake.answer(self.command, path, body)
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = handle_one

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}/api/v4"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
