"""Faults on demand, so clients can be tested against a misbehaving cloud.

faults = Faults(latency_ms=50, rate_limit=40, fail_rate=0.05, drop_rate=0.01, seed=7)
drop = await faults.admit("GET /v2/p/pools")  # sleeps, may raise 429/500; True: lose the answer
if drop:
    await faults.drop()       # raises ConnectionDropped (after an optional stall)
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import NoReturn

from reconciler.sim.world import SimError

THROTTLED = "APIGW.0308"
INTERNAL = "ModelArts.50005000"


class ConnectionDropped(Exception):
    """Raised out of the ASGI app: the server must close the connection without answering.

    Not an OSError on purpose: the app answers 500 to OSErrors (a failed save), never to this.
    """


class TokenBucket:
    """`rate` requests per second on average, bursts of up to one second's worth."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self._rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._clock = clock
        self._last = clock()

    def take(self) -> float:
        """Take a token: 0.0 when one was free, else the seconds until the next one."""
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self._rate


class Faults:
    """Latency, a global rate limit, random 500s and dropped connections, each off by default.

    The n-th admitted attempt of one request (method and target) fails or drops by a draw
    keyed on (seed, request, n), not on a shared sequence: concurrent clients interleave
    differently on every run, and a shared sequence would hand the same seed's failures to
    different requests each time. Keyed, a seed fails the same attempts of the same requests.
    """

    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        rate_limit: float | None = None,
        fail_rate: float = 0.0,
        drop_rate: float = 0.0,
        stall_seconds: float = 0.0,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._latency = latency_ms / 1000
        self._bucket = TokenBucket(rate_limit, clock) if rate_limit else None
        self._fail_rate = fail_rate
        self._drop_rate = drop_rate
        self._stall = stall_seconds
        self._seed = random.getrandbits(64) if seed is None else seed
        self._attempts: Counter[str] = Counter()
        self._sleep = sleep
        self._throttled = 0

    async def admit(self, request: str) -> bool:
        """Delay, throttle or fail one attempt of `request` ("METHOD target"); True means its
        answer is to be dropped. Throttled attempts take no draw."""
        if self._latency:
            await self._sleep(self._latency)
        if self._bucket is not None:
            wait = self._bucket.take()
            if wait:
                raise self._throttle(wait)
        if not (self._fail_rate or self._drop_rate):
            return False
        self._attempts[request] += 1
        draws = random.Random(f"{self._seed}\0{request}\0{self._attempts[request]}")
        if draws.random() < self._fail_rate:
            raise SimError(500, INTERNAL, "internal error (injected by the simulator)")
        return draws.random() < self._drop_rate

    async def drop(self) -> NoReturn:
        """Hang for the configured stall, then abandon the connection."""
        if self._stall:
            await self._sleep(self._stall)
        raise ConnectionDropped("connection dropped (injected by the simulator)")

    def _throttle(self, wait: float) -> SimError:
        """A 429; every other one carries `Retry-After`, since real gateways are not consistent."""
        self._throttled += 1
        headers = (("Retry-After", str(math.ceil(wait))),) if self._throttled % 2 else ()
        return SimError(429, THROTTLED, "The throttling threshold has been reached", headers)
