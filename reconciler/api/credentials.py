"""Credentials come only from the environment (never from configuration files).

AK/SK: the SDK's names first, then the Terraform provider's; a token: HW_AUTH_TOKEN. With none
set, only a loopback plain-http endpoint (a local simulator) is used, and `NoCredentials` says
what to set if it asks for them.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass

import httpx

from reconciler.api.auth import AkSkAuth, CredentialAuth, TokenAuth
from reconciler.api.failures import HttpError, host_of
from reconciler.errors import NpError


@dataclass(frozen=True, slots=True)
class _KeyNames:
    ak: str
    sk: str
    security_token: str


_KEY_FAMILIES = (
    _KeyNames("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN"),
    _KeyNames("HW_ACCESS_KEY", "HW_SECRET_KEY", "HW_SECURITY_TOKEN"),
)
_TOKEN = "HW_AUTH_TOKEN"
_PROJECT_IDS = ("HUAWEICLOUD_SDK_PROJECT_ID", "HW_PROJECT_ID")
_SECRETS = (
    *(n for names in _KEY_FAMILIES for n in (names.ak, names.sk, names.security_token)),
    _TOKEN,
)


def auth_from_env(
    environ: Mapping[str, str], project_id: str | None = None
) -> CredentialAuth | None:
    """AK/SK (preferred) or token auth from `environ`; None when no credential is set.

    `project_id` is sent as X-Project-Id with AK/SK, as the SDK does; default: from `environ`.
    Half an AK/SK pair is an error naming the missing variable. The auth's `secrets` are every
    credential in the environment, used or not: none of them may be printed.
    """
    auth = _auth_from_env(environ, project_id)
    if auth is not None:
        auth.secrets = tuple(environ[name] for name in _SECRETS if environ.get(name))
    return auth


def _auth_from_env(environ: Mapping[str, str], project_id: str | None) -> CredentialAuth | None:
    for names in _KEY_FAMILIES:
        ak, sk, token = (environ.get(n) or None for n in (names.ak, names.sk, names.security_token))
        if not (ak or sk or token):
            continue
        if not ak:
            raise NpError(f"{names.ak} is not set (needed with {_set_names(environ, names)})")
        if not sk:
            raise NpError(f"{names.sk} is not set (needed with {_set_names(environ, names)})")
        return AkSkAuth(ak, sk, project_id or project_id_from_env(environ), token)
    token = environ.get(_TOKEN)
    return TokenAuth(token) if token else None


def project_id_from_env(environ: Mapping[str, str]) -> str | None:
    return next((environ[n] for n in _PROJECT_IDS if environ.get(n)), None)


_WHAT_TO_SET = (
    "set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (optionally "
    "HUAWEICLOUD_SDK_SECURITY_TOKEN), or HW_ACCESS_KEY and HW_SECRET_KEY (optionally "
    "HW_SECURITY_TOKEN), or an IAM token in HW_AUTH_TOKEN"
)


def missing_credentials_error() -> NpError:
    return NpError(f"no credentials: {_WHAT_TO_SET}")


class NoCredentials(httpx.Auth):
    """Requests go out as they are; a 401 answer is an error naming the variables to set."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield request
        if response.status_code == 401:
            raise HttpError(
                method=request.method,
                path=request.url.path,
                status=401,
                error_msg=f"{host_of(request.url)} asks for credentials and none are set: set "
                "HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or HW_ACCESS_KEY and HW_SECRET_KEY, "
                "or HW_AUTH_TOKEN; and a project id in HUAWEICLOUD_SDK_PROJECT_ID or HW_PROJECT_ID",
            )


def _set_names(environ: Mapping[str, str], names: _KeyNames) -> str:
    present = [n for n in (names.ak, names.sk, names.security_token) if environ.get(n)]
    return " and ".join(present)
