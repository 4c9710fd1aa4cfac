"""Token and AK/SK authentication in the simulator app (signatures made by reconciler.signer)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import FakeClock

from reconciler import signer
from reconciler.sim import AkSkVerifier, TokenVerifier, Verifier, World, create_app

T0 = 1_700_000_000.0
AK, SK = "AKTEST", "sk-very-secret"
WORLD = {
    "pools": {
        "pool a": {
            "type": "Logical",
            "nodepools": {"train": {"flavor": "cpu.8u", "count": 3, "maxCount": 3}},
        }
    }
}
NODES = "/v2/proj/pools/pool%20a/nodepools/train/nodes"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def app_with(tmp_path: Path, auth: Verifier, clock: FakeClock) -> Any:
    path = tmp_path / "world.json"
    path.write_text(json.dumps(WORLD))
    return create_app(World.load(path), verifier=auth, clock=clock)


def send(app: Any, request: httpx.Request) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport) as client:
            return await client.send(request)

    return asyncio.run(go())


def signed(method: str, url: str, body: bytes, sk: str, at: float) -> httpx.Request:
    """A request signed like the SDK does: Host, Content-Type and X-Project-Id are covered."""
    request = httpx.Request(
        method,
        f"http://sim{url}",
        content=body,
        headers={"Content-Type": "application/json", "X-Project-Id": "proj"},
    )
    signed_headers = {k: request.headers[k] for k in ("Host", "Content-Type", "X-Project-Id")}
    extra = signer.sign(
        method,
        request.url.raw_path.split(b"?")[0].decode(),
        request.url.params.multi_items(),
        signed_headers,
        body,
        AK,
        sk,
        datetime.fromtimestamp(at, timezone.utc),
    )
    request.headers.update(extra)
    return request


def test_token_auth(tmp_path: Path, clock: FakeClock) -> None:
    app = app_with(tmp_path, TokenVerifier("tok-123"), clock)
    url = "http://sim/v2/proj/pools"
    assert send(app, httpx.Request("GET", url, headers={"X-Auth-Token": "tok-123"})).is_success
    for headers, reason in [
        ({}, "missing X-Auth-Token header"),
        ({"X-Auth-Token": "tok-124"}, "token is invalid"),
    ]:
        response = send(app, httpx.Request("GET", url, headers=headers))
        assert response.status_code == 401
        assert response.json() == {
            "error_code": "APIGW.0301",
            "error_msg": f"Incorrect IAM authentication information: {reason}",
            "request_id": response.headers["x-request-id"],
        }


def test_aksk_accepts_a_signed_request_with_query_and_encoded_path(
    tmp_path: Path, clock: FakeClock
) -> None:
    app = app_with(tmp_path, AkSkVerifier(AK, SK), clock)
    response = send(app, signed("GET", f"{NODES}?limit=2", b"", SK, T0))
    assert response.status_code == 200
    assert len(response.json()["items"]) == 2


def test_aksk_accepts_a_signed_patch(tmp_path: Path, clock: FakeClock) -> None:
    app = app_with(tmp_path, AkSkVerifier(AK, SK), clock)
    body = json.dumps({"spec": {"resources": {"flavor": "cpu.8u", "count": 1, "maxCount": 1}}})
    url = "/v2/proj/pools/pool%20a/nodepools/train"
    response = send(app, signed("PATCH", url, body.encode(), SK, T0))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("sk", "signed_at", "reason"),
    [
        ("wrong-secret", T0, "signature does not match"),
        (SK, T0 - 16 * 60, "X-Sdk-Date is outside the allowed clock skew"),
        (SK, T0 + 16 * 60, "X-Sdk-Date is outside the allowed clock skew"),
    ],
)
def test_aksk_rejects_bad_signatures(
    tmp_path: Path, clock: FakeClock, sk: str, signed_at: float, reason: str
) -> None:
    app = app_with(tmp_path, AkSkVerifier(AK, SK), clock)
    response = send(app, signed("GET", NODES, b"", sk, signed_at))
    assert response.status_code == 401
    body = response.json()
    assert (body["error_code"], body["error_msg"]) == (
        "APIGW.0301",
        f"Incorrect IAM authentication information: {reason}",
    )
    assert SK not in response.text
    assert "wrong-secret" not in response.text


def test_aksk_tolerates_skew_within_15_minutes(tmp_path: Path, clock: FakeClock) -> None:
    app = app_with(tmp_path, AkSkVerifier(AK, SK), clock)
    clock.now += 14 * 60
    assert send(app, signed("GET", NODES, b"", SK, T0)).status_code == 200


def test_aksk_rejects_unsigned_and_tampered_requests(tmp_path: Path, clock: FakeClock) -> None:
    app = app_with(tmp_path, AkSkVerifier(AK, SK), clock)
    unsigned = send(app, httpx.Request("GET", f"http://sim{NODES}"))
    assert unsigned.json()["error_msg"] == (
        "Incorrect IAM authentication information: missing Authorization header"
    )
    tampered = signed("GET", NODES, b"", SK, T0)
    tampered.url = tampered.url.copy_with(raw_path=b"/v2/proj/pools")
    assert send(app, tampered).json()["error_msg"] == (
        "Incorrect IAM authentication information: signature does not match"
    )
