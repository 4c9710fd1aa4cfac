"""API failures as one-line user errors.

    PATCH /v2/p/pools/x/nodepools/y: HTTP 400 ModelArts.50004000: bad flavor (request id abc)

Callers add context (the address) by catching and re-raising.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from reconciler.errors import NpError

_MAX_MESSAGE = 300


class ApiError(NpError):
    """A failed API call; `status` 0 means no usable HTTP answer (network, timeout, budget)."""

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
        self.method = method
        self.path = path
        self.status = status
        self.error_code = error_code
        self.error_msg = _one_line(error_msg)
        self.request_id = request_id
        self.attempts = attempts
        super().__init__(self._render())

    @property
    def detail(self) -> str:
        """The message without the method/path prefix and the attempt count."""
        text = ""
        if self.status:
            text = (
                f"HTTP {self.status} {self.error_code}: "
                if self.error_code
                else f"HTTP {self.status}: "
            )
        text += self.error_msg
        return text + (f" (request id {self.request_id})" if self.request_id else "")

    def _render(self) -> str:
        text = f"{self.method} {self.path}: {self.detail}"
        return text + (f" after {self.attempts} attempts" if self.attempts > 1 else "")


class NotFoundError(ApiError):
    """HTTP 404: the pool or node pool does not exist."""


def error_from_response(response: httpx.Response, *, attempts: int = 1) -> ApiError:
    """Map an error response (already read) to ApiError, or NotFoundError for a 404."""
    body = _json_object(response)
    code = _text(body.get("error_code"))
    message = _text(body.get("error_msg"))
    nested = body.get("error")
    if isinstance(nested, dict):
        code = code or _text(nested.get("code"))
        message = message or _text(nested.get("message"))
    if not message:
        message = response.text.strip() or response.reason_phrase or "no error message"
    request_id = _text(body.get("request_id")) or response.headers.get("X-Request-Id")
    cls = NotFoundError if response.status_code == 404 else ApiError
    return cls(
        method=response.request.method,
        path=response.request.url.path,
        status=response.status_code,
        error_code=code,
        error_msg=message,
        request_id=request_id,
        attempts=attempts,
    )


def _json_object(response: httpx.Response) -> dict[str, Any]:
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
