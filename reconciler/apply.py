"""Executing a plan: bounded concurrency, a journal entry per success, convergence waits.

    outcomes = await apply_plan(plan, client, session, parallelism=10, wait=WaitPolicy(600))
    failed = [o for o in outcomes if not o.ok]

Each node pool is read again just before its request: a body is never built from a snapshot
older than that read. If the node pool moved since the plan, the request is rebuilt from the
fresh read when the reviewed change still applies unchanged (``rebuild``), else refused.

Each node pool is recorded in the state's journal as soon as its request succeeds, so a failure
or a crash half way keeps what was done and a rerun continues from there. If state cannot be
recorded, nothing new is started: a change np cannot remember must not be followed by more.
A request's concurrency slot is held until its change is recorded, so at most ``parallelism``
changes are ever sent and not yet recorded, however slow recording becomes.

Before each request the run proves it still holds the state lock (one round trip covers a
burst of requests); once it does not, it sends nothing more and says how much was recorded.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.api.failures import NotFoundError
from reconciler.errors import LockError, NpError, StateError
from reconciler.model import FAILED_POOL_PHASES, check_nodepool, pool_phase, status_counts
from reconciler.plan.changes import Plan, ResourceChange, fingerprint
from reconciler.state.document import ResourceState, utc_now
from reconciler.state.manager import Session

if TYPE_CHECKING:
    from reconciler.api.client import ModelArtsClient


@dataclass(frozen=True, slots=True)
class Outcome:
    address: str
    action: str
    error: str | None = None
    started: bool = True
    """False when an interrupt came first: nothing was sent for this address."""
    applied: bool = False
    """True once the change landed and is in state, even if waiting for it failed later."""
    lock_lost: bool = False
    """Not started because the run no longer held the state lock (``error`` says why)."""

    @property
    def ok(self) -> bool:
        return self.error is None


Rebuild = Callable[[ResourceChange, dict[str, Any]], "ResourceChange | None"]
"""Plan one node pool again against a fresh read of it (None: it no longer plans)."""


class Progress(Protocol):
    """Where apply reports what it does (``reconciler.render.progress.WaitProgress``)."""

    def line(self, text: str) -> None: ...

    def update(
        self, address: str, available: int, creating: int, deleting: int, want: int
    ) -> None: ...

    def done(self, address: str, want: int) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class WaitPolicy:
    """How long to wait for count changes to converge; ``timeout`` 0 means do not wait."""

    timeout: float
    first_delay: float = 0.5
    max_delay: float = 10.0


def encode_body(body: dict[str, Any]) -> bytes:
    """The exact bytes sent; the plan's ``patch`` is this document."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


async def apply_plan(
    plan: Plan,
    client: ModelArtsClient,
    session: Session,
    *,
    parallelism: int,
    wait: WaitPolicy,
    progress: Progress,
    stop: asyncio.Event | None = None,
    rebuild: Rebuild | None = None,
) -> list[Outcome]:
    """Apply every change; once ``stop`` is set, start nothing new and let in-flight finish.

    Without ``rebuild`` (a saved plan) a node pool that moved since the plan is refused."""
    gate = asyncio.Semaphore(max(1, parallelism))
    stop = stop or asyncio.Event()
    lost: list[LockError] = []

    async def record(change: ResourceChange, live: dict[str, Any] | None) -> None:
        """Durable when it returns (group-committed with the successes that land with it)."""
        try:
            await session.commit(_records(change, live))
        except StateError:
            stop.set()
            await prove()  # a store that went away may have taken the lock with it: say so
            raise

    async def prove() -> None:
        """Still our lock? Once it is not, nothing new starts anywhere."""
        try:
            await asyncio.to_thread(session.prove)
        except LockError as exc:
            if not lost:
                lost.append(exc)
            stop.set()

    async def one(change: ResourceChange) -> Outcome:
        applied = False
        try:
            async with gate:
                if not stop.is_set():
                    await prove()
                if change.sends_request and not stop.is_set():
                    change = await _reviewed(change, client, rebuild)
                if stop.is_set():  # also after the read: its change was not started yet
                    if lost:
                        return Outcome(
                            change.address, change.action, str(lost[0]), False, lock_lost=True
                        )
                    return Outcome(
                        change.address, change.action, "not started (interrupted)", False
                    )
                live = await _send(change, client)
                await record(change, live)  # in the slot: sent and unrecorded stay bounded
            applied = True
            if change.sends_request:
                progress.line(f"{change.address}: {_DONE[change.action]}")
            if wait.timeout > 0 and change.action in ("create", "update") and _scales(change):
                await wait_until_converged(client, change, wait, progress, stop)
        except NpError as exc:
            return Outcome(change.address, change.action, str(exc), applied=applied)
        return Outcome(change.address, change.action, applied=True)

    return list(await asyncio.gather(*(one(change) for change in plan.touched)))


@contextmanager
def interrupt_stops(notice: Callable[[str], None]) -> Iterator[asyncio.Event]:
    """The first Ctrl-C (or SIGTERM, as a cancelled CI job sends) sets the event apply watches:
    start nothing new, finish and journal what is in flight, release the lock. The second one
    interrupts at once (state keeps what was recorded)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in signals}

    def first() -> None:
        notice(
            "\nInterrupt received: finishing the requests in flight, starting no new ones. "
            "Press Ctrl-C again to abort at once (state keeps what is done)."
        )
        stop.set()
        restore()

    def restore() -> None:
        """Back to the handlers np had (asyncio would leave SIGTERM at its default: death
        without releasing the lock)."""
        for signum in signals:
            loop.remove_signal_handler(signum)
            if previous[signum] is not None:
                signal.signal(signum, previous[signum])

    for signum in signals:
        loop.add_signal_handler(signum, first)
    try:
        yield stop
    finally:
        restore()


_DONE = {"create": "created", "update": "updated", "delete": "destroyed", "no-op": "recorded"}
_STALE = "changed since the plan was shown; run np plan again"


async def _reviewed(
    change: ResourceChange, client: ModelArtsClient, rebuild: Rebuild | None
) -> ResourceChange:
    """The change to send now, checked against a fresh read of its node pool."""
    try:
        raw = await client.get_nodepool(change.pool, change.name)
        fresh: dict[str, Any] | None = check_nodepool(raw, f"{change.pool}/{change.name}")
    except NotFoundError:
        fresh = None
    if change.action == "create":
        if fresh is not None:
            raise NpError(f"node pool {change.pool}/{change.name} was created outside np; {_STALE}")
        return change
    if fresh is None:
        if change.action == "delete":  # gone already: state forgets it, nothing is sent
            return ResourceChange(
                change.address, change.pool, change.name, "no-op", provider=change.provider
            )
        raise NpError(f"node pool {change.pool}/{change.name} no longer exists; {_STALE}")
    if fingerprint(fresh) == fingerprint(change.before):
        return change
    if rebuild is not None and change.action == "update":
        again = rebuild(change, fresh)
        if again is not None and change.same_changes(again):
            return again
    raise NpError(_STALE)


async def _send(change: ResourceChange, client: ModelArtsClient) -> dict[str, Any] | None:
    """Send the one request of a change; return the live spec it reports (None if gone)."""
    if change.action == "update":
        assert change.body is not None
        raw = await client.patch_nodepool(change.pool, change.name, encode_body(change.body))
        return _resources_of(raw, change.after)
    if change.action == "create":
        assert change.body is not None
        raw = await client.create_nodepool(change.pool, encode_body(change.body))
        return _resources_of(raw, change.after)
    if change.action == "delete":
        await client.delete_nodepool(change.pool, change.name)
        return None
    return change.before


def _resources_of(raw: Any, fallback: dict[str, Any] | None) -> dict[str, Any] | None:
    try:
        resources = raw["spec"]["resources"]
    except (KeyError, TypeError):
        return fallback
    return resources if isinstance(resources, dict) else fallback


def _records(
    change: ResourceChange, live: dict[str, Any] | None
) -> dict[str, ResourceState | None]:
    """What state records after ``change`` succeeded, in one atomic step: the address (None
    drops it) and, for a move, the old address dropped."""
    resource = None
    if change.applied is not None:
        resource = ResourceState(
            pool=change.pool,
            name=change.name,
            applied=change.applied,
            live=live or {},
            updated_at=utc_now(),
            prevent_destroy=change.prevent_destroy,
            provider=change.provider,
        )
    records: dict[str, ResourceState | None] = {change.address: resource}
    if change.moved_from is not None:
        records[change.moved_from] = None
    return records


def _scales(change: ResourceChange) -> bool:
    before = change.before or {}
    after = change.after or {}
    return change.action == "create" or before.get("count") != after.get("count")


async def wait_until_converged(
    client: ModelArtsClient,
    change: ResourceChange,
    policy: WaitPolicy,
    progress: Progress,
    stop: asyncio.Event,
) -> None:
    """Poll until ``available`` equals the desired count and nothing is creating or deleting."""
    want = int((change.after or {}).get("count") or 0)
    deadline = time.monotonic() + policy.timeout
    delay = policy.first_delay
    while True:
        raw = await client.get_nodepool(change.pool, change.name)
        counts = status_counts(raw)
        if counts["abnormal"]:
            raise NpError(
                f"{counts['abnormal']} abnormal node(s) in node pool {change.pool}/{change.name} "
                "while scaling; check the pool in the ModelArts console"
            )
        if counts["available"] == want and not counts["creating"] and not counts["deleting"]:
            progress.done(change.address, want)
            return
        progress.update(
            change.address, counts["available"], counts["creating"], counts["deleting"], want
        )
        phase = pool_phase(await client.get_pool(change.pool))
        if phase in FAILED_POOL_PHASES:
            raise NpError(
                f"pool {change.pool} is {phase} while node pool {change.name} scales; "
                "check the pool in the ModelArts console"
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NpError(
                f"timed out after {policy.timeout:g}s waiting for node pool "
                f"{change.pool}/{change.name} to reach {want} available node(s) "
                f"(last seen: {counts['available']} available, {counts['creating']} creating, "
                f"{counts['deleting']} deleting); the change was applied and recorded in state"
            )
        if stop.is_set():
            raise NpError("interrupted while waiting for convergence; the change was recorded")
        await asyncio.sleep(min(delay, remaining))  # one last look at the deadline itself
        delay = min(policy.max_delay, delay * 1.5)


@dataclass(frozen=True, slots=True)
class Summary:
    """How an apply ended, in words: ``problems`` for stderr, ``verdict`` for stdout."""

    problems: tuple[str, ...]
    verdict: str
    ok: bool


def summarise(outcomes: list[Outcome]) -> Summary:
    """Each node pool counted once: a change that landed but did not converge is one changed
    node pool that did not converge, not one changed and one failed."""
    skipped = [o for o in outcomes if not o.started]
    applied = [o for o in outcomes if o.applied]
    unconverged = [o for o in applied if not o.ok]
    failed = [o for o in outcomes if o.started and not o.ok and not o.applied]
    problems: list[str] = []
    lock = next((o for o in skipped if o.lock_lost), None)
    if lock is not None:
        problems.append(
            f"Error: {lock.error}; nothing more was sent; {len(applied)} change(s) were recorded "
            f"and {len(skipped)} not started ({_addresses(skipped)}). Run np plan to see where "
            "things stand."
        )
    elif skipped:
        problems.append(
            f"Interrupted: {len(applied)} done, {len(failed)} failed, {len(skipped)} not started "
            f"({', '.join(o.address for o in skipped)}). Run np apply again to continue."
        )
    problems += [f"Error: {o.address}: {o.error}" for o in failed + unconverged]
    counts = {a: sum(1 for o in applied if o.action == a) for a in ("create", "update", "delete")}
    verdict = (
        "Apply failed"
        if failed or unconverged or lock is not None
        else "Apply interrupted"
        if skipped
        else "Apply complete"
    )
    tail = ""
    if unconverged:
        tail += f"; {len(unconverged)} of them did not converge ({_addresses(unconverged)})"
    if failed:
        tail += f"; {len(failed)} failed ({_addresses(failed)})"
    text = (
        f"{verdict}! Resources: {counts['create']} added, {counts['update']} changed, "
        f"{counts['delete']} destroyed{tail}."
    )
    return Summary(tuple(problems), text, not (failed or unconverged or skipped))


def _addresses(outcomes: list[Outcome]) -> str:
    return ", ".join(o.address for o in outcomes)
