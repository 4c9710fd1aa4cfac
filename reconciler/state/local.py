"""The local state file (``state/np.state.json``): atomic 0600 writes, a backup, a serial that
only grows and a lineage that never changes; ``Journal`` writes it after every node pool.

    store = StateFile(Path("state/np.state.json"))
    journal = Journal(store, store.read())
    journal.stage("nodepool.train", ResourceState("pool-prod", "train", applied, live, now))
    journal.flush()   # durable now; apply group-commits successes that land together
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from reconciler.errors import StateError
from reconciler.fsutil import atomic_write
from reconciler.state.document import ResourceState, State, parse, render


@dataclass(frozen=True)
class _Baseline:
    """The state last read from or written to the file, to decide whether a write is needed."""

    lineage: str
    serial: int
    content: str
    on_disk: bool

    @classmethod
    def of(cls, state: State, on_disk: bool) -> _Baseline:
        return cls(state.lineage, state.serial, _content(state), on_disk)


def _content(state: State) -> str:
    """Everything but the serial, in a canonical form, so equal content compares equal."""
    return json.dumps({**state.to_json(), "serial": None}, sort_keys=True)


class StateFile:
    """The persistent state at ``path``, its backup at ``path.backup``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.backup_path = Path(f"{path}.backup")
        self._baseline: _Baseline | None = None
        self._backed_up = False
        """The backup is the state as it was before this run: taken at the first write only."""

    def read(self) -> State:
        """Load the state; a missing file is a new, empty state (not written until it changes)."""
        state, self._baseline = self._load()
        self._backed_up = False
        return state

    def _load(self) -> tuple[State, _Baseline]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            state = State.new()
            return state, _Baseline.of(state, on_disk=False)
        except OSError as exc:
            raise StateError(f"cannot read state {self.path}: {exc.strerror or exc}") from exc
        state = parse(raw, str(self.path))
        return state, _Baseline.of(state, on_disk=True)

    def write(self, state: State) -> State:
        """Persist ``state`` if its content changed; return it as written (serial + 1).

        The previous file is kept as the backup. Both are written atomically, so a crash at
        any instant leaves each of them whole, old or new.
        """
        baseline = self._baseline or self._load()[1]
        if baseline.on_disk and state.lineage != baseline.lineage:
            raise StateError(
                f"{self.path}: refusing to replace state of lineage {baseline.lineage} "
                f"with a state of lineage {state.lineage}"
            )
        content = _content(state)
        if state.serial == baseline.serial and content == baseline.content:
            return state
        written = replace(
            state, serial=max(state.serial, baseline.serial) + 1, resources=dict(state.resources)
        )
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self._backed_up:
                self._backup()
                self._backed_up = True
            atomic_write(self.path, render(written))
        except OSError as exc:
            raise StateError(f"cannot write state {self.path}: {exc.strerror or exc}") from exc
        self._baseline = _Baseline(written.lineage, written.serial, content, on_disk=True)
        return written

    def _backup(self) -> None:
        try:
            previous = self.path.read_bytes()
        except FileNotFoundError:
            return
        atomic_write(self.backup_path, previous)


class Journal:
    """Records each node pool's outcome the moment it succeeds (apply may run them in threads)."""

    def __init__(self, store: StateFile, state: State) -> None:
        self._store = store
        self._state = state
        self._mutex = threading.Lock()

    @property
    def state(self) -> State:
        return self._state

    def stage(self, address: str, resource: ResourceState | None) -> None:
        """Set ``address`` (None: drop it) in memory; ``flush`` makes it durable."""
        with self._mutex:
            resources = {a: r for a, r in self._state.resources.items() if a != address}
            if resource is not None:
                resources[address] = resource
            self._state = replace(self._state, resources=dict(sorted(resources.items())))

    def flush(self) -> None:
        """Write everything staged so far (nothing if nothing changed)."""
        with self._mutex:
            self._state = self._store.write(self._state)
