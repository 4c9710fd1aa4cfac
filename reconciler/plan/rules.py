"""What the ModelArts API would refuse, refused at plan time with the field that causes it,
and np's defaults for ``maxCount`` (pure).

A physical (``Dedicate``) pool keeps ``maxCount == count``; AZ counts add up to ``count``;
reserved tags cannot be sent; ``provider``, ``pool`` and ``name`` of a managed address never
change in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from reconciler.config.configuration import DesiredNodePool
from reconciler.diff import FieldChange, entry_count_total, reserved_tag_keys
from reconciler.live import LivePool

if TYPE_CHECKING:
    from reconciler.state.document import ResourceState

Refuse = Callable[[str, str], None]
"""Record a plan error: (message, field)."""

DEDICATE = "Dedicate"


def identity_changed(desired_np: DesiredNodePool, prior: ResourceState, error: Refuse) -> None:
    """``pool``/``name`` of a managed address cannot change in place: the old node pool would
    be orphaned, still running and no longer mentioned by any plan."""
    field_name = "pool" if prior.pool != desired_np.pool else "name"
    error(
        f"{field_name} cannot change on a managed node pool (state: {prior.pool}/{prior.name}, "
        f"configuration: {desired_np.pool}/{desired_np.name}). To give the node pool another "
        f'address, change only the block label and keep name = "{prior.name}" in it (the '
        "label is the name unless name is written); to replace it, add a new block for "
        f"{desired_np.pool}/{desired_np.name} and remove this one, so that the plan shows the "
        "create and the destroy",
        field_name,
    )


def provider_changed(desired_np: DesiredNodePool, prior: ResourceState, error: Refuse) -> None:
    """The provider of a managed address cannot change: the node pool lives in its provider's
    region (and project), and following the block to another one would orphan it there."""
    error(
        f"provider cannot change on a managed node pool (state: {prior.provider}, "
        f"configuration: {desired_np.provider}): {prior.pool}/{prior.name} lives where its "
        f"provider points. To keep managing it, set provider back to {prior.provider}; to "
        f"replace it with a node pool of {desired_np.provider}, add a new block for that one "
        "and remove this one, so that the plan shows the create and the destroy",
        "provider",
    )


def unowned_max_count(desired_np: DesiredNodePool, live_pool: LivePool) -> set[str]:
    """``{"maxCount"}`` where np does not own it: a Logical pool whose block leaves max_count
    out (state written by older versions may still hold the old default)."""
    if live_pool.type == DEDICATE or "max_count" in desired_np.fields:
        return set()
    return {"maxCount"}


def default_max_count(
    desired_np: DesiredNodePool,
    desired: dict[str, Any],
    ignored: set[str],
    live_pool: LivePool,
    current: dict[str, Any] | None,
) -> dict[str, Any]:
    """``maxCount`` when ``max_count`` is not written: ``count`` on a physical pool and on a new
    node pool; on a Logical pool the live maximum while it is ≥ count (raised to count
    otherwise), so leaving ``max_count`` out never lowers a maximum set in the console."""
    if "count" not in desired or "max_count" in desired_np.fields or "maxCount" in ignored:
        return {}
    count = desired["count"]
    if current is None or live_pool.type == DEDICATE:
        return {"maxCount": count}
    live_max = current.get("maxCount")
    if isinstance(live_max, int) and not isinstance(live_max, bool) and live_max >= count:
        return {}
    return {"maxCount": count}


def defaults_marked(
    changes: tuple[FieldChange, ...], defaulted: dict[str, Any], live_pool: LivePool
) -> tuple[FieldChange, ...]:
    """A Logical pool's ``maxCount`` raised to ``count`` is np's default, not configuration."""
    if live_pool.type == DEDICATE:
        return changes
    return tuple(replace(c, reason="default") if c.path in defaulted else c for c in changes)


def consistent(
    desired_np: DesiredNodePool,
    desired: dict[str, Any],
    after: dict[str, Any],
    current: dict[str, Any] | None,
    live_pool: LivePool,
    patch: dict[str, Any] | None,
    error: Refuse,
) -> bool:
    """What the API would refuse, refused at plan time with the field that causes it."""
    ok = True
    count = after.get("count")
    if live_pool.type == DEDICATE and after.get("maxCount", count) != count:
        error(
            f"max_count ({after.get('maxCount')}) must equal count ({count}) "
            f'on physical (Dedicate) pool "{live_pool.name}"',
            "max_count" if "max_count" in desired_np.fields else "count",
        )
        ok = False
    if "azs" in desired and patch is not None and isinstance(count, int):
        total = entry_count_total(after.get("azs"))
        if total != count:
            declared = {entry["az"] for entry in desired["azs"]}
            others = [
                f"{e.get('az')} ({e.get('count')})"
                for e in after.get("azs") or []
                if isinstance(e, dict) and e.get("az") not in declared
            ]
            hint = (
                f"; live also has {', '.join(others)}, which the configuration does not list: "
                "add each of them to azs (with count = 0 to empty it)"
                if others
                else ""
            )
            error(f"the AZ counts add up to {total}, but count is {count}{hint}", "azs")
            ok = False
    if current is not None and patch is not None and "tags" in patch:
        reserved = reserved_tag_keys(current.get("tags"))
        if reserved:
            error(
                f"this node pool carries tags reserved by the service ({', '.join(reserved)}); "
                "the API refuses a request that carries them, and np sends tags whole, so np "
                "cannot change tags here: leave tags out of this block or add it to "
                "lifecycle.ignore_changes",
                "tags",
            )
            ok = False
    return ok
