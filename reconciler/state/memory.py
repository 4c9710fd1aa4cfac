"""The memory backend: state, journal and lock held in this process, shared by every backend
opened on the same ``name``, the way processes share a database or a bucket.

    backend = open_backend({"name": "t1"}, workspace="default", environ={}, where="memory")

It keeps the backend contract exactly (compare-and-swap, ordered journal, one lock holder), so
the conformance suite runs against it in milliseconds, and tests of the layers above can use a
real backend without files or servers. Nothing survives the process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.errors import StateError
from reconciler.state.document import State
from reconciler.state.locking import holder_gone
from reconciler.state.protocols import (
    DEFAULT_WORKSPACE,
    NOTHING_STORED,
    Backend,
    JournalRecord,
    LockHeldError,
    LockInfo,
    LockLostError,
    StateConflict,
    Stored,
    Version,
)

_POLL = 0.01


@dataclass
class _Space:
    """One workspace: what a real backend would keep in its store."""

    state: State | None = None
    journal: list[JournalRecord] = field(default_factory=list)
    lock: LockInfo | None = None


@dataclass
class Storage:
    """Everything behind one ``name``; one mutex serialises every operation on it."""

    spaces: dict[str, _Space] = field(default_factory=dict)
    mutex: threading.Lock = field(default_factory=threading.Lock)

    def space(self, workspace: str) -> _Space:
        return self.spaces.setdefault(workspace, _Space())


_STORAGES: dict[str, Storage] = {}
_REGISTRY = threading.Lock()


def storage(name: str) -> Storage:
    with _REGISTRY:
        return _STORAGES.setdefault(name, Storage())


class MemoryStore:
    def __init__(self, storage: Storage, workspace: str) -> None:
        self._storage = storage
        self._workspace = workspace

    def describe(self) -> str:
        return f"memory state {self._workspace}"

    def restore_hint(self) -> str | None:
        return None

    def read(self) -> Stored:
        with self._storage.mutex:
            return self._read()

    def _read(self) -> Stored:
        state = self._storage.space(self._workspace).state
        if state is None:
            return Stored(None, NOTHING_STORED)
        return Stored(state, Version(state.lineage, state.serial))

    def write(self, state: State, expected: Version) -> Version:
        with self._storage.mutex:
            current = self._read().version
            if (current.lineage, current.serial) != (expected.lineage, expected.serial):
                raise StateConflict(
                    f"{self.describe()}: the state changed since this run read it: another run "
                    "wrote it first"
                )
            self._storage.space(self._workspace).state = state
            return Version(state.lineage, state.serial)


class MemoryJournal:
    def __init__(self, storage: Storage, workspace: str) -> None:
        self._storage = storage
        self._workspace = workspace

    def describe(self) -> str:
        return f"memory journal {self._workspace}"

    def append(self, records: Sequence[JournalRecord]) -> None:
        with self._storage.mutex:
            self._storage.space(self._workspace).journal.extend(records)

    def read(self) -> list[JournalRecord]:
        with self._storage.mutex:
            return list(self._storage.space(self._workspace).journal)

    def clear(self, upto: Version) -> None:
        with self._storage.mutex:
            space = self._storage.space(self._workspace)
            space.journal = [
                r
                for r in space.journal
                if r.lineage == upto.lineage and r.base_serial >= upto.serial
            ]


class MemoryLocker:
    def __init__(self, storage: Storage, workspace: str) -> None:
        self._storage = storage
        self._workspace = workspace
        self._id: str | None = None

    def describe(self) -> str:
        return f"memory lock {self._workspace}"

    def acquire(self, info: LockInfo, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self._storage.mutex:
                space = self._storage.space(self._workspace)
                held = space.lock
                if held is None:
                    space.lock = info
                    self._id = info.id
                    return
            if time.monotonic() >= deadline:
                raise LockHeldError(held, self.describe(), holder_gone(held))
            time.sleep(_POLL)

    def refresh(self) -> None:
        with self._storage.mutex:
            held = self._storage.space(self._workspace).lock
        if self._id is None or held is None or held.id != self._id:
            raise LockLostError(
                f"lost the state lock {self.describe()}: it was removed or taken by another run"
            )

    def release(self) -> None:
        with self._storage.mutex:
            space = self._storage.space(self._workspace)
            if self._id is not None and space.lock is not None and space.lock.id == self._id:
                space.lock = None
            self._id = None

    def read(self) -> LockInfo | None:
        with self._storage.mutex:
            return self._storage.space(self._workspace).lock

    def remove(self, holder: LockInfo) -> bool:
        with self._storage.mutex:
            space = self._storage.space(self._workspace)
            if space.lock is None or space.lock.id != holder.id:
                return False
            space.lock = None
            return True


class MemoryWorkspaces:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def list(self) -> list[str]:
        with self._storage.mutex:
            return sorted(
                name
                for name, space in self._storage.spaces.items()
                if space.state is not None or space.journal
            )

    def delete(self, name: str) -> None:
        if name == DEFAULT_WORKSPACE:
            raise StateError("the default workspace cannot be deleted")
        with self._storage.mutex:
            self._storage.spaces.pop(name, None)


def open_backend(
    settings: Mapping[str, str], *, workspace: str, environ: Mapping[str, str], where: str
) -> Backend:
    del environ
    if not settings.get("name"):
        raise StateError(f"{where}: name is required")
    shared = storage(settings["name"])

    def snapshot() -> tuple[Stored, list[JournalRecord]]:
        with shared.mutex:
            space = shared.space(workspace)
            state = space.state
            stored = (
                Stored(None, NOTHING_STORED)
                if state is None
                else Stored(state, Version(state.lineage, state.serial))
            )
            return stored, list(space.journal)

    locker = MemoryLocker(shared, workspace)
    return Backend(
        store=MemoryStore(shared, workspace),
        journal=MemoryJournal(shared, workspace),
        locker=locker,
        workspaces=MemoryWorkspaces(shared),
        workspace=workspace,
        snapshot=snapshot,
        close=locker.release,
    )
