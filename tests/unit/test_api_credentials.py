"""Credentials from the environment: which variables win, and half-set pairs."""

from __future__ import annotations

import httpx
import pytest

from reconciler.api.auth import AkSkAuth, TokenAuth
from reconciler.api.credentials import (
    auth_from_env,
    missing_credentials_error,
    project_id_from_env,
)
from reconciler.errors import NpError


def signed_headers(auth: httpx.Auth | None) -> httpx.Headers:
    """The headers `auth` puts on a request."""
    assert auth is not None
    request = httpx.Request("GET", "https://modelarts.example/v2/p/pools")
    return next(auth.sync_auth_flow(request)).headers


def test_sdk_names_win_over_terraform_names() -> None:
    auth = auth_from_env(
        {
            "HUAWEICLOUD_SDK_AK": "sdk-ak",
            "HUAWEICLOUD_SDK_SK": "sdk-sk",
            "HUAWEICLOUD_SDK_SECURITY_TOKEN": "sdk-tok",
            "HW_ACCESS_KEY": "hw-ak",
            "HW_SECRET_KEY": "hw-sk",
            "HW_AUTH_TOKEN": "iam",
            "HUAWEICLOUD_SDK_PROJECT_ID": "env-proj",
        }
    )
    assert isinstance(auth, AkSkAuth)
    headers = signed_headers(auth)
    assert headers["Authorization"].startswith("SDK-HMAC-SHA256 Access=sdk-ak, ")
    assert (headers["X-Security-Token"], headers["X-Project-Id"]) == ("sdk-tok", "env-proj")


def test_terraform_names_are_the_fallback_and_project_id_can_be_given() -> None:
    auth = auth_from_env(
        {"HW_ACCESS_KEY": "hw-ak", "HW_SECRET_KEY": "hw-sk", "HW_PROJECT_ID": "env"}, "cfg-proj"
    )
    headers = signed_headers(auth)
    assert headers["Authorization"].startswith("SDK-HMAC-SHA256 Access=hw-ak, ")
    assert headers["X-Project-Id"] == "cfg-proj"
    assert "X-Security-Token" not in headers


def test_token_when_no_keys() -> None:
    auth = auth_from_env({"HW_AUTH_TOKEN": "iam", "HUAWEICLOUD_SDK_AK": ""})
    assert isinstance(auth, TokenAuth)
    assert signed_headers(auth)["X-Auth-Token"] == "iam"


def test_nothing_set_is_none_and_the_error_names_the_variables() -> None:
    assert auth_from_env({"HUAWEICLOUD_SDK_AK": "", "HW_AUTH_TOKEN": ""}) is None
    assert str(missing_credentials_error()) == (
        "no credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (optionally "
        "HUAWEICLOUD_SDK_SECURITY_TOKEN), or HW_ACCESS_KEY and HW_SECRET_KEY (optionally "
        "HW_SECURITY_TOKEN), or an IAM token in HW_AUTH_TOKEN"
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"HUAWEICLOUD_SDK_AK": "ak"},
            "HUAWEICLOUD_SDK_SK is not set (needed with HUAWEICLOUD_SDK_AK)",
        ),
        (
            {"HUAWEICLOUD_SDK_SK": "secret"},
            "HUAWEICLOUD_SDK_AK is not set (needed with HUAWEICLOUD_SDK_SK)",
        ),
        (
            {"HUAWEICLOUD_SDK_SECURITY_TOKEN": "tok", "HW_ACCESS_KEY": "a", "HW_SECRET_KEY": "s"},
            "HUAWEICLOUD_SDK_AK is not set (needed with HUAWEICLOUD_SDK_SECURITY_TOKEN)",
        ),
        (
            {"HW_ACCESS_KEY": "ak", "HW_AUTH_TOKEN": "iam"},
            "HW_SECRET_KEY is not set (needed with HW_ACCESS_KEY)",
        ),
    ],
)
def test_half_a_pair_names_the_missing_variable_and_never_a_value(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(NpError) as caught:
        auth_from_env(environ)
    assert str(caught.value) == message


def test_project_id_from_env_prefers_the_sdk_name() -> None:
    assert project_id_from_env({"HW_PROJECT_ID": "b", "HUAWEICLOUD_SDK_PROJECT_ID": "a"}) == "a"
    assert project_id_from_env({"HW_PROJECT_ID": "b", "HUAWEICLOUD_SDK_PROJECT_ID": ""}) == "b"
    assert project_id_from_env({}) is None
