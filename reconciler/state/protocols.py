"""What a state backend is: small parts, each with the guarantees an implementer owes.

Like Terraform's statemgr, a backend is composed of tiny interfaces rather than one big class:

- ``StateStore``: the checkpointed state document, read whole and written by compare-and-swap;
- ``JournalStore``: the changes recorded since that checkpoint, appended one batch at a time,
  so that apply does O(1) durable work per change instead of rewriting the whole document;
- ``Snapshot``: the checkpoint and its journal read as one moment (a reader never sees a
  journal cleared by a checkpoint it did not read);
- ``Locker``: one np run at a time per state;
- ``Workspaces``: the states a backend holds, one per workspace.

``reconciler.state.manager`` composes them for the rest of np; nothing else touches a backend.
``tests/backend_contract.py`` is the conformance suite every backend passes (memory and local in
the unit tests, pg and s3 against real servers). Types and protocols only: no I/O here.

Serials. A checkpoint's serial counts every change ever recorded in the state: a journal that
holds N records on top of a checkpoint of serial S replays to serial S + N, and folding it writes
a checkpoint of exactly that serial. Serials never go back; the manager computes them, the
stores only persist them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.errors import LockError, StateError, shown
from reconciler.state.document import ResourceState, State, check_address, check_object, expect
from reconciler.suggest import command as suggested


@dataclass(frozen=True)
class Version:
    """What a compare-and-swap write expects to replace."""

    lineage: str | None
    """None: nothing is stored yet (the write must create)."""
    serial: int
    token: str | None = None
    """Backend-specific proof of the exact stored object (the s3 ETag); None where unused."""


NOTHING_STORED = Version(lineage=None, serial=0)
DEFAULT_WORKSPACE = "default"


@dataclass(frozen=True)
class Stored:
    """A state as read, and the version a write must name to replace it."""

    state: State | None
    """None: nothing is stored (``version`` is then ``NOTHING_STORED``, token aside)."""
    version: Version


@dataclass(frozen=True)
class JournalRecord:
    """One completed change since the last checkpoint: ``address`` is now ``resource``."""

    lineage: str
    base_serial: int
    """Serial of the checkpoint this record extends (0 when nothing was stored yet)."""
    address: str
    resource: ResourceState | None
    """None: the address is forgotten."""

    def to_json(self) -> dict[str, Any]:
        return {
            "lineage": self.lineage,
            "base_serial": self.base_serial,
            "address": self.address,
            "resource": None if self.resource is None else self.resource.to_json(),
        }

    @classmethod
    def from_json(cls, doc: Any, source: str) -> JournalRecord:
        """Validate a decoded record; StateError naming ``source`` (a file:line, a row, ...)."""
        keys = ("lineage", "base_serial", "address", "resource")
        fields = check_object(doc, "", source, required=keys)
        resource = fields["resource"]
        return cls(
            lineage=expect(fields["lineage"], str, "lineage", source),
            base_serial=expect(fields["base_serial"], int, "base_serial", source),
            address=check_address(
                expect(fields["address"], str, "address", source), "address", source
            ),
            resource=None
            if resource is None
            else ResourceState.from_json(resource, "resource", source),
        )


class StateStore(Protocol):
    """The checkpointed state of one workspace."""

    def describe(self) -> str:
        """Where the state lives, as messages name it: ``state/np.state.json``, ``s3://b/k``."""
        ...

    def restore_hint(self) -> str | None:
        """How to bring back the state as it was before the last run wrote it (a backup
        this store keeps), as a sentence; None when the store keeps none."""
        ...

    def read(self) -> Stored:
        """The stored state and its version; ``Stored(None, NOTHING_STORED)`` if none.

        StateError (naming ``describe()``) when it cannot be read or is not a valid document.
        """
        ...

    def write(self, state: State, expected: Version) -> Version:
        """Replace the stored state with ``state``, as is, if and only if what is stored is
        still ``expected`` (lineage and serial, and the token where the backend uses one);
        return the new version.

        Atomic: a reader (or a crash) sees the old document or the new one, whole. When the
        stored state moved (another writer won, or something was created where ``expected``
        says nothing is stored) raise ``StateConflict`` and change nothing. The store does not
        judge the content (lineage, serial): the caller has.
        """
        ...


class JournalStore(Protocol):
    """Append-only records of the changes since the checkpoint of the same workspace."""

    def describe(self) -> str:
        """Where the journal lives, as messages name it: ``state/np.state.json.journal``."""
        ...

    def append(self, records: Sequence[JournalRecord]) -> None:
        """Add ``records`` after every record already there; durable when this returns.

        One call is one batch (apply's group commit): all of its records extend the same
        checkpoint (same lineage and base serial). A crash during the call may lose the whole
        batch or leave it torn; it must never damage a batch appended earlier.
        """
        ...

    def read(self) -> list[JournalRecord]:
        """Every record, in append order. A torn last batch (a crash during ``append``) is
        ignored; damage anywhere else is a StateError naming where."""
        ...

    def clear(self, upto: Version) -> None:
        """Drop the records folded into the checkpoint ``upto``: those of another lineage or
        with a base serial below ``upto.serial``. Called after that checkpoint is written, so
        a crash in between leaves records the reader recognises as folded and skips."""
        ...


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock; ``corrupt`` when the stored lock could not be parsed.

    A corrupt lock has no holder details; its id is derived from its bytes, so that
    ``np force-unlock`` can still remove exactly that lock and nothing written since.
    """

    id: str
    pid: int = 0
    host: str = ""
    user: str = ""
    operation: str = ""
    created: str = ""
    corrupt: bool = False

    def describe(self) -> str:
        """The holder block shown when the lock is in the way."""
        if self.corrupt:
            return "  The lock file is empty or unreadable, so its holder is unknown."
        return "\n".join(
            [
                f"  ID:        {shown(self.id)}",
                f"  Operation: {shown(self.operation)}",
                f"  Who:       {shown(self.user)}@{shown(self.host)} (pid {self.pid})",
                f"  Created:   {shown(self.created)}",
            ]
        )


class Snapshot(Protocol):
    """The checkpoint and the journal that extends it, as they were at one instant."""

    def __call__(self) -> tuple[Stored, list[JournalRecord]]:
        """Read both such that no checkpoint written in between is missed: a journal read
        after a checkpoint cleared it must come with that checkpoint, never with the one
        before (the view would go back in time). StateError as the parts raise it."""
        ...


class Locker(Protocol):
    """The lock of one workspace's state: at most one holder at any instant."""

    def describe(self) -> str:
        """Where the lock lives, as messages name it: ``state/np.state.json.lock``."""
        ...

    def acquire(self, info: LockInfo, timeout: float) -> None:
        """Take the lock as ``info``, retrying for up to ``timeout`` seconds.

        Of two racing callers exactly one wins. While held, ``read()`` by anyone returns
        ``info`` whole: a lock is never visible without its content. If still held by another
        after ``timeout``, raise ``LockHeldError`` with the holder (marked stale when the
        backend can tell that the holder is gone; a stale lock is never taken over).
        """
        ...

    def refresh(self) -> None:
        """Prove that the lock is still ours, and show others that its holder is alive.

        ``LockLostError`` when it is known not to be ours any more (force-unlocked, taken by
        another run, its server session gone); another ``NpError`` when that cannot be told
        now (the store did not answer): the caller tries again.
        """
        ...

    def release(self) -> None:
        """Give the lock up, only if it is still ours; a no-op when not held."""
        ...

    def read(self) -> LockInfo | None:
        """The current holder, or None when unlocked."""
        ...

    def remove(self, holder: LockInfo) -> bool:
        """Remove the lock only while it is still ``holder``'s (same id): False when it went
        or changed meanwhile, and then nothing is removed. Where the lock is a server session
        (pg), end that session, so that a holder still running can write nothing more.

        The caller (``StateManager.force_unlock``) has read the holder and checked the id the
        user gave; this is the compare-and-delete that makes that check hold."""
        ...


class Workspaces(Protocol):
    """The workspaces a backend holds: one state (with its journal and lock) each."""

    def list(self) -> list[str]:
        """Names of the workspaces that hold a state or a journal, sorted."""
        ...

    def delete(self, name: str) -> None:
        """Remove workspace ``name``'s state and journal (never ``default``).

        The caller holds that workspace's lock and has checked that it may go; a backend may
        remove the lock with it (the caller's release then has nothing left to do).
        """
        ...


def _nothing_to_close() -> None:
    return None


@dataclass
class Backend:
    """What a backend module hands the rest of np, for one workspace.

    A backend module ``reconciler/state/KIND.py`` exposes ``open_backend`` (see ``Opener``):
    ``local`` (files), ``memory`` (this process; tests), ``pg`` and ``s3``.
    """

    store: StateStore
    journal: JournalStore
    locker: Locker
    workspaces: Workspaces
    workspace: str
    snapshot: Snapshot
    close: Callable[[], None] = field(default=_nothing_to_close)
    """Frees what the backend holds (a connection, and with it a lock); np calls it once, last."""


class Opener(Protocol):
    """``open_backend`` of a backend module: the backend block's settings (as written, never a
    secret; the local backend's one setting is ``path``), the workspace, and the environment
    (where secrets come from). ``where`` names the block in messages (``main.hcl:3: backend
    "pg"``). Raise StateError for bad settings or an unreachable store, naming ``where`` and
    never printing a secret."""

    def __call__(
        self,
        settings: Mapping[str, str],
        *,
        workspace: str,
        environ: Mapping[str, str],
        where: str,
    ) -> Backend: ...


class StateConflict(StateError):
    """A compare-and-swap write lost: the stored state is no longer the version expected."""


class LockLostError(LockError):
    """The lock this run held was removed, taken by another run, or went with its session."""


class LockHeldError(LockError):
    """Another run holds the lock; ``holder`` says who, ``stale`` why it looks abandoned.

    ``command`` is how the user removes it (default ``np force-unlock ID``; the manager adds
    the workspace when it is not the default one).
    """

    def __init__(
        self, holder: LockInfo, where: str, stale: str | None = None, command: str | None = None
    ) -> None:
        self.holder = holder
        self.where = where
        self.stale = stale
        self.command = command or suggested("force-unlock", shown(holder.id))
        lines = [f"state is locked ({where})", holder.describe()]
        if stale is not None:
            lines.append(f"The lock is stale: {stale}. To remove it, run: {self.command}")
        else:
            lines.append(
                f"Another np run may be in progress. If you are sure it is not, run: {self.command}"
            )
        if holder.corrupt:
            lines.append(f"(or delete {where})")
        super().__init__("\n".join(lines))
