"""Injected faults (latency, 429, 500, dropped connections) and the request log, in-process."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.sim import ConnectionDropped, Faults, SimError, World, create_app
from reconciler.sim.faults import TokenBucket

WORLD = {
    "pools": {
        "pool-a": {
            "type": "Logical",
            "nodepools": {"train": {"flavor": "cpu.8u", "count": 1, "maxCount": 1}},
        }
    }
}
URL = "/v2/proj/pools/pool-a/nodepools/train"
PATCH = {"spec": {"resources": {"flavor": "cpu.8u", "count": 2, "maxCount": 2}}}


class FakeTime:
    """A clock and an async sleep that only advances it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def admit(faults: Faults, request: str = "GET /v2/p/pools?") -> bool | SimError:
    try:
        return asyncio.run(faults.admit(request))
    except SimError as exc:
        return exc


def call(app: Any, method: str, url: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
            return await client.request(method, url, **kwargs)

    return asyncio.run(go())


def test_token_bucket_refills_at_rate(fake: FakeTime) -> None:
    bucket = TokenBucket(2, fake)
    assert [bucket.take(), bucket.take(), bucket.take()] == [0.0, 0.0, 0.5]
    fake.now += 0.5
    assert bucket.take() == 0.0
    assert bucket.take() == 0.5


def test_latency_is_slept_before_each_request(fake: FakeTime) -> None:
    faults = Faults(latency_ms=50, clock=fake, sleep=fake.sleep)
    assert admit(faults) is False
    assert admit(faults) is False
    assert fake.slept == [0.05, 0.05]


def test_rate_limit_answers_429_alternating_retry_after(fake: FakeTime) -> None:
    faults = Faults(rate_limit=1, clock=fake, sleep=fake.sleep)
    results = [admit(faults) for _ in range(4)]
    assert results[0] is False
    errors = [r for r in results[1:] if isinstance(r, SimError)]
    assert [(e.status, e.error_code, e.headers) for e in errors] == [
        (429, "APIGW.0308", (("Retry-After", "1"),)),
        (429, "APIGW.0308", ()),
        (429, "APIGW.0308", (("Retry-After", "1"),)),
    ]
    assert errors[0].error_msg == "The throttling threshold has been reached"
    fake.now += 1
    assert admit(faults) is False


def test_fail_rate_is_seeded_and_reproducible() -> None:
    def pattern() -> list[bool]:
        faults = Faults(fail_rate=0.5, seed=42)
        return [isinstance(admit(faults), SimError) for _ in range(40)]

    first = pattern()
    assert first == pattern()
    assert 5 < sum(first) < 35
    assert first != [isinstance(admit(Faults(fail_rate=0.5, seed=43)), SimError) for _ in range(40)]


def test_a_seed_fails_the_same_attempts_of_each_request_however_they_interleave() -> None:
    """Concurrent clients interleave differently on every run; a seed must not care."""
    requests = [f"GET /v2/p/pools/pool-{n}/nodepools/np?" for n in range(8)]

    def outcomes(order: list[str]) -> dict[str, list[bool]]:
        faults = Faults(fail_rate=0.3, drop_rate=0.3, seed=7)
        seen: dict[str, list[bool]] = {request: [] for request in requests}
        for request in order:
            result = admit(faults, request)
            seen[request].append(isinstance(result, SimError) or result is True)
        return seen

    in_turn = outcomes([r for _ in range(5) for r in requests])
    one_by_one = outcomes([r for r in requests for _ in range(5)])
    assert in_turn == one_by_one
    assert len({tuple(attempts) for attempts in in_turn.values()}) > 1


def test_fail_rate_one_always_fails() -> None:
    error = admit(Faults(fail_rate=1))
    assert isinstance(error, SimError)
    assert (error.status, error.error_code, error.error_msg) == (
        500,
        "ModelArts.50005000",
        "internal error (injected by the simulator)",
    )


def test_drop_stalls_then_raises(fake: FakeTime) -> None:
    faults = Faults(drop_rate=1, stall_seconds=3, clock=fake, sleep=fake.sleep)
    assert admit(faults) is True
    with pytest.raises(ConnectionDropped):
        asyncio.run(faults.drop())
    assert fake.slept == [3]


def test_dropped_request_is_processed_but_unanswered(world_path: Path, tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    app = create_app(World.load(world_path), faults=Faults(drop_rate=1), request_log=log)
    with pytest.raises(ConnectionDropped):
        call(app, "PATCH", URL, json=PATCH)
    app.flush()
    saved = json.loads(world_path.read_text())["pools"]["pool-a"]["nodepools"]["train"]
    assert saved["count"] == 2
    entry = json.loads(log.read_text())
    assert (entry["method"], entry["path"], entry["status"]) == ("PATCH", URL, 0)


def test_injected_500_changes_nothing(world_path: Path) -> None:
    before = world_path.read_bytes()
    app = create_app(World.load(world_path), faults=Faults(fail_rate=1))
    response = call(app, "PATCH", URL, json=PATCH)
    assert response.status_code == 500
    assert response.json() == {
        "error_code": "ModelArts.50005000",
        "error_msg": "internal error (injected by the simulator)",
    }
    assert world_path.read_bytes() == before


def test_429_carries_retry_after_and_request_id(world_path: Path) -> None:
    app = create_app(World.load(world_path), faults=Faults(rate_limit=0.01))
    assert call(app, "GET", URL).status_code == 200
    response = call(app, "GET", URL)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "100"
    assert response.json() == {
        "error_code": "APIGW.0308",
        "error_msg": "The throttling threshold has been reached",
        "request_id": response.headers["x-request-id"],
    }


def test_request_log_has_one_json_line_per_request(world_path: Path, tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    app = create_app(World.load(world_path), request_log=log)
    call(app, "GET", "/v2/proj/pools")
    call(app, "PATCH", URL, json=PATCH)
    call(app, "GET", "/v2/proj/pools/nope")
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/v2/proj/pools", 200),
        ("PATCH", URL, 200),
        ("GET", "/v2/proj/pools/nope", 404),
    ]
    assert all(sorted(e) == ["method", "ms", "path", "status"] for e in entries)
    assert all(isinstance(e["ms"], float) and e["ms"] >= 0 for e in entries)
