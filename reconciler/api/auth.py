"""httpx authentication: AK/SK signatures (via `reconciler.signer`) or an IAM token."""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import datetime, timezone

import httpx

from reconciler.signer import sign


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class CredentialAuth(httpx.Auth):
    """An auth made of credentials: `secrets` are their values, which np never prints, not even
    when a server echoes them back (see `reconciler.endpoint.redact`)."""

    def __init__(self, *secrets: str | None) -> None:
        self.secrets = tuple(secret for secret in secrets if secret)


def secrets_of(auth: httpx.Auth | None) -> tuple[str, ...]:
    return auth.secrets if isinstance(auth, CredentialAuth) else ()


class AkSkAuth(CredentialAuth):
    """Signs each request as sent, so every retry carries a fresh X-Sdk-Date and signature."""

    requires_request_body = True

    def __init__(
        self,
        ak: str,
        sk: str,
        project_id: str | None,
        security_token: str | None = None,
        *,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        super().__init__(ak, sk, security_token)
        self._ak = ak
        self._sk = sk
        self._project_id = project_id
        self._security_token = security_token
        self._now = now

    def __repr__(self) -> str:
        return f"AkSkAuth(ak={self._ak!r}, sk=REDACTED)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._project_id:
            request.headers["X-Project-Id"] = self._project_id
        if self._security_token:
            request.headers["X-Security-Token"] = self._security_token
        signed = {
            name: request.headers[name]
            for name in ("Host", "Content-Type", "X-Project-Id", "X-Security-Token")
            if name in request.headers
        }
        path = request.url.raw_path.split(b"?", 1)[0].decode("ascii")
        request.headers.update(
            sign(
                request.method,
                path,
                request.url.params.multi_items(),
                signed,
                request.content,
                self._ak,
                self._sk,
                self._now(),
            )
        )
        yield request


class TokenAuth(CredentialAuth):
    """An IAM token in X-Auth-Token."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self._token = token

    def __repr__(self) -> str:
        return "TokenAuth(token=REDACTED)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-Auth-Token"] = self._token
        yield request
