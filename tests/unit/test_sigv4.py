"""The SigV4 signer must match botocore's S3 signer byte for byte, for every request the s3 state
backend sends and for arbitrary keys, queries and header values."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.state.sigv4 import Credentials, encode_path, sign

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
HOST = "127.0.0.1:9000"
CREDS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
TEMPORARY = Credentials("ASIAEXAMPLE", "secret/with+chars", "session-token-value==")


def botocore_sign(
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    creds: Credentials,
    region: str,
) -> dict[str, str]:
    """Sign with botocore's S3 signer at NOW (payload signed, as on a plain-http endpoint)."""
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = AWSRequest(
        method=method, url=f"http://{HOST}{path}", headers=headers, data=body, params=query
    )
    boto = BotoCredentials(creds.access_key, creds.secret_key, creds.session_token)
    S3SigV4Auth(boto, "s3", region).add_auth(request)
    return {
        k: v for k, v in request.headers.items() if k.lower() not in {h.lower() for h in headers}
    }


def ours(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    creds: Credentials,
    region: str,
) -> dict[str, str]:
    return sign(method, path, query, {"host": HOST, **headers}, body, creds, region, NOW)


def lowered(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


CASES = [
    ("GET", "/np-state/np.state.json", [], {}, b""),
    ("PUT", "/np-state/np.state.json", [], {"If-None-Match": "*"}, b'{"serial": 1}'),
    (
        "PUT",
        "/np-state/np.state.json",
        [],
        {"If-Match": '"0f343b0931126a20f133d67c2b018a3b"', "Content-Type": "application/json"},
        b'{"serial": 2}',
    ),
    ("DELETE", "/np-state/np.state.json.lock", [], {"If-Match": '"abc"'}, b""),
    ("GET", "/np-state", [("list-type", "2"), ("prefix", "env:/"), ("delimiter", "/")], {}, b""),
    ("PUT", "/np-state/" + encode_path("env:/staging/np.state.json"), [], {}, b"{}"),
    (
        "POST",
        "/np-state",
        [("delete", "")],
        {"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="},
        b"<Delete></Delete>",
    ),
]


@pytest.mark.parametrize("creds", [CREDS, TEMPORARY], ids=["static", "session-token"])
@pytest.mark.parametrize(("method", "path", "query", "headers", "body"), CASES)
def test_matches_botocore(
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    creds: Credentials,
) -> None:
    expected = botocore_sign(monkeypatch, method, path, query, headers, body, creds, "cn-north-4")
    assert lowered(ours(method, path, query, headers, body, creds, "cn-north-4")) == lowered(
        expected
    )


def test_signature_changes_with_every_signed_input() -> None:
    base = ("PUT", "/b/k", [("a", "1")], {"If-Match": '"e"'}, b"body", CREDS, "r1")
    reference = ours(*base)["Authorization"]
    variants = [
        ("POST", *base[1:]),
        (base[0], "/b/k2", *base[2:]),
        (*base[:2], [("a", "2")], *base[3:]),
        (*base[:3], {"If-Match": '"f"'}, *base[4:]),
        (*base[:4], b"other", *base[5:]),
        (*base[:5], Credentials("AKIDEXAMPLE", "other-secret"), base[6]),
        (*base[:6], "r2"),
    ]
    for variant in variants:
        assert ours(*variant)["Authorization"] != reference, variant


def test_body_hash_and_date_headers() -> None:
    added = ours("PUT", "/b/k", [], {}, b"hello", TEMPORARY, "r1")
    assert added["x-amz-content-sha256"] == hashlib.sha256(b"hello").hexdigest()
    assert added["x-amz-date"] == "20240506T070809Z"
    assert added["x-amz-security-token"] == "session-token-value=="
    assert "Credential=ASIAEXAMPLE/20240506/r1/s3/aws4_request" in added["Authorization"]
    later = sign("PUT", "/b/k", [], {"host": HOST}, b"hello", TEMPORARY, "r1", NOW + timedelta(1))
    assert later["Authorization"] != added["Authorization"]


def test_credentials_never_show_the_secret() -> None:
    assert "wJalr" not in repr(CREDS)
    assert "wJalr" not in str(CREDS)


KEY_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30
)
HEADER_VALUE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20)


@settings(max_examples=150, deadline=None)
@given(
    key=KEY_TEXT,
    query=st.lists(st.tuples(KEY_TEXT, st.text(max_size=10)), max_size=3),
    meta=st.dictionaries(
        st.from_regex(r"x-amz-meta-[a-z]{1,8}", fullmatch=True), HEADER_VALUE, max_size=3
    ),
    body=st.binary(max_size=64),
)
def test_matches_botocore_for_any_key_query_and_header(
    key: str, query: list[tuple[str, str]], meta: dict[str, str], body: bytes
) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        path = "/bucket/" + encode_path(key)
        expected = botocore_sign(monkeypatch, "PUT", path, query, meta, body, CREDS, "eu-west-1")
    assert lowered(ours("PUT", path, query, meta, body, CREDS, "eu-west-1")) == lowered(expected)
