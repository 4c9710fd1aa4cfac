"""How the rest of np uses state: read it, or hold the lock and record changes durably.

    manager = StateManager(backend)
    state = manager.load()        # read-only: the checkpoint with its journal, one snapshot
    with manager.locked("apply", timeout=0.0) as session:   # kept fresh while held
        state = session.state                               # a leftover journal folded first
        session.prove()                                     # still ours? (before sending)
        await session.commit({"nodepool.a": resource})      # durable when it returns
    # leaving the block checkpoints what was recorded, then releases the lock

A change is one journal record; ``serial`` counts them, so the state a reader replays and the
checkpoint a lock holder writes from the same records always have the same serial.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from types import TracebackType

from reconciler.errors import LockError, NpError, StateError, shown
from reconciler.identifiers import DEFAULT_PROVIDER
from reconciler.state.document import Identity, ResourceState, State
from reconciler.state.locking import Keeper, Notice, holder_info
from reconciler.state.protocols import (
    DEFAULT_WORKSPACE,
    Backend,
    JournalRecord,
    JournalStore,
    LockHeldError,
    LockInfo,
    StateStore,
    Stored,
    Version,
)
from reconciler.suggest import command


def _quiet(_text: str) -> None:
    """The default notice: say nothing."""


CHECKPOINT_RECORDS = 1000
"""Fold the journal into the state after this many records ..."""
CHECKPOINT_SECONDS = 5.0
"""... or this long after the last checkpoint, whichever comes first (and at the end) ..."""
CHECKPOINT_SHARE = 10
"""... but only once a tenth of the state's size has been recorded since: a checkpoint rewrites
the whole state, so spread over that many changes it costs O(1) per change, whatever the
size of the state and however slowly the changes come."""
WAIT_NOTICE_SECONDS = 10.0
"""While waiting for a lock (``--lock-timeout``), say so again this often."""


@dataclass(frozen=True)
class Replayed:
    """A checkpoint with the journal records that extend it applied."""

    state: State
    base: Version
    """The checkpoint's version: what the next compare-and-swap write expects."""
    records: int
    """How many records were replayed (``state.serial - base.serial``)."""
    leftover: bool
    """The journal held records, replayed or already folded: a lock holder folds it away."""


def fold(resources: dict[str, ResourceState], records: Iterable[JournalRecord]) -> int:
    """Apply ``records`` to ``resources`` in place, in order (None forgets an address); return
    how many were applied. The one place a journal becomes state: replay and the lock holder's
    session both fold through it."""
    applied = 0
    for record in records:
        if record.resource is None:
            resources.pop(record.address, None)
        else:
            resources[record.address] = record.resource
        applied += 1
    return applied


def replay(stored: Stored, records: list[JournalRecord], store: str, journal: str) -> Replayed:
    """Apply the journal to the checkpoint: records of the checkpoint's lineage whose base
    serial is not below its serial, in order. Older ones were folded already (a crash between
    a checkpoint and the journal's clear leaves them); a journal on top of a state that is gone
    is an error naming both, never a fresh start that forgets what np manages."""
    base = stored.state
    if base is None:
        later = [r for r in records if r.base_serial > 0]
        if later:
            raise StateError(
                f"{store} is missing, but its journal {journal} holds {len(later)} change(s) "
                f"recorded on top of serial {later[0].base_serial}: restore the state (from its "
                f"backup, version control or `np state push FILE`), or delete {journal} to "
                "start from an empty state"
            )
        base = State(records[0].lineage, 0, {}) if records else State.new()
    resources = dict(base.resources)
    lineage, serial = base.lineage, base.serial
    applied = fold(
        resources, (r for r in records if r.lineage == lineage and r.base_serial >= serial)
    )
    state = replace(base, serial=base.serial + applied, resources=resources)
    return Replayed(state, stored.version, applied, bool(records))


def check_identity(
    state: State, identity: Identity, where: str, provider: str = DEFAULT_PROVIDER
) -> str | None:
    """Refuse a state written for another project of ``provider``; a warning (returned) for
    another endpoint. A provider the state records no identity for (older np, a new region)
    is adopted as it is."""
    recorded = state.identity_of(provider)
    if recorded is None:
        return None
    whose = "" if provider == DEFAULT_PROVIDER else f" {provider}"
    if recorded.project_id != identity.project_id:
        raise StateError(
            f"{where} was written for project {recorded.project_id}; this configuration uses "
            f"project {identity.project_id}" + (f" for provider{whose}" if whose else "")
        )
    if recorded.endpoint != identity.endpoint:
        return (
            f"Warning: {where} was written for{whose} endpoint {recorded.endpoint}; this "
            f"configuration uses {identity.endpoint} (the same project "
            f"{identity.project_id}, so np goes on and records the new endpoint on its next "
            "write)"
        )
    return None


class StateManager:
    """One workspace's state, through its backend; the only door to state for np."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    @property
    def workspace(self) -> str:
        return self._backend.workspace

    def describe(self) -> str:
        return self._backend.store.describe()

    def restore_hint(self) -> str | None:
        """How to bring back the state before the last run's write (None: no backup kept)."""
        return self._backend.store.restore_hint()

    def load(self) -> State:
        """Read-only: the state as the next lock holder will see it; nothing is written."""
        return self._read().state

    def _read(self) -> Replayed:
        stored, records = self._backend.snapshot()
        store, journal = self._backend.store, self._backend.journal
        return replay(stored, records, store.describe(), journal.describe())

    @contextmanager
    def locked(
        self,
        operation: str,
        timeout: float = 0.0,
        notice: Notice = _quiet,
        waiting: Notice = _quiet,
    ) -> Iterator[Session]:
        """Hold the lock for ``operation``, kept fresh (and proven) for as long as it is held;
        yield a session on the state (leftover journal folded first). Leaving checkpoints
        what the session recorded, then unlocks. ``notice`` hears of a lock lost meanwhile,
        ``waiting`` what the lock waits for (``--lock-timeout``), when it starts and then
        every ``WAIT_NOTICE_SECONDS``."""
        with self._lock(operation, timeout, notice, waiting) as keeper:
            session = Session(self._backend, self._read(), keeper)
            session.fold()
            try:
                yield session
            except BaseException:
                with suppress(StateError):  # the journal has it all; the next run folds it
                    session.checkpoint()
                raise
            session.checkpoint()

    def push(
        self, pushed: State, *, force: bool, timeout: float = 0.0, force_option: str = "--force"
    ) -> State | None:
        """Make ``pushed`` the stored state; return it as written (None: it is stored already).

        Refused when the stored state has another lineage or a higher serial, unless ``force``
        (the option that sets it is ``force_option``, for the message).
        The serial written is above every serial stored or journaled, so it never goes back and
        the journal (of the state replaced) is dropped whole. This also restores a state that
        went missing beside its journal.
        """
        store, journal = self._backend.store, self._backend.journal
        with self._lock("state push", timeout, _quiet):
            stored = store.read()
            records = journal.read()
            current = None
            if stored.state is not None:
                current = replay(stored, records, store.describe(), journal.describe()).state
            if current is not None and not force:
                _check_push(current, pushed, store.describe(), force_option)
            if current is not None and same_content(current, pushed):
                return None
            floor = max(
                [0 if current is None else current.serial] + [r.base_serial for r in records]
            )
            written = replace(pushed, serial=max(pushed.serial, floor + 1))
            journal.clear(store.write(written, stored.version))
            return written

    def workspaces(self) -> list[str]:
        """The backend's workspaces that hold a state or a journal, sorted."""
        return self._backend.workspaces.list()

    def lock_holder(self) -> LockInfo | None:
        return self._backend.locker.read()

    def force_unlock(
        self, lock_id: str, confirm: Callable[[LockInfo], bool] | None = None
    ) -> LockInfo | None:
        """Remove the lock ``lock_id`` after ``confirm`` (None: no question); None if declined.

        The one check of the id for every backend: no lock, or another id, is an error saying
        what is held instead, and nothing is removed (nor asked)."""
        locker, where = self._backend.locker, self._backend.locker.describe()
        held = locker.read()
        if held is None:
            raise LockError(f"no lock is held on {where}; nothing to unlock")
        if held.id != lock_id:
            raise LockError(
                f"lock ID {lock_id} does not match the lock held on {where}; nothing removed\n"
                + held.describe()
            )
        if confirm is not None and not confirm(held):
            return None
        if not locker.remove(held):
            raise LockError(f"{where}: the lock changed while removing it; nothing removed")
        return held

    def _acquire(self, operation: str, timeout: float, waiting: Notice) -> None:
        """Take the lock, waiting up to ``timeout``; a wait says whose lock it waits for, at
        once and then every ``WAIT_NOTICE_SECONDS`` (a silent minute looks like a hang). A
        stale lock (its holder gone) is never released, so it ends the wait at once."""
        locker, info = self._backend.locker, holder_info(operation)
        deadline = time.monotonic() + timeout
        wait = 0.0  # the first attempt takes a free lock at once
        while True:
            try:
                locker.acquire(info, wait)
                return
            except LockHeldError as exc:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise
                if exc.stale is not None:
                    waiting(
                        "Not waiting for the state lock: its holder is gone, so nothing "
                        "will release it."
                    )
                    raise
                held = f"held by {_holder(exc.holder)}"
                waiting(
                    f"Acquiring the state lock ({held})..."
                    if wait == 0
                    else f"Still waiting for the state lock ({held}; {left:.0f}s left of "
                    "--lock-timeout)..."
                )
                wait = min(WAIT_NOTICE_SECONDS, left)

    @contextmanager
    def _lock(
        self, operation: str, timeout: float, notice: Notice, waiting: Notice = _quiet
    ) -> Iterator[Keeper]:
        locker = self._backend.locker
        try:
            self._acquire(operation, timeout, waiting)
        except LockHeldError as exc:
            if self.workspace == DEFAULT_WORKSPACE:
                raise
            unlock = command("force-unlock", shown(exc.holder.id), workspace=self.workspace)
            raise LockHeldError(exc.holder, exc.where, exc.stale, unlock) from None
        keeper = Keeper(locker, notice)
        keeper.start()
        try:
            yield keeper
        except BaseException as failure:
            keeper.stop()
            try:
                locker.release()
            except NpError as problem:  # the first failure is the one to show; this one after
                if isinstance(failure, NpError):
                    failure.also(f"the state lock was not released: {problem}")
            raise
        keeper.stop()
        locker.release()

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> StateManager:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _holder(info: LockInfo) -> str:
    """Who holds a lock, in a few words: ``alice@ci-7, apply, since 2026-…``."""
    if info.corrupt:
        return "an unreadable lock"
    who = f"{shown(info.user)}@{shown(info.host)}, {shown(info.operation)}"
    return f"{who}, since {shown(info.created)}"


def _check_push(current: State, pushed: State, where: str, force_option: str) -> None:
    if current.lineage != pushed.lineage:
        raise StateError(
            f"{where}: refusing to replace state of lineage {current.lineage} with a state of "
            f"lineage {pushed.lineage} (it is another state; {force_option} replaces it anyway)"
        )
    if current.serial > pushed.serial:
        raise StateError(
            f"{where}: refusing to replace state serial {current.serial} with the older serial "
            f"{pushed.serial} ({force_option} replaces it anyway)"
        )


def same_content(a: State, b: State) -> bool:
    """The same state, whatever the serial: lineage, resources and identities."""
    return (a.lineage, a.resources, a.identity, a.providers) == (
        b.lineage,
        b.resources,
        b.identity,
        b.providers,
    )


class Session:
    """The lock holder's state: changes are staged, appended to the journal in batches (each
    durable when ``flush``/``commit`` returns) and folded into a checkpoint now and then.

    ``stage`` may be called from the event loop while ``flush`` runs in a worker thread.
    """

    def __init__(self, backend: Backend, replayed: Replayed, keeper: Keeper) -> None:
        self.workspace = backend.workspace
        self._keeper = keeper
        self._workspaces = backend.workspaces
        self._store: StateStore = backend.store
        self._journal: JournalStore = backend.journal
        state = replayed.state
        self._lineage = state.lineage
        self._serial = state.serial
        self._identity = state.identity
        self._providers = dict(state.providers)
        self._resources = dict(state.resources)
        self._base = replayed.base
        self._leftover = replayed.leftover
        self._since_checkpoint = replayed.records
        self._checkpointed_at = time.monotonic()
        self._pending: list[tuple[str, ResourceState | None]] = []
        self._mutex = threading.Lock()
        """Guards ``_pending`` (staged on the event loop, taken by the flushing thread)."""
        self._writing = threading.Lock()
        """One writer at a time: appends and checkpoints never interleave."""
        self._broken: NpError | None = None
        self._group: asyncio.Lock | None = None
        self._staged = 0
        self._durable = 0
        self.recorded = 0
        """Changes this session made durable (the summary of a run that had to stop)."""

    def describe(self) -> str:
        return self._store.describe()

    def prove(self) -> None:
        """Before sending: LockLostError once this run does not hold the lock any more (the
        store is asked; requests starting together share one answer)."""
        self._keeper.prove()

    @property
    def lock_lost(self) -> bool:
        return self._keeper.lost is not None

    def delete_workspace(self) -> None:
        """Remove this workspace's state and journal (the caller checked that it may go)."""
        self._workspaces.delete(self.workspace)

    @property
    def state(self) -> State:
        """What is recorded so far (staged changes not yet flushed are not in it)."""
        with self._writing:
            return self._snapshot()

    def adopt_identity(self, identity: Identity, provider: str = DEFAULT_PROVIDER) -> None:
        """Record ``identity`` as ``provider``'s with the next write (a state is never written
        for it alone)."""
        with self._writing:
            if provider == DEFAULT_PROVIDER:
                self._identity = identity
            else:
                self._providers[provider] = identity

    def stage(self, changes: Mapping[str, ResourceState | None]) -> None:
        """Set each address (None: forget it); the whole mapping lands in one batch."""
        with self._mutex:
            self._pending.extend(changes.items())

    def flush(self) -> None:
        """Make everything staged so far durable: one journal append (nothing if no change)."""
        with self._writing:
            self._flush()
            since = self._since_checkpoint
            if since and since >= len(self._resources) // CHECKPOINT_SHARE:
                late = time.monotonic() - self._checkpointed_at >= CHECKPOINT_SECONDS
                if late or since >= CHECKPOINT_RECORDS:
                    self._checkpoint()

    def _flush(self) -> None:
        if self._broken is not None:
            raise self._broken
        with self._mutex:
            batch, self._pending = self._pending, []
        records = self._effective(batch)
        try:
            if records:
                self._journal.append(records)
        except NpError as exc:
            self._broken = exc  # what was staged is lost: never claim it durable later
            raise
        applied = fold(self._resources, records)
        self._serial += applied
        self._since_checkpoint += applied
        self.recorded += applied

    def record(self, changes: Mapping[str, ResourceState | None]) -> None:
        """Stage and flush: ``changes`` are durable when this returns."""
        self.stage(changes)
        self.flush()

    async def commit(self, changes: Mapping[str, ResourceState | None]) -> None:
        """``record`` for concurrent callers on an event loop (apply's group commit): changes
        that land while a flush is under way share the next one, so a steady stream of
        successes costs far fewer appends than changes. Durable when the await returns."""
        self.stage(changes)
        self._staged += 1
        mine = self._staged
        if self._group is None:
            self._group = asyncio.Lock()
        async with self._group:
            if self._durable >= mine:
                return
            upto = self._staged
            await asyncio.to_thread(self.flush)
            self._durable = upto

    def checkpoint(self) -> None:
        """Fold the journal into the state now (nothing to do if nothing was recorded). After a
        failed append it folds what was recorded before: staged changes it lost were never
        reported durable."""
        with self._writing:
            if self._broken is None:
                self._flush()
            self._checkpoint()

    def fold(self) -> None:
        """Fold a journal left by an earlier run, so that plans and saved-plan checks see the
        serial of a checkpointed state."""
        if not self._leftover:
            return
        with self._writing:
            if self._serial == self._base.serial:
                self._journal.clear(self._base)  # only records folded already
            else:
                self._checkpoint()

    def _effective(self, batch: list[tuple[str, ResourceState | None]]) -> list[JournalRecord]:
        """The records a batch needs: a change that leaves an address as it is is dropped."""
        after: dict[str, ResourceState | None] = {}
        records = []
        for address, resource in batch:
            current = after[address] if address in after else self._resources.get(address)
            if current == resource:
                continue
            after[address] = resource
            records.append(JournalRecord(self._lineage, self._base.serial, address, resource))
        return records

    def _snapshot(self) -> State:
        return State(
            self._lineage,
            self._serial,
            dict(self._resources),
            self._identity,
            dict(self._providers),
        )

    def _checkpoint(self) -> None:
        if self._serial == self._base.serial:
            return
        self._base = self._store.write(self._snapshot(), self._base)
        self._journal.clear(self._base)
        self._since_checkpoint = 0
        self._checkpointed_at = time.monotonic()
