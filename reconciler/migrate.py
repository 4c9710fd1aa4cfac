"""What a configuration directory remembers of its state (``.np/``, see ``reconciler.workdir``),
checked before a command touches state, and what ``np init`` does with it: record the backend,
copy every workspace into a new backend (``-migrate-state``), or start from the new one
(``-reconfigure``).

    memory = Memory(Workdir(Path(".")), remembered(config.backend))
    memory.check_backend(local_has_state)      # BackendChanged: the block was added or removed
    memory.check_seen("default", state, where, restore_hint)   # the state vanished or changed
    memory.remember("default", state)          # after a run that held the lock
    copied = copy_workspaces(open_old, open_new, force_copy=False, timeout=0)

Why: a ``backend`` block added before the state was pushed made np adopt everything into a new,
empty remote state; one removed made it go back to a stale local file; a bucket lost and made
again made it start from nothing. Each now stops before anything is read live, naming what it
last saw and how to restore it, as ``terraform init`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reconciler.config.configuration import Backend as BackendBlock
from reconciler.errors import NpError, Pos, StateError, shown
from reconciler.state.document import State, utc_now
from reconciler.state.manager import StateManager, same_content
from reconciler.state.protocols import DEFAULT_WORKSPACE
from reconciler.workdir import LOCAL, Remembered, Seen, Workdir

MIGRATE = "np init -migrate-state"
RECONFIGURE = "np init -reconfigure"


class BackendChanged(NpError):
    """The configuration names another backend than the one this directory last used."""


class StateVanished(StateError):
    """The state this directory last saw is gone from its backend, or was replaced."""


def remembered(block: BackendBlock | None) -> Remembered:
    """The backend a configuration names, as ``.np/`` remembers it (no block: local)."""
    return LOCAL if block is None else Remembered(block.kind, dict(block.settings))


def block_of(backend: Remembered, workdir: Workdir) -> BackendBlock | None:
    """The block that names a remembered backend (None: the local files), to open it again:
    its settings are checked as a configuration's are (an s3 endpoint must be allowed)."""
    if backend.same(LOCAL):
        return None
    return BackendBlock(
        backend.kind, dict(backend.settings), Pos(str(workdir.path / "backend.json"), 0)
    )


@dataclass(frozen=True)
class Memory:
    """One configuration directory's memory, against the backend its configuration names."""

    workdir: Workdir
    current: Remembered

    def previous(self, local_has_state: Callable[[], bool]) -> Remembered | None:
        """The backend this directory used before: as ``.np/`` remembers it; without a record
        (np before ``.np/``, a fresh clone), the local files when they hold a state while the
        configuration names a remote backend; else None (nothing to compare)."""
        known = self.workdir.backend()
        if known is not None:
            return known
        if self.current.kind != LOCAL.kind and local_has_state():
            return LOCAL
        return None

    def check_backend(self, local_has_state: Callable[[], bool]) -> None:
        """BackendChanged unless the configuration's backend is the one used before."""
        before = self.previous(local_has_state)
        if before is None or before.same(self.current):
            return
        raise BackendChanged(
            f"the backend changed from {before.describe()} to {self.current.describe()} since "
            f"this directory last used it; run {MIGRATE} to copy the state, or {RECONFIGURE} "
            "to start from the new one"
        )

    def check_seen(self, workspace: str, state: State, where: str, restore: str | None) -> None:
        """StateVanished when ``where`` holds no state, or another lineage, although this
        directory last saw one there: np stops instead of adopting or creating again every
        node pool that state managed."""
        seen = self.workdir.seen(workspace)
        if seen is None or (state.serial > 0 and state.lineage == seen.lineage):
            return
        if state.serial == 0:
            found = f"{where} holds no state"
            risk = (
                "np stops rather than start from an empty state, which would adopt or create "
                "again every node pool that state managed"
            )
        else:
            found = f"{where} holds lineage {shown(state.lineage)} serial {state.serial}"
            risk = "another state replaced it"
        backup = f"{restore}. " if restore else ""
        raise StateVanished(
            f"{found}, but this directory last saw {seen.describe()} in workspace {workspace} "
            f"there: {risk}. To restore it, push a copy of it with np state push FILE (a file "
            f"np state pull wrote, or a backup). {backup}To go on with what {where} holds now "
            f"instead, run {RECONFIGURE}"
        )

    def remember(self, workspace: str, state: State) -> None:
        """Record the backend, and the state seen in ``workspace`` when there is one."""
        if not self.current.same(self.workdir.backend() or Remembered("")):
            self.workdir.remember_backend(self.current)
        if state.serial == 0:
            return
        seen = self.workdir.seen(workspace)
        if seen is None or (seen.lineage, seen.serial) != (state.lineage, state.serial):
            self.workdir.remember_seen(workspace, Seen(state.lineage, state.serial, utc_now()))

    def reconfigure(self) -> None:
        """``np init -reconfigure``: the configuration's backend from now on; nothing seen."""
        self.workdir.forget_seen()
        self.workdir.remember_backend(self.current)


@dataclass(frozen=True)
class Copied:
    """One workspace of ``copy_workspaces``."""

    workspace: str
    state: State | None
    """What the old backend held (None: no state, nothing copied)."""
    written: State | None
    """What the new backend holds now (None: nothing to copy)."""
    already: bool = False
    """The new backend held this state already: nothing was written."""


def copy_workspaces(
    open_old: Callable[[str], StateManager],
    open_new: Callable[[str], StateManager],
    *,
    force_copy: bool,
    timeout: float,
) -> list[Copied]:
    """``np init -migrate-state``: every workspace of the old backend into the new one, each
    under both locks, refused where the new one holds another lineage or a later serial
    (unless ``force_copy``), and read back to verify it."""
    with open_old(DEFAULT_WORKSPACE) as old:
        names = sorted(set(old.workspaces()) | {DEFAULT_WORKSPACE})
    copied = []
    for name in names:
        with (
            open_old(name) as old,
            old.locked("init -migrate-state", timeout) as session,
            open_new(name) as new,
        ):
            state = session.state
            if state.serial == 0:
                copied.append(Copied(name, None, None))
                continue
            written = new.push(state, force=force_copy, timeout=timeout, force_option="-force-copy")
            stored = new.load()
            if not same_content(stored, state):
                raise StateError(
                    f"{new.describe()}: the state read back after the copy is not the state "
                    f"of workspace {name} in the old backend; it was not verified"
                )
            copied.append(Copied(name, state, stored, written is None))
    return copied
