"""The state file: what np applied to each node pool, kept between runs (DESIGN §5).

Like Terraform's state manager it is three small pieces: ``State`` is the in-memory document,
``StateFile`` persists it (atomic 0600 writes, a backup, a serial that only grows, a lineage
that never changes) and ``Journal`` writes it after every node pool so a crash loses nothing.

    store = StateFile(Path("state/np.state.json"))
    journal = Journal(store, store.read())
    journal.stage({"nodepool.train": ResourceState("pool-prod", "train", applied, live, now)})
    journal.flush()   # durable now; apply group-commits successes that land together
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

from reconciler.errors import StateError
from reconciler.fsutil import atomic_write

STATE_VERSION = 1

_JSON_NAMES: dict[type, str] = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


@dataclass(frozen=True)
class ResourceState:
    """One managed node pool: its last-applied document (§3) and the live one seen then."""

    pool: str
    name: str
    applied: dict[str, Any]
    live: dict[str, Any]
    updated_at: str
    prevent_destroy: bool = False

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "pool": self.pool,
            "name": self.name,
            "applied": self.applied,
            "live": self.live,
            "updated_at": self.updated_at,
        }
        if self.prevent_destroy:
            doc["lifecycle"] = {"prevent_destroy": True}
        return doc

    @classmethod
    def from_json(cls, doc: Any, where: str, source: str) -> ResourceState:
        keys = ("pool", "name", "applied", "live", "updated_at")
        fields = _object(doc, where, source, required=keys, optional=("lifecycle",))
        values = {
            key: _expect(fields[key], kind, f"{where}.{key}", source)
            for key, kind in zip(keys, (str, str, dict, dict, str), strict=True)
        }
        prevent_destroy = False
        if "lifecycle" in fields:
            lifecycle = _object(
                fields["lifecycle"], f"{where}.lifecycle", source, optional=("prevent_destroy",)
            )
            prevent_destroy = _expect(
                lifecycle.get("prevent_destroy", False),
                bool,
                f"{where}.lifecycle.prevent_destroy",
                source,
            )
        return cls(**values, prevent_destroy=prevent_destroy)


@dataclass(frozen=True)
class State:
    """The whole state document; ``serial`` and ``lineage`` are managed by ``StateFile``."""

    lineage: str
    serial: int
    resources: dict[str, ResourceState]

    @classmethod
    def new(cls) -> State:
        return cls(lineage=str(uuid.uuid4()), serial=0, resources={})

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "lineage": self.lineage,
            "serial": self.serial,
            "resources": {a: self.resources[a].to_json() for a in sorted(self.resources)},
        }

    @classmethod
    def from_json(cls, doc: Any, source: str) -> State:
        """Validate a decoded state file; any problem is a StateError naming ``source``."""
        doc = _expect(doc, dict, "", source)
        if "version" in doc and doc["version"] != STATE_VERSION:
            raise StateError(
                f"{source}: unsupported state version {json.dumps(doc['version'])} "
                f"(this np reads version {STATE_VERSION})"
            )
        fields = _object(doc, "", source, required=("version", "lineage", "serial", "resources"))
        lineage = _expect(fields["lineage"], str, "lineage", source)
        serial = _expect(fields["serial"], int, "serial", source)
        if not lineage:
            raise StateError(f"{source}: lineage: must not be empty")
        if serial < 0:
            raise StateError(f"{source}: serial: must be >= 0, got {serial}")
        resources = _expect(fields["resources"], dict, "resources", source)
        return cls(
            lineage=lineage,
            serial=serial,
            resources={
                address: ResourceState.from_json(body, f"resources[{json.dumps(address)}]", source)
                for address, body in resources.items()
            },
        )


def _expect(value: Any, kind: type, where: str, source: str) -> Any:
    """Return ``value`` if it has JSON type ``kind`` (a bool is not an integer), else fail."""
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        got = _JSON_NAMES.get(type(value), type(value).__name__)
        _fail(source, where, f"expected {_JSON_NAMES[kind]}, got {got}")
    return value


def _object(
    value: Any,
    where: str,
    source: str,
    required: tuple[str, ...] = (),
    optional: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Check that ``value`` is an object with exactly the allowed keys."""
    obj: dict[str, Any] = _expect(value, dict, where, source)
    missing = [key for key in required if key not in obj]
    if missing:
        _fail(source, where, f"missing key {json.dumps(missing[0])}")
    unknown = sorted(set(obj) - set(required) - set(optional))
    if unknown:
        _fail(source, where, f"unknown key {json.dumps(unknown[0])}")
    return obj


def _fail(source: str, where: str, what: str) -> NoReturn:
    raise StateError(f"{source}: {where}: {what}" if where else f"{source}: {what}")


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


def _render(state: State) -> str:
    """One line per resource: readable, diffable, and fast to write again and again (the
    C encoder does each line; ``indent=`` would force the pure-Python one, 5× slower)."""
    doc = state.to_json()
    resources = doc.pop("resources")
    head = "".join(f"  {json.dumps(key)}: {json.dumps(value)},\n" for key, value in doc.items())
    if not resources:
        return "{\n" + head + '  "resources": {}\n}\n'
    entries = ",\n".join(
        f"    {json.dumps(address)}: {json.dumps(resource, ensure_ascii=False)}"
        for address, resource in resources.items()
    )
    return "{\n" + head + '  "resources": {\n' + entries + "\n  }\n}\n"


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
        try:
            doc = json.loads(raw)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            raise StateError(f"{self.path}: not valid JSON: {exc}") from exc
        state = State.from_json(doc, str(self.path))
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
            atomic_write(self.path, _render(written))
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

    def stage(self, records: dict[str, ResourceState | None]) -> None:
        """Set each address (None: drop it) in memory, all at once; ``flush`` makes it durable."""
        with self._mutex:
            resources = {a: r for a, r in self._state.resources.items() if a not in records}
            resources |= {a: r for a, r in records.items() if r is not None}
            self._state = replace(self._state, resources=dict(sorted(resources.items())))

    def flush(self) -> None:
        """Write everything staged so far (nothing if nothing changed)."""
        with self._mutex:
            self._state = self._store.write(self._state)
