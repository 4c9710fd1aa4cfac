"""Retries with full-jitter backoff, and adaptive pacing shared by every request of a run.

ModelArts publishes no rate limit, so the `Pacer` discovers it: unlimited until the first 429,
then it halves the observed rate on each throttle (AIMD) and creeps back up on success.
`Retrier` retries 429, 5xx and network failures on idempotent methods; a POST is retried only
when its caller proves (by a GET) that the first attempt did not take effect.
"""

from __future__ import annotations

import asyncio
import math
import random
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from reconciler.api.failures import ApiError, TransportError, error_from_response

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
Send = Callable[[], Awaitable[httpx.Response]]
# Before a POST is resent: the response that proves it already took effect, or None to resend.
Confirm = Callable[[], Awaitable[httpx.Response | None]]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
# Failures where the request may not have reached the server, or may succeed if repeated.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    ConnectionError,
)


def is_retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; `sleep`, `clock` and `random` are injectable for tests."""

    max_attempts: int = 6
    """Attempts that failed (5xx, dropped); a 429 only says "slower" and is bounded by the
    time budget instead, so a throttled run is not failed by throttling alone."""
    base: float = 0.2
    cap: float = 10.0
    budget_seconds: float = 120.0
    sleep: Sleep = field(default=asyncio.sleep, compare=False)
    clock: Clock = field(default=time.monotonic, compare=False)
    random: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Full jitter for the `retry`-th retry (1-based), never shorter than Retry-After."""
        backoff = self.random() * min(self.cap, self.base * 2.0 ** (retry - 1))
        return max(backoff, retry_after or 0.0)


class Pacer:
    """A shared send rate (AIMD): unlimited until the first 429, then half the rate actually
    achieved; each success adds `increase` req/s, so at full pace it grows ~20% a second.

    `None` rate means unlimited. A Retry-After pauses every sender, not only the throttled one.
    """

    WINDOW = 1.0  # seconds of sends from which the achieved rate is measured ...
    MIN_SPAN = 0.25  # ... over at least this long, so that a first burst is not overrated

    def __init__(
        self, clock: Clock, sleep: Sleep, *, min_rate: float = 1.0, increase: float = 0.2
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._min_rate = min_rate
        self._increase = increase
        self._rate: float | None = None
        self._next_slot = -math.inf
        self._paused_until = -math.inf
        self._last_decrease = -math.inf
        self._decreases = 0
        self._sent: deque[float] = deque()

    @property
    def rate(self) -> float | None:
        return self._rate

    async def acquire(self) -> float:
        """Wait for this request's turn; return the send time to hand back to `on_throttle`.

        A slot booked before a slow-down is rebooked at the new rate, so queued requests do
        not keep the old, too fast spacing."""
        while True:
            decreases = self._decreases
            now = self._clock()
            start = self._book(now)
            if start <= now:
                break
            await self._sleep(start - now)
            now = self._clock()
            if decreases == self._decreases and now >= self._paused_until:
                break
        self._sent.append(now)
        self._forget_before(now - self.WINDOW)
        return now

    def _book(self, now: float) -> float:
        start = max(now, self._paused_until)
        if self._rate is not None:
            start = max(start, self._next_slot)
            self._next_slot = start + 1.0 / self._rate
        return start

    def on_success(self) -> None:
        if self._rate is not None:
            self._rate += self._increase

    def on_throttle(self, sent_at: float, retry_after: float | None) -> None:
        """Slow down once per congestion event: answers to requests sent before the last
        decrease describe the old rate and must not halve it again."""
        now = self._clock()
        if retry_after:
            self._paused_until = max(self._paused_until, now + retry_after)
        if sent_at <= self._last_decrease:
            return
        self._forget_before(now - self.WINDOW)
        observed = len(self._sent) / max(now - self._sent[0], self.MIN_SPAN) if self._sent else 0
        current = observed if self._rate is None else min(self._rate, observed)
        self._rate = max(self._min_rate, current / 2)
        self._last_decrease = now
        self._decreases += 1
        self._next_slot = now + 1.0 / self._rate

    def _forget_before(self, moment: float) -> None:
        while self._sent and self._sent[0] < moment:
            self._sent.popleft()


class Retrier:
    """Runs one logical request through pacing and retries; raises ApiError when it fails.

    `host` (host[:port] of the endpoint) names the destination when no answer comes back;
    `secrets` (the credentials' values) never appear in an error made from an answer.
    """

    def __init__(
        self, policy: RetryPolicy, pacer: Pacer, host: str, secrets: tuple[str, ...] = ()
    ) -> None:
        self._policy = policy
        self._pacer = pacer
        self._host = host
        self._secrets = secrets

    async def run(
        self, method: str, path: str, send: Send, *, confirm: Confirm | None = None
    ) -> httpx.Response:
        """Return the first 2xx response; `confirm` gates every resend of a non-idempotent
        method (without it such a request is never resent).

        A 3xx is a failure, never retried: np does not follow redirects, so the request was not
        done where np sent it, and counting it a success would record a change never made."""
        policy = self._policy
        deadline = policy.clock() + policy.budget_seconds
        attempt = failed = 0
        while True:
            attempt += 1
            sent_at = await self._pacer.acquire()
            retry_after: float | None = None
            throttled = False
            failure: ApiError
            try:
                response = await send()
            except TRANSIENT_ERRORS as exc:
                failure = TransportError(
                    method=method,
                    path=path,
                    host=self._host,
                    error_msg=_describe(exc, self._host),
                    attempts=attempt,
                )
                if _tls_failure(exc):  # a wrong certificate does not fix itself: do not retry
                    raise failure from None
            else:
                if response.is_success:
                    self._pacer.on_success()
                    return response
                failure = error_from_response(response, attempts=attempt, secrets=self._secrets)
                if not is_retryable_status(response.status_code):
                    raise failure
                retry_after = _retry_after(response)
                if response.status_code == 429:
                    self._pacer.on_throttle(sent_at, retry_after)
                    throttled = True
            failed += not throttled
            if failed >= policy.max_attempts or (
                method not in IDEMPOTENT_METHODS and confirm is None
            ):
                raise failure
            delay = policy.delay(attempt, retry_after)
            if policy.clock() + delay > deadline:
                raise failure.out_of_budget(policy.budget_seconds)
            await policy.sleep(delay)
            if method not in IDEMPOTENT_METHODS and confirm is not None:
                done = await confirm()
                if done is not None:
                    return done


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds; the HTTP-date form is ignored (the backoff still applies)."""
    value = response.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _describe(exc: BaseException, host: str) -> str:
    if _tls_failure(exc):
        return f"TLS verification of {host} failed ({exc}); np always verifies certificates"
    if isinstance(exc, httpx.TimeoutException):
        what = f"request to {host} timed out"
    else:
        what = f"connection to {host} failed"
    detail = str(exc).strip()
    kind = type(exc).__name__
    return f"{what} ({kind}: {detail})" if detail else f"{what} ({kind})"
