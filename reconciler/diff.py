"""Three-way comparison of one node pool and its minimal RFC 7396 merge patch (pure, no I/O).

    d = diff_nodepool(desired={"flavor": "f", "count": 3, "maxCount": 3},
                      live={"flavor": "f", "count": 2, "maxCount": 2}, applied=None)
    d.patch  # -> {"flavor": "f", "count": 3, "maxCount": 3}   (spec.resources of the PATCH body)

All documents are wire ``PoolResource`` dicts. ``desired`` holds only the fields np manages
(ignored fields already removed); ``applied`` is the last-applied document from state, or None
for a node pool np has not managed before (adoption: nothing is removed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from reconciler.model import REQUIRED_WIRE_FIELDS, RESERVED_TAG_PREFIXES

Reason = Literal["config", "drift", "removed-from-config", "default"]
"""Why a patch key is there; ``default`` marks a value np chose where the config is silent."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

# Arrays sent whole but computed by key, so entries np never managed survive.
_ENTRY_KEYS: dict[str, tuple[str, ...]] = {
    "tags": ("key",),
    "taints": ("key", "effect"),
    "azs": ("az",),
}
_ENTRY_FIELDS: dict[str, tuple[str, ...]] = {
    "tags": ("key", "value"),
    "taints": ("key", "value", "effect"),
    "azs": ("az", "count"),
}
# What a user reads as the value of a keyed entry (``tags.owner: "a" -> "b"``).
_ENTRY_VALUE: dict[str, str] = {"tags": "value", "azs": "count"}
# Patched key by key; removing the whole field from config nulls only the keys np applied.
_MAPS = frozenset({"labels", "extendParams"})
# Single objects, patched like maps: removing the block nulls only the sub-keys np applied, so
# a vpc or subnet np never managed survives.
_OBJECTS = frozenset({"network", "creatingStep", "os"})


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One wire path (inside ``spec.resources``) that the patch changes, and why."""

    path: str
    reason: Reason
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class DriftChange:
    """A managed value that moved away from last-applied outside np (wire path)."""

    path: str
    applied: Any
    live: Any


@dataclass(frozen=True, slots=True)
class Diff:
    patch: dict[str, Any] | None
    """``spec.resources`` of the PATCH body, or None when nothing changes (no request)."""
    changes: tuple[FieldChange, ...]


def diff_nodepool(
    desired: dict[str, Any], live: dict[str, Any], applied: dict[str, Any] | None
) -> Diff:
    """The smallest merge patch that makes every managed field of ``live`` equal ``desired``."""
    changes: list[FieldChange] = []
    patch: dict[str, Any] = {}
    fields = list(desired) + [f for f in (applied or {}) if f not in desired]
    for field in fields:
        d = desired.get(field, MISSING)
        lv = live.get(field, MISSING)
        if d == lv:  # the common case, compared in C: nothing to send whatever was applied
            continue
        a = MISSING if applied is None else applied.get(field, MISSING)
        value = _diff_field(field, d, lv, a, changes)
        if value is not MISSING:
            patch[field] = value
    if not changes:
        return Diff(None, ())
    required = {name: desired.get(name, live.get(name)) for name in REQUIRED_WIRE_FIELDS}
    if required["maxCount"] is None:
        required["maxCount"] = required["count"]
    body = required | {k: v for k, v in patch.items() if k not in required}
    return Diff(body, tuple(changes))


def drift_of(applied: dict[str, Any], live: dict[str, Any]) -> list[DriftChange]:
    """Managed values in ``applied`` (last-applied) that live no longer matches."""
    drift: list[DriftChange] = []
    for field, a in applied.items():
        lv = live.get(field)
        if lv == a:  # the common case, compared in C
            continue
        if field in _ENTRY_KEYS:
            live_entries = _by_key(field, lv)
            for key, entry in _by_key(field, a).items():
                found = live_entries.get(key)
                if found is None or _project(field, found) != _project(field, entry):
                    shown = _shown(field, entry), _shown(field, found)
                    drift.append(DriftChange(f"{field}.{key}", *shown))
        elif isinstance(a, dict) and (field in _MAPS or field in _OBJECTS):
            live_map = lv if isinstance(lv, dict) else {}
            for key, value in a.items():
                if live_map.get(key) != value:
                    drift.append(DriftChange(f"{field}.{key}", value, live_map.get(key)))
        elif lv != a:
            drift.append(DriftChange(field, a, lv))
    return drift


def adopted_applied(desired: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
    """Last-applied for a node pool np adopts without changing it (``np import``): what is live,
    for exactly the fields, map keys and entries that ``desired`` manages. Nothing np did not
    apply can later be "removed from config", and nothing live shows as drift."""
    adopted: dict[str, Any] = {}
    for field, want in desired.items():
        lv = live.get(field)
        if lv is None:
            continue
        if field in _ENTRY_KEYS:
            wanted = _by_key(field, want)
            entries = lv if isinstance(lv, list) else []
            kept = [entry for entry in entries if _entry_key(field, entry) in wanted]
            if kept:
                adopted[field] = kept
        elif (field in _MAPS or field in _OBJECTS) and isinstance(want, dict):
            if isinstance(lv, dict):
                kept_map = {key: lv[key] for key in want if lv.get(key) is not None}
                if kept_map:
                    adopted[field] = kept_map
        else:
            adopted[field] = lv
    return adopted


def _reason(applied_matches_desired: bool) -> Reason:
    """``drift`` when config still says what np last applied, so live moved; else ``config``
    (also when nothing was applied: MISSING never equals a desired value)."""
    return "drift" if applied_matches_desired else "config"


def _diff_field(field: str, d: Any, lv: Any, a: Any, changes: list[FieldChange]) -> Any:
    """Return the patch value for one top-level field, or MISSING when it does not change."""
    if field in _ENTRY_KEYS:
        return _diff_keyed(field, d, lv, a, changes)
    if field in _MAPS or field in _OBJECTS:
        return _diff_map(field, d, lv, a, changes)
    if d is MISSING:
        if field in REQUIRED_WIRE_FIELDS or lv is MISSING or lv is None:
            return MISSING
        changes.append(FieldChange(field, "removed-from-config", lv, None))
        return None
    if lv is not MISSING and lv == d:
        return MISSING
    changes.append(FieldChange(field, _reason(a == d), _present(lv), d))
    return d


def _diff_map(field: str, d: Any, lv: Any, a: Any, changes: list[FieldChange]) -> Any:
    desired = d if isinstance(d, dict) else {}
    live = lv if isinstance(lv, dict) else {}
    applied = a if isinstance(a, dict) else {}
    out: dict[str, Any] = {}
    for key, value in desired.items():
        current = live.get(key, MISSING)
        if current is MISSING or current != value:
            was = applied.get(key, MISSING)
            why = _reason(was == value)
            changes.append(FieldChange(f"{field}.{key}", why, _present(current), value))
            out[key] = value
    for key in applied:
        if key not in desired and key in live and live[key] is not None:
            changes.append(FieldChange(f"{field}.{key}", "removed-from-config", live[key], None))
            out[key] = None
    return out if out else MISSING


def _diff_keyed(field: str, d: Any, lv: Any, a: Any, changes: list[FieldChange]) -> Any:
    desired = _by_key(field, d)
    applied = _by_key(field, a)
    result: list[Any] = []
    seen: set[str] = set()
    before = len(changes)

    def want_entry(key: str, current: Any) -> None:
        want = desired[key]
        was = applied.get(key, MISSING)
        why = _reason(_project(field, was) == _project(field, want))
        shown = _shown(field, current), _shown(field, want)
        changes.append(FieldChange(f"{field}.{key}", why, *shown))

    for entry in lv if isinstance(lv, list) else []:
        key = _entry_key(field, entry)
        if key in desired:
            seen.add(key)
            if _project(field, entry) == _project(field, desired[key]):
                result.append(entry)
                continue
            extras = {k: v for k, v in entry.items() if k not in _ENTRY_FIELDS[field]}
            result.append(extras | desired[key])
            want_entry(key, entry)
        elif key in applied:
            gone = FieldChange(f"{field}.{key}", "removed-from-config", _shown(field, entry), None)
            changes.append(gone)
        else:
            result.append(entry)
    for key in desired:
        if key not in seen:
            result.append(desired[key])
            want_entry(key, None)
    return result if len(changes) > before else MISSING


def entry_count_total(azs: Any) -> int:
    """The nodes an ``azs`` list spreads (entries without an integer count add nothing)."""
    entries = azs if isinstance(azs, list) else []
    return sum(
        e["count"]
        for e in entries
        if isinstance(e, dict)
        and isinstance(e.get("count"), int)
        and not isinstance(e["count"], bool)
    )


def reserved_tag_keys(tags: Any) -> list[str]:
    """Tag keys the service reserves (``CCE-…``, ``__type_baremetal…``): a request that carries
    one is refused, so a tags patch cannot echo them back."""
    entries = tags if isinstance(tags, list) else []
    keys = {
        str(e.get("key"))
        for e in entries
        if isinstance(e, dict) and str(e.get("key", "")).startswith(RESERVED_TAG_PREFIXES)
    }
    return sorted(keys)


def _entry_key(field: str, entry: Any) -> str:
    if not isinstance(entry, dict):
        return repr(entry)
    return ":".join(str(entry.get(part, "")) for part in _ENTRY_KEYS[field])


def _by_key(field: str, entries: Any) -> dict[str, Any]:
    if not isinstance(entries, list):
        return {}
    return {_entry_key(field, entry): entry for entry in entries}


def _project(field: str, entry: Any) -> tuple[Any, ...]:
    """The fields of an entry np compares; an empty string and an absent value are the same."""
    if not isinstance(entry, dict):
        return (entry,)
    return tuple(
        entry.get(part) if entry.get(part) != "" else None for part in _ENTRY_FIELDS[field]
    )


def _shown(field: str, entry: Any) -> Any:
    """An entry as a user reads it: a tag by its value, an AZ by its count, a taint whole."""
    if field in _ENTRY_VALUE and isinstance(entry, dict):
        return entry.get(_ENTRY_VALUE[field])
    return entry


def _present(value: Any) -> Any:
    return None if value is MISSING else value
