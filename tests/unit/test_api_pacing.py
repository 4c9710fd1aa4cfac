"""Adaptive pacing: a burst against a rate-limited server is mostly answered, not throttled.

Runs on an event loop with virtual time, so a 10-second simulation takes milliseconds.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from typing import Any

import httpx
import pytest
from support import FakeClock

from reconciler.api import ModelArtsClient, RetryPolicy, build_http_client
from reconciler.api.retry import Pacer


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """Time advances only when every task waits, straight to the next timer."""

    def __init__(self) -> None:
        super().__init__()
        self._virtual_now = 0.0
        select = self._selector.select  # type: ignore[attr-defined]

        def virtual_select(timeout: float | None = None) -> Any:
            events = select(0)
            if not events:
                if timeout is None:
                    raise RuntimeError("deadlock: nothing scheduled and nothing ready")
                self._virtual_now += timeout
            return events

        self._selector.select = virtual_select  # type: ignore[attr-defined]

    def time(self) -> float:
        return self._virtual_now


def run_virtual(coro: Coroutine[Any, Any, Any]) -> Any:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


class RateLimitedServer:
    """A token bucket over all requests (like the simulator's --rate-limit), 20 ms latency."""

    def __init__(self, rps: float, burst: float, retry_after: bool) -> None:
        self.rps, self.burst, self.tokens = rps, burst, burst
        self.retry_after = retry_after
        self.last = 0.0
        self.statuses: list[int] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        now = asyncio.get_running_loop().time()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rps)
        self.last = now
        await asyncio.sleep(0.02)
        if self.tokens < 1:
            self.statuses.append(429)
            throttled = len(self.statuses) % 2 == 0 and self.retry_after
            headers = {"Retry-After": "1"} if throttled else {}
            return httpx.Response(429, json={"error_code": "APIGW.0308"}, headers=headers)
        self.tokens -= 1
        self.statuses.append(200)
        return httpx.Response(200, json={"metadata": {"name": request.url.path}})


@pytest.mark.parametrize(
    ("burst", "retry_after", "within"),
    [(40, True, 7.0), (40, False, 6.0), (1, True, 12.0), (1, False, 10.0)],
)
def test_200_patches_against_40_rps_get_under_ten_percent_429s(
    burst: float, retry_after: bool, within: float
) -> None:
    """burst 40 is the simulator's bucket (one second's worth); burst 1 is a strict limiter."""
    server = RateLimitedServer(40, burst, retry_after)

    async def apply() -> float:
        loop = asyncio.get_running_loop()
        http = build_http_client(
            "http://sim",
            transport=httpx.MockTransport(server),
            auth=None,
            max_connections=10,
            timeout=30.0,
            verbose_log=None,
        )
        policy = RetryPolicy(clock=loop.time, random=random.Random(7).random)
        client = ModelArtsClient(http, "proj", retry=policy)
        gate = asyncio.Semaphore(10)

        async def patch(i: int) -> None:
            async with gate:
                await client.patch_nodepool("pool", f"np{i}", b"{}")

        started = loop.time()
        await asyncio.gather(*(patch(i) for i in range(200)))
        return loop.time() - started

    elapsed = run_virtual(apply())
    assert server.statuses.count(200) == 200
    throttled = server.statuses.count(429)
    assert throttled / len(server.statuses) < 0.10, (throttled, len(server.statuses))
    assert elapsed < within  # 5 s at best: throughput stays near the limit


def test_without_pacing_the_same_burst_is_mostly_throttled() -> None:
    """The control for the test above: plain retries alone would hammer the limiter."""
    server = RateLimitedServer(40, 40, retry_after=False)

    async def hammer() -> None:
        loop = asyncio.get_running_loop()
        http = httpx.AsyncClient(transport=httpx.MockTransport(server), base_url="http://sim")
        gate = asyncio.Semaphore(10)

        async def patch() -> None:
            async with gate:
                while (await http.patch("/x")).status_code == 429:
                    await asyncio.sleep(random.Random(loop.time()).random() * 0.2)

        await asyncio.gather(*(patch() for _ in range(200)))

    run_virtual(hammer())
    assert server.statuses.count(429) / len(server.statuses) > 0.3


def test_unlimited_until_throttled_then_half_the_achieved_rate_once_per_event() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(clock, clock.sleep)

    async def burst(n: int) -> list[float]:
        return [await pacer.acquire() for _ in range(n)]

    sent = asyncio.run(burst(20))
    assert pacer.rate is None and clock.sleeps == []
    for at in sent:  # twenty 429s answer one burst: 20 sends over (at least) 0.25 s, halved
        pacer.on_throttle(at, None)
    assert pacer.rate == 40.0
    asyncio.run(burst(3))
    assert clock.sleeps == pytest.approx([0.025, 0.025, 0.025])
    pacer.on_success()
    assert pacer.rate == pytest.approx(40.2)


def test_retry_after_pauses_every_sender_and_the_rate_has_a_floor() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(clock, clock.sleep)
    pacer.on_throttle(asyncio.run(pacer.acquire()), 3.0)
    assert pacer.rate == 2.0

    async def two() -> list[float]:
        return list(await asyncio.gather(pacer.acquire(), pacer.acquire()))

    assert asyncio.run(two()) == [3.0, 3.5]
    clock.now += 60
    pacer.on_throttle(clock.now, None)
    assert pacer.rate == 1.0


def test_slots_booked_before_a_slowdown_are_rebooked_at_the_new_rate() -> None:
    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        pacer = Pacer(loop.time, asyncio.sleep)
        pacer.on_throttle(await pacer.acquire(), None)  # 1 send in 0.25 s → 2 req/s
        queued = [asyncio.create_task(pacer.acquire()) for _ in range(3)]  # 0.5, 1.0, 1.5
        await asyncio.sleep(0.6)
        pacer.on_throttle(queued[0].result(), None)  # → 1 req/s from 0.6
        return [await task for task in queued]

    assert run_virtual(scenario()) == pytest.approx([0.5, 1.6, 2.6])
