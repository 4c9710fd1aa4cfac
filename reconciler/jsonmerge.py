"""RFC 7396 JSON merge patch: apply a patch to a document (pure, no I/O).

apply_merge_patch({"a": 1, "b": {"c": 2}}, {"b": {"c": None}})  # -> {"a": 1, "b": {}}
"""

from __future__ import annotations

from typing import Any


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """Return a new document: ``target`` with ``patch`` merged in (inputs are not mutated)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result
