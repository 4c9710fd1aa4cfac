"""The signer must match the official SDK byte for byte and verify must reject any tampering."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials  # type: ignore[import-untyped]
from huaweicloudsdkcore.sdk_request import SdkRequest  # type: ignore[import-untyped]
from huaweicloudsdkcore.signer.signer import Signer  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.signer import sign, verify

AK = "AKEXAMPLE123"
SK = "sk-very-secret-value"
NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
HOST = "modelarts.cn-north-4.myhuaweicloud.com"
PATCH_BODY = json.dumps({"spec": {"resources": {"count": 3}}}).encode()


def sdk_sign(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
) -> dict[str, str]:
    """Sign with the official SDK signer at NOW; return its final headers."""
    params = {"X-Sdk-Date": NOW.strftime("%Y%m%dT%H%M%SZ"), **headers}
    request = SdkRequest(
        method=method,
        schema="https",
        host=HOST,
        resource_path=path,
        query_params=list(query),
        header_params=params,
        body=body,
    )
    signed = Signer(BasicCredentials(AK, SK, "proj")).sign(request)
    return dict(signed.header_params)


def base_headers(content_type: str | None = "application/json") -> dict[str, str]:
    headers = {"Host": HOST, "X-Project-Id": "0a1b2c3d"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


EQUIVALENCE_CASES = [
    ("GET", "/v2/0a1b2c3d/pools", [], base_headers(), b""),
    (
        "GET",
        "/v2/0a1b2c3d/pools",
        [("workspaceId", "0"), ("labelSelector", "a=b,c!=d")],
        base_headers(),
        b"",
    ),
    (
        "GET",
        "/v2/p/pools/pool-1/nodepools/np/nodes",
        [("limit", "500"), ("continue", "a b+c/d=e&f~g%h"), ("limit", "10"), ("ü", "é")],
        base_headers(None),
        b"",
    ),
    (
        "PATCH",
        "/v2/p/pools/pool-1/nodepools/np",
        [],
        base_headers("application/json;charset=utf-8"),
        PATCH_BODY,
    ),
    (
        "PATCH",
        "/v2/p/pools/pool-1/nodepools/np",
        [],
        base_headers("application/merge-patch+json"),
        PATCH_BODY,
    ),
    ("POST", "/v2/p/pools/pool 1/nodepools", [], base_headers("text/plain"), b"raw bytes \xff"),
    (
        "POST",
        "/v2/p/pools/pool%2F1/nodepools/",
        [("q", "")],
        base_headers("application/bson"),
        b"\x00\x01",
    ),
    ("DELETE", "/v2/p/pools/pool-1/nodepools/np", [], base_headers(), b""),
    (
        "PUT",
        "/v2/p/pools/pool-1",
        [],
        {**base_headers("text/plain"), "X-Security-Token": " tok "},
        b"",
    ),
    ("GET", "/v2/p/pools", [], {**base_headers(), "X_Ignored": "x", "User-Agent": "np/1"}, b""),
]


@pytest.mark.parametrize(("method", "path", "query", "headers", "body"), EQUIVALENCE_CASES)
def test_sign_matches_the_official_sdk(
    method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes
) -> None:
    expected = sdk_sign(method, path, query, headers, body)
    added = sign(method, path, query, headers, body, AK, SK, NOW)
    assert added["Authorization"] == expected["Authorization"]
    assert added["X-Sdk-Date"] == "20240506T070809Z"
    assert added.get("X-Sdk-Content-Sha256") == expected.get("X-Sdk-Content-Sha256")


def test_sign_returns_only_the_added_headers() -> None:
    added = sign("GET", "/v2/p/pools", [], base_headers(), b"", AK, SK, NOW)
    assert set(added) == {"X-Sdk-Date", "Authorization"}
    assert added["Authorization"].startswith(
        "SDK-HMAC-SHA256 Access=AKEXAMPLE123, "
        "SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature="
    )
    unsigned = sign(
        "PATCH", "/v2/p", [], base_headers("application/merge-patch+json"), b"{}", AK, SK, NOW
    )
    assert unsigned["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"


def test_sign_takes_a_naive_now_as_utc_and_ignores_stale_signing_headers() -> None:
    stale = {**base_headers(), "X-Sdk-Date": "20000101T000000Z", "Authorization": "old"}
    naive = NOW.replace(tzinfo=None)
    assert sign("GET", "/v2/p", [], stale, b"", AK, SK, naive) == sign(
        "GET", "/v2/p", [], base_headers(), b"", AK, SK, NOW
    )


text = st.text(st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PATCH", "DELETE"]),
    segments=st.lists(text.filter(lambda s: "/" not in s), min_size=1, max_size=4),
    query=st.lists(st.tuples(text, text), max_size=4),
    content_type=st.sampled_from(["application/json", "application/merge-patch+json", None]),
    body=st.binary(max_size=40),
)
def test_sign_matches_the_sdk_on_arbitrary_requests(
    method: str,
    segments: list[str],
    query: list[tuple[str, str]],
    content_type: str | None,
    body: bytes,
) -> None:
    path = "/" + "/".join(segments)
    headers = base_headers(content_type)
    expected = sdk_sign(method, path, query, headers, body)
    assert (
        sign(method, path, query, headers, body, AK, SK, NOW)["Authorization"]
        == (expected["Authorization"])
    )


# --- verify -------------------------------------------------------------------------------------


def secrets(ak: str) -> str | None:
    return {AK: SK}.get(ak)


def signed_request(
    content_type: str | None = "application/json", body: bytes = PATCH_BODY
) -> dict[str, str]:
    headers = base_headers(content_type)
    return {
        **headers,
        **sign("PATCH", "/v2/p/pools/x/nodepools/y", [("a", "1 2")], headers, body, AK, SK, NOW),
    }


def check(
    headers: dict[str, str],
    *,
    method: str = "PATCH",
    path: str = "/v2/p/pools/x/nodepools/y",
    query: list[tuple[str, str]] | None = None,
    body: bytes = PATCH_BODY,
    now: datetime = NOW,
) -> str | None:
    return verify(
        method, path, [("a", "1 2")] if query is None else query, headers, body, secrets, now
    )


def test_verify_accepts_its_own_signatures_with_any_header_case() -> None:
    headers = signed_request()
    assert check(headers) is None
    assert check({k.lower(): v for k, v in headers.items()}) is None
    assert check(headers, now=NOW + timedelta(minutes=15)) is None
    assert check(headers, now=NOW - timedelta(minutes=15)) is None


def test_verify_accepts_the_official_sdk_signature() -> None:
    headers = base_headers("application/json;charset=utf-8")
    sdk_headers = sdk_sign("POST", "/v2/p/pools/x/nodepools", [("k", "v w")], headers, PATCH_BODY)
    assert (
        check(sdk_headers, method="POST", path="/v2/p/pools/x/nodepools", query=[("k", "v w")])
        is None
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": b'{"spec": {"resources": {"count": 30}}}'}, "signature does not match"),
        ({"path": "/v2/p/pools/x/nodepools/z"}, "signature does not match"),
        ({"method": "DELETE"}, "signature does not match"),
        ({"query": [("a", "1 3")]}, "signature does not match"),
        ({"query": []}, "signature does not match"),
        (
            {"now": NOW + timedelta(minutes=15, seconds=1)},
            "X-Sdk-Date is outside the allowed clock skew",
        ),
        ({"now": NOW - timedelta(hours=2)}, "X-Sdk-Date is outside the allowed clock skew"),
    ],
)
def test_verify_rejects_tampering_and_stale_dates(change: dict[str, object], reason: str) -> None:
    assert check(signed_request(), **change) == reason  # type: ignore[arg-type]


def test_verify_rejects_a_wrong_secret_key_without_revealing_it() -> None:
    headers = base_headers()
    headers.update(
        sign(
            "PATCH",
            "/v2/p/pools/x/nodepools/y",
            [("a", "1 2")],
            headers,
            PATCH_BODY,
            AK,
            "wrong-secret",
            NOW,
        )
    )
    reason = check(headers)
    assert reason == "signature does not match"
    assert "wrong-secret" not in reason and SK not in reason


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda h: h.pop("Authorization"), "missing Authorization header"),
        (lambda h: h.pop("X-Sdk-Date"), "signed header x-sdk-date is missing"),
        (lambda h: h.pop("X-Project-Id"), "signed header x-project-id is missing"),
        (lambda h: h.update({"X-Project-Id": "other"}), "signature does not match"),
        (lambda h: h.update({"X-Sdk-Date": "2024-05-06 07:08:09"}), "malformed X-Sdk-Date header"),
        (lambda h: h.update({"Authorization": "Bearer abc"}), "malformed Authorization header"),
        (
            lambda h: h.update(
                {"Authorization": h["Authorization"].replace("SDK-HMAC-SHA256", "SDK-HMAC-SM3")}
            ),
            "unsupported signing algorithm",
        ),
        (
            lambda h: h.update({"Authorization": h["Authorization"].replace(AK, "AKOTHER")}),
            "unknown access key",
        ),
        (
            lambda h: h.update({"Authorization": h["Authorization"].replace(";x-sdk-date", "")}),
            "header x-sdk-date is not signed",
        ),
        (
            lambda h: h.update({"Authorization": h["Authorization"].replace(";host", "")}),
            "header host is not signed",
        ),
    ],
)
def test_verify_rejects_missing_or_malformed_headers(edit: object, reason: str) -> None:
    headers = signed_request()
    edit(headers)  # type: ignore[operator]
    assert check(headers) == reason


def test_verify_checks_a_declared_content_hash_against_the_body() -> None:
    headers = base_headers("text/plain")
    headers["X-Sdk-Content-Sha256"] = "0" * 64
    headers.update(
        sign("PATCH", "/v2/p/pools/x/nodepools/y", [("a", "1 2")], headers, PATCH_BODY, AK, SK, NOW)
    )
    # text/plain → the signer overrides the declared hash with UNSIGNED-PAYLOAD
    assert headers["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    assert check(headers) is None
    headers["X-Sdk-Content-Sha256"] = "0" * 64
    assert check(headers) == "body does not match X-Sdk-Content-Sha256"
