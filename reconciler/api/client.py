"""The ModelArts node-pool API over one shared `httpx.AsyncClient`.

Methods return the raw JSON objects (status buckets and unknown fields untouched); parsing is
`reconciler.model`'s job. Every call goes through the shared pacer and retry policy.

    http = build_http_client("https://modelarts.cn-north-4.myhuaweicloud.com", transport=None,
                             auth=auth, max_connections=10, timeout=30.0, verbose_log=None)
    client = ModelArtsClient(http, project_id)
    items = await client.list_nodepools("pool-prod")
"""

from __future__ import annotations

import functools
import json
import os
import ssl
import time
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from reconciler import __version__
from reconciler.api.auth import secrets_of
from reconciler.api.failures import HttpError, NotFoundError, credentials_sent, host_of
from reconciler.api.retry import Confirm, Pacer, Retrier, RetryPolicy
from reconciler.endpoint import CREDENTIAL_HEADERS, REDACTED, redact
from reconciler.errors import NpError
from reconciler.identifiers import segment_problem

JSON = "application/json;charset=utf-8"
MERGE_PATCH = "application/merge-patch+json"
NODES_PAGE_SIZE = 500
_REDACTED_HEADERS = frozenset(name.lower() for name in CREDENTIAL_HEADERS)


class ModelArtsClient:
    """Pools, node pools and nodes of one project."""

    def __init__(
        self, http: httpx.AsyncClient, project_id: str, *, retry: RetryPolicy | None = None
    ) -> None:
        self._http = http
        self.project_id = project_id
        self._prefix = f"/v2/{_segment(project_id)}/pools"
        policy = retry or RetryPolicy()
        pacer = Pacer(policy.clock, policy.sleep)
        self._retrier = Retrier(policy, pacer, host_of(http.base_url), secrets_of(http.auth))

    async def list_pools(self, workspace_id: str | None = None) -> list[dict[str, Any]]:
        """The pools of one workspace: `workspace_id`, or the API's default ("0") when None."""
        params = {"workspaceId": workspace_id} if workspace_id is not None else None
        return _items(await self._get(self._prefix, params), self._prefix)

    async def get_pool(self, pool: str) -> dict[str, Any]:
        return await self._get(f"{self._prefix}/{_segment(pool)}")

    async def list_nodepools(self, pool: str) -> list[dict[str, Any]]:
        path = self._nodepools_path(pool)
        return _items(await self._get(path), path)

    async def get_nodepool(self, pool: str, name: str) -> dict[str, Any]:
        return await self._get(self._nodepool_path(pool, name))

    async def patch_nodepool(self, pool: str, name: str, body: bytes) -> dict[str, Any]:
        """Send `body` (an RFC 7396 merge patch) exactly as given."""
        return await self._call("PATCH", self._nodepool_path(pool, name), body, MERGE_PATCH)

    async def create_nodepool(self, pool: str, body: bytes) -> dict[str, Any]:
        """POST `body`; resent only after a GET shows the node pool was not created, and when
        that GET finds it (an earlier attempt did land), its answer is the result."""
        name = _nodepool_name(body)
        confirm: Confirm | None = None
        if name:
            existing = self._nodepool_path(pool, name)

            async def confirm() -> httpx.Response | None:
                try:
                    return await self._send("GET", existing)
                except NotFoundError:
                    return None

        response = await self._send("POST", self._nodepools_path(pool), body, JSON, confirm=confirm)
        return _json_object(response)

    async def delete_nodepool(self, pool: str, name: str) -> dict[str, Any]:
        """A 404 after a retry means an earlier attempt deleted it and its answer was lost."""
        try:
            return await self._call("DELETE", self._nodepool_path(pool, name))
        except NotFoundError as exc:
            if exc.attempts > 1:
                return {}
            raise

    async def list_nodes(self, pool: str, name: str) -> list[dict[str, Any]]:
        """All nodes, following `metadata.continue` page by page."""
        path = self._nodepool_path(pool, name) + "/nodes"
        nodes: list[dict[str, Any]] = []
        seen: set[str] = set()
        token = ""
        while True:
            params = {"limit": str(NODES_PAGE_SIZE)} | ({"continue": token} if token else {})
            page = await self._get(path, params)
            nodes.extend(_items(page, path))
            metadata = page.get("metadata")
            token = str(metadata.get("continue") or "") if isinstance(metadata, dict) else ""
            if not token:
                return nodes
            if token in seen:
                raise HttpError(
                    method="GET", path=path, status=200, error_msg="pagination token repeats"
                )
            seen.add(token)

    def _nodepools_path(self, pool: str) -> str:
        return f"{self._prefix}/{_segment(pool)}/nodepools"

    def _nodepool_path(self, pool: str, name: str) -> str:
        return f"{self._nodepools_path(pool)}/{_segment(name)}"

    async def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        return _json_object(await self._send("GET", path, params=params))

    async def _call(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> dict[str, Any]:
        return _json_object(await self._send(method, path, body, content_type))

    async def _send(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = None,
        *,
        params: dict[str, str] | None = None,
        confirm: Confirm | None = None,
    ) -> httpx.Response:
        headers = {"Content-Type": content_type} if content_type else None
        return await self._retrier.run(
            method,
            path,
            lambda: self._http.request(method, path, content=body, headers=headers, params=params),
            confirm=confirm,
        )


def build_http_client(
    base_url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    auth: httpx.Auth | None = None,
    max_connections: int = 10,
    timeout: float = 30.0,
    verbose_log: Callable[[str], None] | None = None,
) -> httpx.AsyncClient:
    """The one HTTP client of a run. TLS verification is always on; no option turns it off.

    Connection limits live on the transport because httpx ignores client-level `limits=` when a
    transport is given; a caller-supplied transport (the in-process simulator) keeps its own.
    """
    if transport is None:
        transport = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            verify=tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")),
            retries=0,
        )
    hooks = HttpLog(verbose_log, secrets_of(auth)).event_hooks() if verbose_log else {}
    return httpx.AsyncClient(
        base_url=base_url,
        transport=transport,
        auth=auth,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": f"np/{__version__}", "Accept": "application/json"},
        event_hooks=hooks,
        follow_redirects=False,
    )


@functools.cache
def tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """The verifying TLS context every client of a run shares (what ``verify=True`` makes,
    for the same ``SSL_CERT_FILE``/``SSL_CERT_DIR``): loading the CA bundle costs 0.2 s of CPU,
    which a run over several regions would otherwise pay once per region."""
    return httpx.create_ssl_context(verify=True)


class HttpLog:
    """One line per request and per response, credentials redacted: credential headers by name,
    and `secrets` (the credentials' values) and the credential headers sent wherever a line
    holds them (a server may echo them in its own headers). Request bodies are logged
    (node-pool specs, never credentials: those travel in headers); response bodies are not."""

    def __init__(
        self,
        write: Callable[[str], None],
        secrets: tuple[str, ...] = (),
        clock: Callable[[], float] = time.perf_counter,
    ):
        self._write = write
        self._secrets = secrets
        self._clock = clock
        self._started: weakref.WeakKeyDictionary[httpx.Request, float] = weakref.WeakKeyDictionary()

    def event_hooks(self) -> dict[str, list[Callable[..., Any]]]:
        return {"request": [self.on_request], "response": [self.on_response]}

    async def on_request(self, request: httpx.Request) -> None:
        self._started[request] = self._clock()
        line = f"-> {request.method} {request.url} {_headers(request.headers)}"
        if request.content:
            line += f" body: {request.content.decode('utf-8', 'replace')}"
        self._log(line, request)

    async def on_response(self, response: httpx.Response) -> None:
        started = self._started.pop(response.request, None)
        elapsed = f" {(self._clock() - started) * 1000:.0f}ms" if started is not None else ""
        request = response.request
        line = (
            f"<- {response.status_code}{elapsed} {request.method} {request.url.path} "
            f"{_headers(response.headers)}"
        )
        self._log(line, request)

    def _log(self, line: str, request: httpx.Request) -> None:
        self._write(redact(line, (*self._secrets, *credentials_sent(request))))


def _headers(headers: httpx.Headers) -> str:
    shown = (
        f"{name}: {REDACTED if name.lower() in _REDACTED_HEADERS else value}"
        for name, value in ((n.decode("latin-1"), v.decode("latin-1")) for n, v in headers.raw)
    )
    return "{" + ", ".join(shown) + "}"


def _segment(name: str) -> str:
    """One path segment: a `/` or `?` in a name must not change the URL's shape, and `.` or
    `..` (which a URL collapses) never becomes one. Names are checked where they enter np;
    this is the last line, before anything is sent."""
    problem = segment_problem(name)
    if problem is not None:
        raise NpError(f"refusing to send a request for the name {problem}")
    return quote(name, safe="")


def _nodepool_name(body: bytes) -> str | None:
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    metadata = doc.get("metadata") if isinstance(doc, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) and name else None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object; an empty body is `{}`; anything else is an HttpError."""
    if not response.content.strip():
        return {}
    try:
        doc = json.loads(response.content)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise HttpError(
            method=response.request.method,
            path=response.request.url.path,
            status=response.status_code,
            error_msg="the response is not a JSON object",
            request_id=response.headers.get("X-Request-Id"),
        )
    return doc


def _items(doc: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """A list's ``items``. Anything else is an error: read as "no node pools", a malformed
    answer would make np create what exists and forget what it manages."""
    items = doc.get("items")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise HttpError(
            method="GET",
            path=path,
            status=200,
            error_msg="answer has no list of objects in 'items'",
        )
    return items
