"""API failures as one-line user errors.

    PATCH /v2/p/pools/x/nodepools/y: HTTP 400 ModelArts.50004000: bad flavor (request id abc)
    GET /v2/p/pools: connection to modelarts.cn-north-4.myhuaweicloud.com failed (ConnectError)

Two kinds: `HttpError` (the server answered, with an error or with something unusable) and
`TransportError` (no answer at all). Callers add context (the address) by catching and
re-raising. What a server says is printed only through `reconciler.endpoint.redact`: an
endpoint that echoes the request would otherwise print its credentials. A redirect is a failure
like any other answer np cannot use:

    PATCH /v2/p/pools/x/nodepools/y: HTTP 307: redirected to other.example; np does not follow
    redirects (request id abc)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import httpx

from reconciler.endpoint import CREDENTIAL_HEADERS, is_host, redact
from reconciler.errors import NpError

_MAX_MESSAGE = 300
_NOT_FOLLOWED = "np does not follow redirects"


class ApiError(NpError):
    """A failed API call; catch this for "any API failure", a subclass for one kind."""

    def __init__(self, *, method: str, path: str, error_msg: str, attempts: int = 1) -> None:
        self.method = method
        self.path = path
        self.error_msg = _one_line(error_msg)
        self.attempts = attempts
        self.budget: float | None = None
        super().__init__(self._render())

    @property
    def detail(self) -> str:
        """The message without the method/path prefix and the attempt count."""
        return self.error_msg

    def out_of_budget(self, seconds: float) -> ApiError:
        """Mark this failure as the last one before the retry budget ran out (and return it)."""
        self.budget = seconds
        self.args = (self._render(),)
        return self

    def _render(self) -> str:
        text = f"{self.method} {self.path}: "
        if self.budget is not None:
            text += f"retry budget of {self.budget:g}s exhausted; last error: "
        text += self.detail
        return text + (f" after {self.attempts} attempts" if self.attempts > 1 else "")


class HttpError(ApiError):
    """The server answered, but with an error status or a body np cannot use."""

    def __init__(
        self,
        *,
        method: str,
        path: str,
        status: int,
        error_msg: str,
        error_code: str | None = None,
        request_id: str | None = None,
        attempts: int = 1,
    ) -> None:
        self.status = status
        self.error_code = error_code
        self.request_id = request_id
        super().__init__(method=method, path=path, error_msg=error_msg, attempts=attempts)

    @property
    def detail(self) -> str:
        code = f" {self.error_code}" if self.error_code else ""
        request = f" (request id {self.request_id})" if self.request_id else ""
        return f"HTTP {self.status}{code}: {self.error_msg}{request}"


class NotFoundError(HttpError):
    """HTTP 404: the pool or node pool does not exist."""


class TransportError(ApiError):
    """No HTTP answer: the connection failed, timed out, or the certificate was refused.

    `host` is where np tried to go (host and port, never credentials), so that a user can tell
    a typo in an endpoint from an outage.
    """

    def __init__(
        self, *, method: str, path: str, host: str, error_msg: str, attempts: int = 1
    ) -> None:
        self.host = host
        super().__init__(method=method, path=path, error_msg=error_msg, attempts=attempts)


def host_of(url: httpx.URL) -> str:
    """host[:port] of a URL, as messages name a destination (never with credentials)."""
    return f"{url.host}:{url.port}" if url.port is not None else url.host


def credentials_sent(request: httpx.Request) -> tuple[str, ...]:
    """The values of the request's credential headers (a signature changes with every request,
    so only the request itself knows it)."""
    return tuple(request.headers.get(name, "") for name in CREDENTIAL_HEADERS)


def error_from_response(
    response: httpx.Response, *, attempts: int = 1, secrets: Iterable[str] = ()
) -> HttpError:
    """Map an answer that is not a success (already read) to HttpError, or NotFoundError for a
    404. `secrets` (the credentials' values) and the credential headers of the request are
    redacted from everything taken from the answer, before it is cut to length."""
    request = response.request
    known = (*secrets, *credentials_sent(request))
    body = _error_body(response)
    code = _text(body.get("error_code"))
    message = _text(body.get("error_msg"))
    nested = body.get("error")
    if isinstance(nested, dict):
        code = code or _text(nested.get("code"))
        message = message or _text(nested.get("message"))
    if 300 <= response.status_code < 400:
        code, message = None, _redirected(response)
    if not message:
        message = response.text.strip() or response.reason_phrase or "no error message"
    request_id = _text(body.get("request_id")) or response.headers.get("X-Request-Id")
    cls = NotFoundError if response.status_code == 404 else HttpError
    return cls(
        method=request.method,
        path=request.url.path,
        status=response.status_code,
        error_code=redact(code, known) if code else None,
        error_msg=redact(message, known),
        request_id=redact(request_id, known) if request_id else None,
        attempts=attempts,
    )


def _redirected(response: httpx.Response) -> str:
    """A 3xx, named by where it points: the host only, as a Location's path or query may carry
    a token. np never follows one: the redirected request was not done where np sent it."""
    location = response.headers.get("Location")
    if not location:
        return f"redirected without a Location; {_NOT_FOLLOWED}"
    try:
        target = response.request.url.join(location)
        host = target.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeDecodeError):
        host = ""
    if not is_host(host):
        return f"redirected to an invalid address; {_NOT_FOLLOWED}"
    port = f":{target.port}" if target.port is not None else ""
    return f"redirected to {f'[{host}]' if ':' in host else host}{port}; {_NOT_FOLLOWED}"


def _error_body(response: httpx.Response) -> dict[str, Any]:
    """Whatever JSON object an error answer carries; `{}` when it carries none (a gateway's
    HTML page, say), since the status alone is still worth reporting."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_MESSAGE else flat[: _MAX_MESSAGE - 1] + "…"
