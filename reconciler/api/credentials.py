"""Credentials come only from the environment (never from configuration files).

AK/SK: the SDK's names first, then the Terraform provider's; a token: HW_AUTH_TOKEN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from reconciler.api.auth import AkSkAuth, TokenAuth
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


def auth_from_env(environ: Mapping[str, str], project_id: str | None = None) -> httpx.Auth | None:
    """AK/SK (preferred) or token auth from `environ`; None when no credential is set.

    `project_id` is sent as X-Project-Id with AK/SK, as the SDK does; default: from `environ`.
    Half an AK/SK pair is an error naming the missing variable.
    """
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


def missing_credentials_error() -> NpError:
    return NpError(
        "no credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (optionally "
        "HUAWEICLOUD_SDK_SECURITY_TOKEN), or HW_ACCESS_KEY and HW_SECRET_KEY (optionally "
        "HW_SECURITY_TOKEN), or an IAM token in HW_AUTH_TOKEN"
    )


def _set_names(environ: Mapping[str, str], names: _KeyNames) -> str:
    present = [n for n in (names.ak, names.sk, names.security_token) if environ.get(n)]
    return " and ".join(present)
