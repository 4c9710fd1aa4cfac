"""The state document: what np applied to each node pool, kept between runs.

Every backend stores the same document; the local file is its canonical rendering:

    state = State.from_json(json.loads(text), "state/np.state.json")   # StateError if malformed
    text = render(state)                                               # one line per resource

``State`` and ``ResourceState`` are frozen; the journal's records are folded into a new
resources map by ``reconciler.state.manager.fold``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NoReturn

from reconciler.collector import bulk
from reconciler.errors import StateError, shown
from reconciler.identifiers import (
    DEFAULT_PROVIDER,
    canonical_address,
    canonical_provider,
    segment_problem,
)

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
    """One managed node pool: its last-applied document and the live one seen then."""

    pool: str
    name: str
    applied: dict[str, Any]
    live: dict[str, Any]
    updated_at: str
    prevent_destroy: bool = False
    provider: str = DEFAULT_PROVIDER
    """The address of the provider (region) that holds the node pool; written only when it
    is not the default one, so that states from before aliases read and write unchanged."""

    @property
    def identity(self) -> tuple[str, str, str]:
        """(provider, pool, name): which node pool this is, whatever its address."""
        return (self.provider, self.pool, self.name)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self.provider != DEFAULT_PROVIDER:
            doc["provider"] = self.provider
        doc |= {
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
        optional = ("lifecycle", "provider")
        fields = check_object(doc, where, source, required=keys, optional=optional)
        values = {
            key: expect(fields[key], kind, f"{where}.{key}", source)
            for key, kind in zip(keys, (str, str, dict, dict, str), strict=True)
        }
        for key in ("pool", "name"):
            problem = segment_problem(values[key])
            if problem is not None:
                _fail(source, f"{where}.{key}", problem)
        if "provider" in fields:
            written = expect(fields["provider"], str, f"{where}.provider", source)
            values["provider"] = check_provider(written, f"{where}.provider", source)
        prevent_destroy = False
        if "lifecycle" in fields:
            lifecycle = check_object(
                fields["lifecycle"], f"{where}.lifecycle", source, optional=("prevent_destroy",)
            )
            prevent_destroy = expect(
                lifecycle.get("prevent_destroy", False),
                bool,
                f"{where}.lifecycle.prevent_destroy",
                source,
            )
        return cls(**values, prevent_destroy=prevent_destroy)


@dataclass(frozen=True)
class Identity:
    """The ModelArts project (and endpoint) a state was written for.

    A state used with another project would plan against node pools it never managed, so np
    refuses that; another endpoint alone (a new regional URL, a proxy) is only a warning.
    """

    project_id: str
    endpoint: str

    def to_json(self) -> dict[str, Any]:
        return {"project_id": self.project_id, "endpoint": self.endpoint}

    @classmethod
    def from_json(cls, doc: Any, source: str, where: str = "identity") -> Identity:
        fields = check_object(doc, where, source, required=("project_id", "endpoint"))
        project_id = expect(fields["project_id"], str, f"{where}.project_id", source)
        problem = segment_problem(project_id)
        if problem is not None:
            _fail(source, f"{where}.project_id", problem)
        return cls(
            project_id=project_id,
            endpoint=expect(fields["endpoint"], str, f"{where}.endpoint", source),
        )


@dataclass(frozen=True)
class State:
    """The whole state document.

    ``lineage`` is drawn once when a state is first created and never changes; ``serial`` grows
    with every recorded change and never goes back. ``identity`` is the default provider's,
    None in a state written before np recorded it (it is adopted on the next write);
    ``providers`` holds every other provider's, by address.
    """

    lineage: str
    serial: int
    resources: dict[str, ResourceState]
    identity: Identity | None = None
    providers: dict[str, Identity] = field(default_factory=dict)

    @classmethod
    def new(cls) -> State:
        return cls(lineage=str(uuid.uuid4()), serial=0, resources={})

    def identity_of(self, provider: str) -> Identity | None:
        """What ``provider`` was recorded with (None: nothing yet)."""
        return self.identity if provider == DEFAULT_PROVIDER else self.providers.get(provider)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "version": STATE_VERSION,
            "lineage": self.lineage,
            "serial": self.serial,
        }
        if self.identity is not None:
            doc["identity"] = self.identity.to_json()
        if self.providers:
            doc["providers"] = {a: self.providers[a].to_json() for a in sorted(self.providers)}
        doc["resources"] = {a: self.resources[a].to_json() for a in sorted(self.resources)}
        return doc

    @classmethod
    def from_json(cls, doc: Any, source: str) -> State:
        """Validate a decoded state document; any problem is a StateError naming ``source``."""
        doc = expect(doc, dict, "", source)
        if "version" in doc and doc["version"] != STATE_VERSION:
            raise StateError(
                f"{source}: unsupported state version {json.dumps(doc['version'])} "
                f"(this np reads version {STATE_VERSION})"
            )
        fields = check_object(
            doc,
            "",
            source,
            required=("version", "lineage", "serial", "resources"),
            optional=("identity", "providers"),
        )
        lineage = expect(fields["lineage"], str, "lineage", source)
        serial = expect(fields["serial"], int, "serial", source)
        if not lineage:
            raise StateError(f"{source}: lineage: must not be empty")
        if serial < 0:
            raise StateError(f"{source}: serial: must be >= 0, got {serial}")
        resources = expect(fields["resources"], dict, "resources", source)
        identity = fields.get("identity")
        providers = expect(fields.get("providers", {}), dict, "providers", source)
        return cls(
            lineage=lineage,
            serial=serial,
            resources={
                check_address(address, "resources", source): ResourceState.from_json(
                    body, f"resources[{json.dumps(address)}]", source
                )
                for address, body in resources.items()
            },
            identity=None if identity is None else Identity.from_json(identity, source),
            providers={
                _aliased(address, source): Identity.from_json(
                    body, source, f"providers[{json.dumps(address)}]"
                )
                for address, body in providers.items()
            },
        )


def utc_now() -> str:
    """A timestamp as state and locks record it (``updated_at``, ``created``)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def render(state: State) -> str:
    """The state as a file: one line per resource, readable, diffable and fast to write (the C
    encoder does each line; ``indent=`` would force the pure-Python one, 5× slower). Addresses
    and keys are sorted, so the same state reads the same from every backend (PostgreSQL's
    jsonb keeps keys in an order of its own) and two pulled states diff cleanly."""
    doc = state.to_json()
    resources = doc.pop("resources")
    head = "".join(f"  {json.dumps(key)}: {json.dumps(value)},\n" for key, value in doc.items())
    if not resources:
        return "{\n" + head + '  "resources": {}\n}\n'
    entries = ",\n".join(
        f"    {json.dumps(address)}: {json.dumps(resource, ensure_ascii=False, sort_keys=True)}"
        for address, resource in sorted(resources.items())
    )
    return "{\n" + head + '  "resources": {\n' + entries + "\n  }\n}\n"


def parse(raw: bytes | str, source: str) -> State:
    """A state document from its bytes or text (any backend's); StateError naming ``source``."""
    with bulk():  # the state of a large fleet is a million objects that live for the run
        try:
            doc = json.loads(raw if isinstance(raw, str) else decode(raw, source))
        except ValueError as exc:
            raise StateError(f"{source}: not valid JSON: {exc}") from exc
        return State.from_json(doc, source)


def decode(raw: bytes, source: str) -> str:
    """A state document's text (a byte-order mark is allowed, as json.loads allows it). A
    backend that decodes before parsing can free the bytes first: json.loads of bytes holds
    both, 40 MB at 10,000 node pools."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StateError(f"{source}: not valid JSON: {exc}") from exc


def check_address(address: str, where: str, source: str) -> str:
    """``address`` if it is a node-pool address in its one written form, else a StateError: a
    state is read by commands that print and pass addresses on."""
    try:
        canonical = canonical_address(address)
    except ValueError as exc:
        _fail(source, where, str(exc))
    if canonical != address:
        _fail(source, where, f"{shown(address, 80)!r} is not written as np writes it ({canonical})")
    return address


def check_provider(address: str, where: str, source: str) -> str:
    """``address`` if it is a provider address in its one written form, else a StateError."""
    try:
        canonical = canonical_provider(address)
    except ValueError as exc:
        _fail(source, where, str(exc))
    if canonical != address:
        _fail(source, where, f"{shown(address, 80)!r} is not written as np writes it ({canonical})")
    return address


def _aliased(address: str, source: str) -> str:
    """A key of ``providers``: another provider than the default one (whose identity is
    ``identity``)."""
    check_provider(address, "providers", source)
    if address == DEFAULT_PROVIDER:
        _fail(source, "providers", f"{DEFAULT_PROVIDER}'s identity is written as identity")
    return address


def expect(value: Any, kind: type, where: str, source: str) -> Any:
    """Return ``value`` if it has JSON type ``kind`` (a bool is not an integer), else fail."""
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        got = _JSON_NAMES.get(type(value), type(value).__name__)
        _fail(source, where, f"expected {_JSON_NAMES[kind]}, got {got}")
    return value


def check_object(
    value: Any,
    where: str,
    source: str,
    required: tuple[str, ...] = (),
    optional: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``value`` as an object with exactly the allowed keys; StateError naming ``where``."""
    obj: dict[str, Any] = expect(value, dict, where, source)
    missing = [key for key in required if key not in obj]
    if missing:
        _fail(source, where, f"missing key {json.dumps(missing[0])}")
    unknown = sorted(set(obj) - set(required) - set(optional))
    if unknown:
        _fail(source, where, f"unknown key {json.dumps(unknown[0])}")
    return obj


def _fail(source: str, where: str, what: str) -> NoReturn:
    raise StateError(f"{source}: {where}: {what}" if where else f"{source}: {what}")
