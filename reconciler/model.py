"""ModelArts wire models (camelCase, as the official SDK names them) and the desired ↔ wire map.

Live objects keep every field the API sends, known or not, so np never drops what it does not
understand; the diff works on the plain dicts and the models only check their shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reconciler.errors import NpError


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


_W = TypeVar("_W", bound=_Wire)


class PoolNodeAz(_Wire):
    az: str
    count: int


class Taint(_Wire):
    key: str
    value: str | None = None
    effect: str


class UserTag(_Wire):
    key: str
    value: str | None = None


class NodeNetwork(_Wire):
    vpc: str | None = None
    subnet: str | None = None
    security_groups: list[str] | None = Field(default=None, alias="securityGroups")


class CreatingStep(_Wire):
    step: int
    type: str


class Os(_Wire):
    name: str | None = None
    image_id: str | None = Field(default=None, alias="imageId")
    image_type: str | None = Field(default=None, alias="imageType")
    auto_match: bool | None = Field(default=None, alias="autoMatch")


class PoolResource(_Wire):
    flavor: str
    count: int
    max_count: int | None = Field(default=None, alias="maxCount")
    azs: list[PoolNodeAz] | None = None
    node_pool: str | None = Field(default=None, alias="nodePool")
    taints: list[Taint] | None = None
    labels: dict[str, str] | None = None
    tags: list[UserTag] | None = None
    network: NodeNetwork | None = None
    extend_params: dict[str, Any] | None = Field(default=None, alias="extendParams")
    creating_step: CreatingStep | None = Field(default=None, alias="creatingStep")
    os: Os | None = None


class NodePoolMetadata(_Wire):
    name: str


class NodePoolSpec(_Wire):
    resources: PoolResource


class NodePool(_Wire):
    api_version: str | None = Field(default=None, alias="apiVersion")
    kind: str | None = None
    metadata: NodePoolMetadata
    spec: NodePoolSpec


class PoolMetadata(_Wire):
    name: str


class PoolSpec(_Wire):
    type: str | None = None


class Pool(_Wire):
    metadata: PoolMetadata
    spec: PoolSpec = PoolSpec()


# Top-level config field → wire field, and nested renames inside the single objects.
WIRE_NAMES: dict[str, str] = {
    "flavor": "flavor",
    "count": "count",
    "max_count": "maxCount",
    "azs": "azs",
    "labels": "labels",
    "taints": "taints",
    "tags": "tags",
    "extend_params": "extendParams",
    "network": "network",
    "creating_step": "creatingStep",
    "os": "os",
}
CONFIG_NAMES: dict[str, str] = {wire: name for name, wire in WIRE_NAMES.items()}
_NESTED_WIRE_NAMES: dict[str, dict[str, str]] = {
    "network": {"security_groups": "securityGroups"},
    "os": {"image_id": "imageId", "image_type": "imageType", "auto_match": "autoMatch"},
}
_NESTED_CONFIG_NAMES = {
    field: {wire: name for name, wire in names.items()}
    for field, names in _NESTED_WIRE_NAMES.items()
}

# The API requires these three in every PATCH.
REQUIRED_WIRE_FIELDS = ("flavor", "count", "maxCount")
# Tag keys the service sets and refuses in requests.
RESERVED_TAG_PREFIXES = ("CCE-", "__type_baremetal")


def desired_to_wire(
    fields: Mapping[str, Any], ignore: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Map config fields to the wire ``PoolResource`` they describe, minus ignored fields.

    No defaults here: ``maxCount`` when ``max_count`` is left out depends on the pool's type and
    on live, which the planner knows.
    """
    wire: dict[str, Any] = {}
    for name, value in fields.items():
        if name in ignore:
            continue
        wire_name = WIRE_NAMES[name]
        if name == "tags":
            wire[wire_name] = [{"key": k, "value": v} for k, v in value.items()]
        elif name in _NESTED_WIRE_NAMES:
            renames = _NESTED_WIRE_NAMES[name]
            wire[wire_name] = {renames.get(k, k): v for k, v in value.items()}
        else:
            wire[wire_name] = value
    return in_wire_order(wire)


def without_keys(wire: dict[str, Any], keys: set[tuple[str, str]]) -> dict[str, Any]:
    """``wire`` minus single map keys (``("labels", "team")``, ``("tags", "owner")``), as
    ``lifecycle.ignore_changes = [labels["team"]]`` asks; a field left empty is dropped."""
    if not keys:
        return wire
    out = dict(wire)
    for field, key in keys:
        value = out.get(field)
        if isinstance(value, list):  # tags: [{key, value}]
            kept: Any = [e for e in value if not (isinstance(e, dict) and e.get("key") == key)]
        elif isinstance(value, dict):
            sub = _NESTED_WIRE_NAMES.get(CONFIG_NAMES.get(field, field), {}).get(key, key)
            kept = {k: v for k, v in value.items() if k != sub}
        else:
            continue
        if kept:
            out[field] = kept
        else:
            del out[field]
    return out


def wire_value_to_config(field: str, value: Any) -> Any:
    """A wire field's value in the configuration's shape: tags as a map, object keys in
    snake_case; anything np does not know stays as the API wrote it."""
    if field == "tags" and isinstance(value, list):
        if all(isinstance(e, dict) and isinstance(e.get("key"), str) for e in value):
            return {e["key"]: e.get("value") for e in value}
        return value
    renames = _NESTED_CONFIG_NAMES.get(CONFIG_NAMES.get(field, field))
    if renames and isinstance(value, dict):
        return {renames.get(k, k): v for k, v in value.items()}
    return value


def wire_to_config(resources: Mapping[str, Any]) -> dict[str, Any]:
    """A wire ``PoolResource`` as a user writes it in a block (``maxCount`` → ``max_count``)."""
    return {
        CONFIG_NAMES.get(field, field): wire_value_to_config(field, value)
        for field, value in resources.items()
    }


def wire_path_to_config(path: str) -> str:
    """``extendParams.dockerBaseSize`` → ``extend_params.dockerBaseSize``; map keys stay."""
    head, _, rest = path.partition(".")
    name = CONFIG_NAMES.get(head, head)
    if not rest:
        return name
    sub, dot, tail = rest.partition(".")
    sub = _NESTED_CONFIG_NAMES.get(head, {}).get(sub, sub)
    return f"{name}.{sub}{dot}{tail}"


def in_wire_order(wire: dict[str, Any]) -> dict[str, Any]:
    """Order fields as the wire model lists them, so bodies read the same every time (fields
    np does not know last, as they came)."""
    ordered = {name: wire[name] for name in CONFIG_NAMES if name in wire}
    if len(ordered) < len(wire):
        ordered |= {name: value for name, value in wire.items() if name not in ordered}
    return ordered


def _checked(model: type[_W], raw: Any, what: str) -> _W:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(part) for part in first["loc"])
        raise NpError(f"unexpected {what} from the API: {loc}: {first['msg']}") from None


def check_nodepool(raw: Any, where: str) -> dict[str, Any]:
    """Validate a live NodePool's shape and return its raw ``spec.resources`` (all fields kept)."""
    _checked(NodePool, raw, f"node pool {where}")
    resources: dict[str, Any] = raw["spec"]["resources"]
    return resources


def check_pool(raw: Any) -> tuple[str, str | None]:
    """Validate a live Pool's shape; return its name and type (``Dedicate`` or ``Logical``)."""
    pool = _checked(Pool, raw, "pool")
    return pool.metadata.name, pool.spec.type


STATUS_BUCKETS = ("creating", "available", "abnormal", "deleting")
FAILED_POOL_PHASES = frozenset({"Abnormal", "Error", "CreationFailed", "ScalingFailed"})


def pool_phase(raw_pool: Any) -> str | None:
    status = raw_pool.get("status") if isinstance(raw_pool, dict) else None
    phase = status.get("phase") if isinstance(status, dict) else None
    return phase if isinstance(phase, str) else None


def status_counts(raw_nodepool: Any) -> dict[str, int]:
    """Node counts per status bucket; a bucket is one object (SDK) or a list of them (docs)."""
    counts = dict.fromkeys(STATUS_BUCKETS, 0)
    try:
        buckets = raw_nodepool["status"]["resources"] or {}
    except (KeyError, TypeError):
        return counts
    for bucket in STATUS_BUCKETS:
        entries = buckets.get(bucket) if isinstance(buckets, dict) else None
        for entry in entries if isinstance(entries, list) else [entries]:
            if isinstance(entry, dict) and isinstance(entry.get("count"), int):
                counts[bucket] += entry["count"]
    return counts
