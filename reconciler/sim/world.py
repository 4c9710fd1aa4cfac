"""The simulated ModelArts cloud: pools and node pools kept in a JSON file.

    world = World.load("world.json")
    world.patch_nodepool("pool-prod", "train", {"spec": {"resources": {...}}})  # in memory
    world.flush()  # the file now holds the change (the app decides when: see writebehind.py)
    world.get_nodepool("pool-prod", "train")["status"]["resources"]["creating"]

Every rule the real API enforces lives here, so the in-process simulator and `np sim serve`
answer alike; the HTTP layer only maps `SimError` to a response. Keys starting with `_` are the
simulator's own bookkeeping (creation time, scaling progress, annotations) and never go on the
wire. A pool's `workspace_id` (default "0") says which workspace lists it.

A request costs the same whatever the world's size: changes stay in memory until `flush`, which
writes the whole file once for however many changes came before it.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import os
import re
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reconciler.errors import NpError
from reconciler.fsutil import atomic_write
from reconciler.jsonmerge import apply_merge_patch
from reconciler.sim import jsontext

JsonObject = dict[str, Any]

BAD_REQUEST = "ModelArts.50004000"
NOT_FOUND = "ModelArts.50015001"
ALREADY_EXISTS = "ModelArts.50015000"

POOL_TYPES = ("Dedicate", "Logical")
REQUIRED_FIELDS = ("flavor", "count", "maxCount")
FIELD_TYPES: dict[str, type] = {
    "flavor": str,
    "count": int,
    "maxCount": int,
    "azs": list,
    "nodePool": str,
    "taints": list,
    "labels": dict,
    "tags": list,
    "network": dict,
    "extendParams": dict,
    "creatingStep": dict,
    "os": dict,
    "rootVolume": dict,
    "dataVolumes": list,
    "volumeGroupConfigs": list,
}
PRIVILEGED_FIELDS = ("taints", "tags", "network")
RESERVED_TAG_PREFIXES = ("CCE-", "__type_baremetal")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
MAX_TAGS = 20
MAX_PAGE = 500
BUCKETS = ("creating", "available", "abnormal", "deleting")
# Node list order: existing nodes first, then those coming or going.
NODE_PHASES = (("available", "Available"), ("creating", "Creating"), ("deleting", "Deleting"))
BILLING_MODE = "os.modelarts/billing.mode"
DEFAULT_WORKSPACE = "0"
WORKSPACE_LABEL = "os.modelarts/workspace.id"
_NAME_RE = re.compile(r"[a-z][a-z0-9-]{1,49}")
_ENCODER = json.JSONEncoder(ensure_ascii=False)
_TYPE_NAMES = {str: "a string", int: "an integer", list: "an array", dict: "an object"}


class SimError(Exception):
    """An error answer of the simulated API: HTTP status, ModelArts error code and message."""

    def __init__(
        self,
        status: int,
        error_code: str,
        error_msg: str,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(f"HTTP {status} {error_code}: {error_msg}")
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg
        self.headers = headers


class WorldError(NpError):
    """The world file is missing, unreadable or not a world."""


def _bad(message: str) -> SimError:
    return SimError(400, BAD_REQUEST, message)


def _has_type(value: Any, expected: type) -> bool:
    """isinstance for JSON values, where a boolean is not an integer."""
    return isinstance(value, expected) and not isinstance(value, bool)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class WorldFile:
    """The world's JSON file: read, replaced atomically, and watched for edits made by hand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None

    def read(self) -> JsonObject:
        try:
            stamp = self._stamp()
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise WorldError(f"world file not found: {self.path}") from None
        except UnicodeDecodeError:  # its message would quote the file's bytes
            raise WorldError(f"world file {self.path} is not UTF-8 text") from None
        except OSError as exc:
            raise WorldError(f"cannot read world file {self.path}: {exc.strerror or exc}") from None
        try:
            data = jsontext.decode(text)
        except jsontext.JsonTextError as exc:
            where = self.path if exc.line is None else f"{self.path}:{exc.line}"
            raise WorldError(f"{where}: {exc.reason}") from None
        world: JsonObject = _check_world(data, str(self.path))
        self._seen = stamp
        return world

    def write(self, data: JsonObject, encoded: dict[tuple[str, ...], str]) -> None:
        """Replace the file whole and atomically (a reader sees the old file or the new one);
        `encoded` as for `render`."""
        atomic_write(self.path, render(data, encoded) + "\n")
        self._seen = self._stamp()

    def changed(self) -> bool:
        """True when the file is not what was last read or written (an edit from outside)."""
        try:
            return self._stamp() != self._seen
        except OSError:
            return True

    def _stamp(self) -> tuple[int, int, int]:
        st = os.stat(self.path)
        return (st.st_mtime_ns, st.st_size, st.st_ino)


def render(data: JsonObject, encoded: dict[tuple[str, ...], str] | None = None) -> str:
    """The world as JSON, indented down to the node pools and one line per node pool.

    A person can still find and edit a node pool, and the text comes from the C encoder
    (`json.dumps(indent=2)` runs the pure-Python one, ten times slower). `encoded` keeps each
    node pool's line from one call to the next, so that a write encodes only the node pools
    whose lines its caller dropped (those that changed).
    """
    return _render(data, (), {} if encoded is None else encoded)


def _render(value: Any, path: tuple[str, ...], encoded: dict[tuple[str, ...], str]) -> str:
    if len(path) == 4:  # pools.POOL.nodepools.NAME: one line
        line = encoded.get(path)
        if line is None:
            line = encoded[path] = _ENCODER.encode(value)
        return line
    expanded = not path or (path[0] == "pools" and (len(path) < 3 or path[2:] == ("nodepools",)))
    if not (expanded and isinstance(value, dict) and value):
        return _ENCODER.encode(value)
    indent = "  " * (len(path) + 1)
    items = [
        f"{indent}{_ENCODER.encode(key)}: {_render(item, (*path, key), encoded)}"
        for key, item in value.items()
    ]
    return "{\n" + ",\n".join(items) + "\n" + indent[:-2] + "}"


def _check_world(data: Any, where: str) -> JsonObject:
    """Reject a world whose shape the simulator cannot serve, naming the offending key."""

    def fail(message: str) -> WorldError:
        return WorldError(f"{where}: {message}")

    if not isinstance(data, dict) or not isinstance(data.get("pools"), dict):
        raise fail('the world must be an object with a "pools" object')
    settings = data.get("settings", {})
    scale = settings.get("scale_seconds", 0) if isinstance(settings, dict) else None
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale < 0:
        raise fail("settings.scale_seconds must be a number >= 0")
    for pool_name, pool in data["pools"].items():
        at = f"pools.{pool_name}"
        if not isinstance(pool, dict) or pool.get("type") not in POOL_TYPES:
            raise fail(f"{at}.type must be Dedicate or Logical")
        if not isinstance(pool.get("privileged", False), bool):
            raise fail(f"{at}.privileged must be true or false")
        workspace = pool.get("workspace_id", DEFAULT_WORKSPACE)
        if not isinstance(workspace, str) or not workspace:
            raise fail(f"{at}.workspace_id must be a non-empty string")
        if not isinstance(pool.get("nodepools"), dict):
            raise fail(f"{at}.nodepools must be an object")
        for name, res in pool["nodepools"].items():
            if not isinstance(res, dict):
                raise fail(f"{at}.nodepools.{name} must be an object")
            for key in REQUIRED_FIELDS:
                expected = FIELD_TYPES[key]
                if not _has_type(res.get(key), expected):
                    raise fail(f"{at}.nodepools.{name}.{key} must be {_TYPE_NAMES[expected]}")
    return data


class World:
    """The pools of one simulated project and the node-pool operations of the API."""

    def __init__(
        self,
        file: WorldFile,
        data: JsonObject,
        *,
        clock: Callable[[], float] = time.time,
        scale_seconds: float | None = None,
    ) -> None:
        self._file = file
        self._clock = clock
        self._scale_override = scale_seconds
        self._data = self._with_creation_times(data)
        # Node pools changed since the last flush (None: deleted), by (pool, name).
        self._unsaved: dict[tuple[str, str], JsonObject | None] = {}
        # Each node pool's line in the file as last written, for `render`.
        self._encoded: dict[tuple[str, ...], str] = {}

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        scale_seconds: float | None = None,
    ) -> World:
        """Read a world file; `scale_seconds` overrides its `settings.scale_seconds`."""
        file = WorldFile(Path(path))
        return cls(file, file.read(), clock=clock, scale_seconds=scale_seconds)

    @property
    def path(self) -> Path:
        return self._file.path

    @property
    def scale_seconds(self) -> float:
        if self._scale_override is not None:
            return self._scale_override
        return float(self._data.get("settings", {}).get("scale_seconds", 0))

    @property
    def dirty(self) -> bool:
        """True while a change is not yet in the file."""
        return bool(self._unsaved)

    def flush(self) -> bool:
        """Write the world if it changed since the last flush; True when it wrote.

        An edit made to the file meanwhile is read first, so a flush never overwrites it. When
        the write fails (OSError), the changes stay in memory for the next flush.
        """
        if not self._unsaved:
            return False
        self.reload_if_changed()
        for pool, name in self._unsaved:
            self._encoded.pop(("pools", pool, "nodepools", name), None)
        self._file.write(self._data, self._encoded)
        self._unsaved.clear()
        return True

    def reload_if_changed(self) -> bool:
        """Pick up an edit made to the file since the last load or flush (a "console" change).

        Changes not yet flushed are laid over the edit, node pool by node pool, so that
        neither the edit nor an answered request is lost.
        """
        if not self._file.changed():
            return False
        data = self._file.read()
        for (pool, name), res in self._unsaved.items():
            nodepools = data["pools"].get(pool, {}).get("nodepools")
            if nodepools is None:
                continue  # the edit removed the whole pool
            if res is None:
                nodepools.pop(name, None)
            else:
                nodepools[name] = res
        self._data = self._with_creation_times(data)
        self._encoded.clear()
        return True

    # -- reads -------------------------------------------------------------------------------

    def list_pools(self, workspace_id: str | None = None) -> JsonObject:
        """The pools of one workspace (default "0"), as ListPools without or with workspaceId."""
        wanted = DEFAULT_WORKSPACE if workspace_id is None else workspace_id
        items = [
            self._pool_wire(name, pool)
            for name, pool in self._data["pools"].items()
            if pool.get("workspace_id", DEFAULT_WORKSPACE) == wanted
        ]
        return {"apiVersion": "v2", "kind": "PoolList", "items": items}

    def get_pool(self, pool: str) -> JsonObject:
        return self._pool_wire(pool, self._pool(pool))

    def list_nodepools(self, pool: str) -> JsonObject:
        nodepools = self._pool(pool)["nodepools"]
        items = [self._nodepool_wire(name, res) for name, res in nodepools.items()]
        return {"apiVersion": "v2", "kind": "NodePoolList", "items": items}

    def get_nodepool(self, pool: str, name: str) -> JsonObject:
        return self._nodepool_wire(name, self._nodepool(pool, name))

    def list_nodes(
        self, pool: str, name: str, limit: int = MAX_PAGE, continue_token: str | None = None
    ) -> JsonObject:
        """One page of the node pool's nodes, synthesised from its count and scaling progress.

        Only the page's nodes are built: a count of 2,147,483,647 costs what a count of 1 does.
        """
        res = self._nodepool(pool, name)
        if not 0 <= limit <= MAX_PAGE:
            raise _bad(f"limit must be between 0 and {MAX_PAGE}, got {limit}")
        start = _decode_token(continue_token) if continue_token else 0
        buckets = self._buckets(res)
        total = sum(buckets[bucket] for bucket, _ in NODE_PHASES)
        end = min(total, start + (limit or MAX_PAGE))
        items: list[JsonObject] = []
        first = 0  # the index of the phase's first node
        for bucket, phase in NODE_PHASES:
            last = first + buckets[bucket]
            indexes = range(max(start, first), min(end, last))
            items += [_node(name, res["flavor"], index, phase) for index in indexes]
            first = last
        remaining = max(0, total - max(start, end))
        metadata: JsonObject = {"remainingItemCount": remaining}
        if remaining:
            metadata["continue"] = _encode_token(end)
        return {"apiVersion": "v2", "kind": "NodeList", "metadata": metadata, "items": items}

    # -- writes ------------------------------------------------------------------------------

    def patch_nodepool(self, pool: str, name: str, body: Any) -> JsonObject:
        """Apply an RFC 7396 merge patch to `spec.resources` (and metadata.annotations)."""
        entry = self._pool(pool)
        current = self._nodepool(pool, name)
        annotations, patch = _parse_patch(body)
        merged = apply_merge_patch(current, patch)
        _check_rules(entry, patch, merged)
        if merged["flavor"] != current["flavor"]:
            raise _bad(f"flavor cannot be changed (from {current['flavor']} to {merged['flavor']})")
        if merged["count"] != current["count"]:
            self._track_scaling(merged, self._settled_count(current))
        _merge_annotations(merged, annotations)
        entry["nodepools"][name] = self._unsaved[(pool, name)] = merged
        return self._nodepool_wire(name, merged)

    def create_nodepool(self, pool: str, body: Any) -> JsonObject:
        entry = self._pool(pool)
        name, annotations, resources = _parse_create(body)
        if name in entry["nodepools"]:
            raise SimError(409, ALREADY_EXISTS, f"node pool {name} already exists in pool {pool}")
        created = apply_merge_patch({}, resources)
        _check_rules(entry, resources, created)
        created["_created"] = _iso(self._clock())
        self._track_scaling(created, 0)
        _merge_annotations(created, annotations)
        entry["nodepools"][name] = self._unsaved[(pool, name)] = created
        return self._nodepool_wire(name, created)

    def delete_nodepool(self, pool: str, name: str) -> JsonObject:
        """Remove a node pool at once; answers with the node pool as it was."""
        entry = self._pool(pool)
        res = self._nodepool(pool, name)
        if len(entry["nodepools"]) == 1:
            raise _bad(f"node pool {name} is the last node pool of pool {pool}")
        if res.get("_annotations", {}).get(BILLING_MODE) == "1":
            raise _bad(f"node pool {name} is billed yearly/monthly and cannot be deleted")
        wire = self._nodepool_wire(name, res)
        del entry["nodepools"][name]
        self._unsaved[(pool, name)] = None
        return wire

    # -- internals ---------------------------------------------------------------------------

    def _with_creation_times(self, data: JsonObject) -> JsonObject:
        """Give hand-written pools and node pools a creation time (saved with the next write)."""
        now = _iso(self._clock())
        for pool in data["pools"].values():
            pool.setdefault("_created", now)
            for res in pool["nodepools"].values():
                res.setdefault("_created", now)
        return data

    def _pool(self, pool: str) -> JsonObject:
        try:
            found: JsonObject = self._data["pools"][pool]
        except KeyError:
            raise SimError(404, NOT_FOUND, f"pool {pool} not found") from None
        return found

    def _nodepool(self, pool: str, name: str) -> JsonObject:
        try:
            found: JsonObject = self._pool(pool)["nodepools"][name]
        except KeyError:
            raise SimError(404, NOT_FOUND, f"node pool {name} not found in pool {pool}") from None
        return found

    def _buckets(self, res: JsonObject) -> dict[str, int]:
        """Node counts per status bucket now, from the scaling timestamps in `res`."""
        count: int = res["count"]
        start = self._scaling_from(res)
        if start is None:
            start = count
        return {
            "creating": max(0, count - start),
            "available": min(count, start),
            "abnormal": 0,
            "deleting": max(0, start - count),
        }

    def _scaling_from(self, res: JsonObject) -> int | None:
        """The node count a still-running scale started from, or None when settled."""
        start, at = res.get("_scale_from"), res.get("_scale_at")
        if not isinstance(start, int) or not isinstance(at, (int, float)):
            return None
        return start if self._clock() - at < self.scale_seconds else None

    def _settled_count(self, res: JsonObject) -> int:
        """The count nodes are moving away from: a running scale keeps its starting point."""
        start = self._scaling_from(res)
        return int(res["count"]) if start is None else start

    def _track_scaling(self, res: JsonObject, start: int) -> None:
        if res["count"] == start or self.scale_seconds == 0:
            res.pop("_scale_from", None)
            res.pop("_scale_at", None)
        else:
            res["_scale_from"] = start
            res["_scale_at"] = self._clock()

    def _pool_wire(self, name: str, pool: JsonObject) -> JsonObject:
        resources = []
        by_flavor: dict[str, dict[str, int]] = {bucket: {} for bucket in BUCKETS}
        for np_name, res in pool["nodepools"].items():
            flavor = res["flavor"]
            resources.append(
                {
                    "flavor": flavor,
                    "count": res["count"],
                    "maxCount": res["maxCount"],
                    "nodePool": np_name,
                }
            )
            for bucket, count in self._buckets(res).items():
                if count:
                    by_flavor[bucket][flavor] = by_flavor[bucket].get(flavor, 0) + count
        workspace = pool.get("workspace_id", DEFAULT_WORKSPACE)
        return {
            "apiVersion": "v2",
            "kind": "Pool",
            "metadata": {
                "name": name,
                "creationTimestamp": pool["_created"],
                "labels": {WORKSPACE_LABEL: workspace},
            },
            "spec": {"type": pool["type"], "resources": resources},
            "status": {
                "phase": "Running",
                "resources": {bucket: _pool_bucket(counts) for bucket, counts in by_flavor.items()},
            },
        }

    def _nodepool_wire(self, name: str, res: JsonObject) -> JsonObject:
        flavor = res["flavor"]
        metadata: JsonObject = {"name": name, "creationTimestamp": res["_created"]}
        if res.get("_annotations"):
            metadata["annotations"] = dict(res["_annotations"])
        buckets = self._buckets(res)
        return {
            "apiVersion": "v2",
            "kind": "NodePool",
            "metadata": metadata,
            "spec": {"resources": _public(res)},
            "status": {
                "resources": {
                    bucket: {"flavor": flavor, "count": count} for bucket, count in buckets.items()
                }
            },
        }


def _node(nodepool: str, flavor: str, index: int, phase: str) -> JsonObject:
    return {
        "apiVersion": "v2",
        "kind": "Node",
        "metadata": {"name": f"{nodepool}-{index:04d}"},
        "spec": {"flavor": flavor},
        "status": {"phase": phase},
    }


def _pool_bucket(counts: dict[str, int]) -> JsonObject:
    """One SDK-shaped bucket for a whole pool: the total, and the flavor when there is one."""
    total: JsonObject = {"count": sum(counts.values())}
    return {"flavor": next(iter(counts)), **total} if len(counts) == 1 else total


def _public(res: JsonObject) -> JsonObject:
    """The wire PoolResource: a copy without the simulator's private keys."""
    return {key: copy.deepcopy(value) for key, value in res.items() if not key.startswith("_")}


def _merge_annotations(res: JsonObject, patch: JsonObject) -> None:
    if patch:
        merged = apply_merge_patch(res.get("_annotations", {}), patch)
        if merged:
            res["_annotations"] = merged
        else:
            res.pop("_annotations", None)


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_token(token: str) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise _bad("invalid continue token") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise _bad("invalid continue token")
    return offset


# -- request validation --------------------------------------------------------------------


def _object(value: Any, where: str) -> JsonObject:
    if not isinstance(value, dict):
        raise _bad(f"{where} must be a JSON object")
    return value


def _only(obj: JsonObject, allowed: tuple[str, ...], prefix: str) -> None:
    unknown = sorted(key for key in obj if key not in allowed)
    if unknown:
        raise _bad(f"unknown field {prefix}{unknown[0]}")


def _parse_patch(body: Any) -> tuple[JsonObject, JsonObject]:
    """(annotations patch, resources patch) of a PATCH body `{metadata?, spec: {resources}}`."""
    doc = _object(body, "request body")
    _only(doc, ("metadata", "spec"), "")
    metadata = _object(doc.get("metadata", {}), "metadata")
    _only(metadata, ("annotations",), "metadata.")
    return _parse_annotations(metadata), _parse_resources(doc.get("spec"))


def _parse_create(body: Any) -> tuple[str, JsonObject, JsonObject]:
    """(name, annotations, resources) of a POST body `{apiVersion, kind, metadata, spec}`."""
    doc = _object(body, "request body")
    _only(doc, ("apiVersion", "kind", "metadata", "spec"), "")
    if doc.get("kind", "NodePool") != "NodePool":
        raise _bad('kind must be "NodePool"')
    if doc.get("apiVersion", "v2") != "v2":
        raise _bad('apiVersion must be "v2"')
    metadata = _object(doc.get("metadata"), "metadata")
    _only(metadata, ("name", "annotations"), "metadata.")
    name = metadata.get("name")
    if not isinstance(name, str) or not _valid_name(name):
        raise _bad(
            f"invalid node pool name {json.dumps(name)}: 2-50 lowercase letters, digits and -, "
            "starting with a letter, not ending with - or -default"
        )
    return name, _parse_annotations(metadata), _parse_resources(doc.get("spec"))


def _valid_name(name: str) -> bool:
    return bool(_NAME_RE.fullmatch(name)) and not name.endswith(("-", "-default"))


def _parse_annotations(metadata: JsonObject) -> JsonObject:
    annotations = _object(metadata.get("annotations", {}), "metadata.annotations")
    for key, value in annotations.items():
        if value is not None and not isinstance(value, str):
            raise _bad(f"metadata.annotations.{key} must be a string")
    return annotations


def _parse_resources(spec: Any) -> JsonObject:
    if spec is None or (isinstance(spec, dict) and "resources" not in spec):
        raise _bad("spec.resources is required")
    _only(_object(spec, "spec"), ("resources",), "spec.")
    resources = _object(spec["resources"], "spec.resources")
    _only(resources, tuple(FIELD_TYPES), "spec.resources.")
    for key in REQUIRED_FIELDS:
        if resources.get(key) is None:
            raise _bad(f"spec.resources.{key} is required")
    for key, value in resources.items():
        if value is not None:
            _check_type(key, value)
    return resources


def _check_type(key: str, value: Any) -> None:
    expected = FIELD_TYPES[key]
    where = f"spec.resources.{key}"
    if not _has_type(value, expected):
        raise _bad(f"{where} must be {_TYPE_NAMES[expected]}")
    if expected is int and value < 0:
        raise _bad(f"{where} must not be negative")
    if key == "labels":
        for label, text in value.items():
            if text is not None and not isinstance(text, str):
                raise _bad(f"{where}.{label} must be a string")
    if key in ("tags", "taints"):
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("key"), str):
                raise _bad(f"every entry of {where} needs a string key")
    if key == "taints":
        for taint in value:
            if taint.get("effect") not in TAINT_EFFECTS:
                raise _bad(
                    f"taint effect must be one of {', '.join(TAINT_EFFECTS)}, "
                    f"got {json.dumps(taint.get('effect'))}"
                )


def _check_rules(pool: JsonObject, incoming: JsonObject, merged: JsonObject) -> None:
    """The pool-dependent rules, on the fields sent (`incoming`) and the result (`merged`)."""
    if not pool.get("privileged", False):
        for key in PRIVILEGED_FIELDS:
            if incoming.get(key) is not None:
                raise _bad(f"{key} can only be set on a privileged pool")
    tags = incoming.get("tags") or []
    for tag in tags:
        if tag["key"].startswith(RESERVED_TAG_PREFIXES):
            raise _bad(
                f'tag key "{tag["key"]}" is reserved: keys must not start with '
                f"{' or '.join(RESERVED_TAG_PREFIXES)}"
            )
    if len(tags) > MAX_TAGS:
        raise _bad(f"at most {MAX_TAGS} tags are allowed, got {len(tags)}")
    if pool["type"] == "Dedicate" and merged["maxCount"] != merged["count"]:
        raise _bad(
            f"maxCount ({merged['maxCount']}) must equal count ({merged['count']}) "
            "on a physical (Dedicate) pool"
        )
    step = merged.get("creatingStep", {}).get("step")
    if isinstance(step, int) and step > 0 and (merged["count"] % step or merged["maxCount"] % step):
        raise _bad(f"count and maxCount must be multiples of creatingStep.step ({step})")
