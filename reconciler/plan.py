"""The plan: for every address, what np will do, why, and what drifted (pure: no I/O).

live = await fetch_live(client, pools_of(config, state), parallelism=10, managed=...)
plan = make_plan(config, state, live)          # raises PlanError, never sends
plan.summary  # -> Summary(add=0, change=1, destroy=0, drift=1)

A node pool's identity is (pool, name), not its address: when a state address and a declared
address point to the same node pool, the plan moves the state entry and sends nothing, and a
plan never deletes a node pool that a block declares.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from reconciler.config.names import new_name_problem
from reconciler.config.types import Configuration, DesiredNodePool
from reconciler.diff import (
    DriftChange,
    FieldChange,
    adopted_applied,
    diff_nodepool,
    drift_of,
    entry_count_total,
    reserved_tag_keys,
)
from reconciler.errors import Diagnostic, PlanError
from reconciler.jsonmerge import apply_merge_patch
from reconciler.live import LivePool, LiveWorld
from reconciler.model import CONFIG_NAMES, WIRE_NAMES, desired_to_wire, without_keys

if TYPE_CHECKING:
    from reconciler.state.document import ResourceState, State

Action = Literal["no-op", "create", "update", "delete"]

DEDICATE = "Dedicate"


@dataclass(frozen=True, slots=True)
class ResourceChange:
    address: str
    pool: str
    name: str
    action: Action
    adopted: bool = False
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    """The exact request body (PATCH for update, POST for create); None otherwise."""
    changes: tuple[FieldChange, ...] = ()
    applied: dict[str, Any] | None = None
    """What becomes last-applied in state when this succeeds (None: forget the address)."""
    prevent_destroy: bool = False
    drift: tuple[DriftChange, ...] = ()
    records_state: bool = False
    """True when apply must write state even though no request is sent."""
    moved_from: str | None = None
    """The state address this one takes over (a rename: no request for the move itself)."""
    forgets: bool = False
    """State drops this address: its node pool no longer exists (a direct read said so)."""

    @property
    def reasons(self) -> dict[str, str]:
        return {change.path: change.reason for change in self.changes}

    @property
    def sends_request(self) -> bool:
        return self.action != "no-op"

    def same_changes(self, other: ResourceChange) -> bool:
        """True when ``other`` changes exactly the values reviewed, from the same values to the
        same values: what moved elsewhere is kept, a value someone changed meanwhile is not
        overwritten."""
        return self.action == other.action and _changed(self) == _changed(other)


def _changed(change: ResourceChange) -> set[tuple[str, str, str]]:
    return {
        (c.path, json.dumps(c.before, sort_keys=True), json.dumps(c.after, sort_keys=True))
        for c in change.changes
    }


@dataclass(frozen=True, slots=True)
class Summary:
    add: int
    change: int
    destroy: int
    drift: int


@dataclass(frozen=True, slots=True)
class Plan:
    lineage: str
    serial: int
    resources: tuple[ResourceChange, ...]
    partial: bool = False
    warnings: tuple[str, ...] = field(default=())

    @property
    def summary(self) -> Summary:
        actions = [r.action for r in self.resources]
        drifted = sum(1 for r in self.resources if r.drift)
        return Summary(
            actions.count("create"), actions.count("update"), actions.count("delete"), drifted
        )

    @property
    def has_changes(self) -> bool:
        return any(r.sends_request for r in self.resources)

    @property
    def applyable(self) -> bool:
        return any(r.sends_request or r.records_state for r in self.resources)


def fingerprint(resources: dict[str, Any] | None) -> str:
    """A stable digest of a live spec, so apply can tell that live moved since the plan."""
    canonical = json.dumps(resources, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def pools_of(config: Configuration, state: State) -> set[str]:
    return {np.pool for np in config.nodepools} | {r.pool for r in state.resources.values()}


def managed_nodepools(state: State) -> set[tuple[str, str]]:
    """The (pool, name) of every managed node pool: what a live read must confirm before np
    believes one is gone."""
    return {(r.pool, r.name) for r in state.resources.values()}


def select(addresses: Iterable[str], targets: Sequence[str], excludes: Sequence[str]) -> set[str]:
    """Addresses kept by ``--target``/``--exclude`` (exact addresses)."""
    chosen = set(addresses)
    if targets:
        chosen &= set(targets)
    return chosen - set(excludes)


def make_plan(
    config: Configuration,
    state: State,
    live: LiveWorld,
    *,
    targets: Sequence[str] = (),
    excludes: Sequence[str] = (),
) -> Plan:
    """Compare config, live and last-applied for every address. Pure; raises PlanError."""
    errors: list[Diagnostic] = []
    declared = {np.address: np for np in config.nodepools}
    moves = _moves(config, state, declared, errors)
    moved_away = set(moves.values())
    known = set(declared) | (set(state.resources) - moved_away)
    renamed = {old: new for new, old in moves.items()}
    for address in (*targets, *excludes):
        if address not in known and address not in renamed:
            errors.append(
                Diagnostic("no such address in the configuration or state", None, address)
            )
    chosen = select(
        known, [renamed.get(a, a) for a in targets], [renamed.get(a, a) for a in excludes]
    )
    resources: list[ResourceChange] = []
    for address in sorted(chosen):
        desired = declared.get(address)
        if desired is not None:
            old = moves.get(address)
            prior = state.resources.get(old or address)
            change = _plan_declared(desired, prior, live, errors)
            if change is not None and old is not None:
                change = replace(change, moved_from=old, adopted=False, records_state=True)
        else:
            change = _plan_removed(address, state.resources[address], live, declared, errors)
        if change is not None:
            resources.append(change)
    if errors:
        raise PlanError(errors)
    warnings: tuple[str, ...] = ()
    if targets or excludes:
        warnings = (
            "Resource targeting is in effect: the plan may be incomplete. Use --target and "
            "--exclude only for exceptional situations, and run a full plan afterwards.",
        )
    return Plan(state.lineage, state.serial, tuple(resources), bool(targets or excludes), warnings)


def _moves(
    config: Configuration,
    state: State,
    declared: dict[str, DesiredNodePool],
    errors: list[Diagnostic],
) -> dict[str, str]:
    """New address → the state address it takes over: ``moved`` blocks first, then identity
    (a declared address not in state whose node pool a no-longer-declared address manages)."""
    moves: dict[str, str] = {}
    for moved in config.moved:
        if moved.from_address not in state.resources:
            continue  # moved already (or never managed): nothing to do, as in Terraform
        if moved.to_address in state.resources:
            errors.append(
                Diagnostic(
                    f"cannot move {moved.from_address} to {moved.to_address}: both are in "
                    f"state; run `np state rm` on the one that is wrong",
                    moved.pos,
                    "moved",
                )
            )
            continue
        moves[moved.to_address] = moved.from_address
    orphans: dict[tuple[str, str], list[str]] = {}
    for address, resource in state.resources.items():
        if address not in declared and address not in moves.values():
            orphans.setdefault((resource.pool, resource.name), []).append(address)
    for address, desired in declared.items():
        if address in state.resources or address in moves:
            continue
        holders = orphans.get((desired.pool, desired.name), [])
        if len(holders) == 1:
            moves[address] = holders[0]
        elif holders:
            errors.append(
                Diagnostic(
                    f"state records {desired.pool}/{desired.name} under {len(holders)} addresses "
                    f"({', '.join(sorted(holders))}); run `np state rm` on all but one",
                    desired.pos,
                    address,
                )
            )
    return moves


def _ignored_wire(desired_np: DesiredNodePool) -> set[str]:
    """Wire fields np neither changes nor reports for this block (``ignore_changes``)."""
    lifecycle = desired_np.lifecycle
    if lifecycle.ignore_all:
        return set(CONFIG_NAMES)
    ignored = {WIRE_NAMES[f] for f in lifecycle.ignore_changes}
    if "count" in lifecycle.ignore_changes and "max_count" not in desired_np.fields:
        ignored.add("maxCount")
    return ignored


def _ignored_keys(desired_np: DesiredNodePool) -> set[tuple[str, str]]:
    return {(WIRE_NAMES[f], key) for f, key in desired_np.lifecycle.ignore_keys}


def _plan_declared(
    desired_np: DesiredNodePool,
    prior: ResourceState | None,
    live: LiveWorld,
    errors: list[Diagnostic],
) -> ResourceChange | None:
    address, pool, name = desired_np.address, desired_np.pool, desired_np.name

    def error(message: str, field_name: str) -> None:
        pos = desired_np.field_pos.get(field_name, desired_np.pos)
        errors.append(Diagnostic(message, pos, address, field_name))

    if prior is not None and (prior.pool, prior.name) != (pool, name):
        _identity_changed(desired_np, prior, error)
        return None
    live_pool = live.pools.get(pool)
    if live_pool is None:
        error(f'resource pool "{pool}" does not exist', "pool")
        return None
    current = live_pool.nodepools.get(name)
    written = desired_to_wire(desired_np.fields)
    if current is None:
        return _plan_create(desired_np, written, live_pool, error)
    ignored = _ignored_wire(desired_np)
    ignored_keys = _ignored_keys(desired_np)
    desired = without_keys({k: v for k, v in written.items() if k not in ignored}, ignored_keys)
    defaulted = _default_max_count(desired_np, desired, ignored, live_pool, current)
    unowned = ignored | _unowned_max_count(desired_np, live_pool)
    applied = None
    if prior is not None:
        kept = {k: v for k, v in prior.applied.items() if k not in unowned}
        applied = without_keys(kept, ignored_keys)
    if "flavor" in desired and desired["flavor"] != current.get("flavor"):
        error(
            f'flavor cannot change on an existing node pool (live "{current.get("flavor")}", '
            f'config "{desired["flavor"]}"); create a new node pool instead',
            "flavor",
        )
        return None
    diff = diff_nodepool(desired | defaulted, current, applied)
    after = current if diff.patch is None else apply_merge_patch(current, diff.patch)
    if not _consistent(desired_np, desired, after, current, live_pool, diff.patch, error):
        return None
    last_applied = _last_applied(desired, defaulted, live_pool)
    return ResourceChange(
        address=address,
        pool=pool,
        name=name,
        action="no-op" if diff.patch is None else "update",
        adopted=prior is None,
        before=current,
        after=after,
        body=None if diff.patch is None else {"spec": {"resources": diff.patch}},
        changes=_defaults_marked(diff.changes, defaulted, live_pool),
        applied=last_applied,
        prevent_destroy=desired_np.lifecycle.prevent_destroy,
        drift=tuple(drift_of(applied, current)) if applied is not None else (),
        records_state=prior is None
        or {k: v for k, v in prior.applied.items() if k not in unowned - ignored} != last_applied
        or prior.prevent_destroy != desired_np.lifecycle.prevent_destroy,
    )


def _last_applied(
    desired: dict[str, Any], defaulted: dict[str, Any], live_pool: LivePool
) -> dict[str, Any]:
    """What state records as applied: the managed fields, and ``maxCount`` where np owns its
    default (physical pools, where it must equal count). On a Logical pool the default only
    keeps maxCount ≥ count; recording it would turn a console change into drift."""
    owned = defaulted if live_pool.type == DEDICATE else {}
    return _in_wire_order(desired | owned)


def _identity_changed(
    desired_np: DesiredNodePool, prior: ResourceState, error: Callable[[str, str], None]
) -> None:
    """``pool``/``name`` of a managed address cannot change in place: the old node pool would
    be orphaned, still running and no longer mentioned by any plan."""
    field_name = "pool" if prior.pool != desired_np.pool else "name"
    error(
        f"{field_name} cannot change on a managed node pool (state: {prior.pool}/{prior.name}, "
        f"configuration: {desired_np.pool}/{desired_np.name}). To give the node pool another "
        "address, change only the block label; to replace it, add a new block for "
        f"{desired_np.pool}/{desired_np.name} and remove this one, so that the plan shows the "
        "create and the destroy",
        field_name,
    )


def _unowned_max_count(desired_np: DesiredNodePool, live_pool: LivePool) -> set[str]:
    """``{"maxCount"}`` where np does not own it: a Logical pool whose block leaves max_count
    out (state written by older versions may still hold the old default)."""
    if live_pool.type == DEDICATE or "max_count" in desired_np.fields:
        return set()
    return {"maxCount"}


def _default_max_count(
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


def _defaults_marked(
    changes: tuple[FieldChange, ...], defaulted: dict[str, Any], live_pool: LivePool
) -> tuple[FieldChange, ...]:
    """A Logical pool's ``maxCount`` raised to ``count`` is np's default, not configuration."""
    if live_pool.type == DEDICATE:
        return changes
    return tuple(replace(c, reason="default") if c.path in defaulted else c for c in changes)


def _consistent(
    desired_np: DesiredNodePool,
    desired: dict[str, Any],
    after: dict[str, Any],
    current: dict[str, Any] | None,
    live_pool: LivePool,
    patch: dict[str, Any] | None,
    error: Callable[[str, str], None],
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


def _plan_create(
    desired_np: DesiredNodePool,
    written: dict[str, Any],
    live_pool: LivePool,
    error: Callable[[str, str], None],
) -> ResourceChange | None:
    missing = [f for f in ("flavor", "count") if f not in written]
    if missing:
        error(
            f'node pool "{desired_np.name}" does not exist in pool "{live_pool.name}"; '
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required to create it",
            missing[0],
        )
        return None
    bad_name = new_name_problem(desired_np.name)
    if bad_name:
        error(bad_name, "name")
        return None
    defaulted = _default_max_count(desired_np, written, set(), live_pool, None)
    desired = _in_wire_order(written | defaulted)
    if not _consistent(desired_np, desired, desired, None, live_pool, desired, error):
        return None
    body = {
        "apiVersion": "v2",
        "kind": "NodePool",
        "metadata": {"name": desired_np.name},
        "spec": {"resources": desired},
    }
    changes = _defaults_marked(
        tuple(FieldChange(path, "config", None, value) for path, value in desired.items()),
        defaulted,
        live_pool,
    )
    ignored = _ignored_wire(desired_np)
    managed = {k: v for k, v in written.items() if k not in ignored}
    return ResourceChange(
        address=desired_np.address,
        pool=desired_np.pool,
        name=desired_np.name,
        action="create",
        after=desired,
        body=body,
        changes=changes,
        applied=_last_applied(
            without_keys(managed, _ignored_keys(desired_np)), defaulted, live_pool
        ),
        prevent_destroy=desired_np.lifecycle.prevent_destroy,
        records_state=True,
    )


def _in_wire_order(wire: dict[str, Any]) -> dict[str, Any]:
    order = {name: index for index, name in enumerate(CONFIG_NAMES)}
    return dict(sorted(wire.items(), key=lambda item: order.get(item[0], len(order))))


def _plan_removed(
    address: str,
    prior: ResourceState,
    live: LiveWorld,
    declared: dict[str, DesiredNodePool],
    errors: list[Diagnostic],
) -> ResourceChange | None:
    current = live.nodepool(prior.pool, prior.name)
    if current is None:
        # Gone already (a direct read said so): nothing to send, state forgets it.
        return ResourceChange(
            address, prior.pool, prior.name, "no-op", records_state=True, forgets=True
        )
    claimed = [d.address for d in declared.values() if (d.pool, d.name) == (prior.pool, prior.name)]
    if claimed:  # a plan never deletes a node pool that a block declares
        errors.append(
            Diagnostic(
                f"not in the configuration, but {', '.join(claimed)} declares its node pool "
                f"{prior.pool}/{prior.name}; np will not delete it. Run `np state mv {address} "
                f"{claimed[0]}` to give it the new address",
                None,
                address,
            )
        )
        return None
    if prior.prevent_destroy:
        errors.append(
            Diagnostic(
                "removed from the configuration, but lifecycle.prevent_destroy was set when it "
                "was last applied; restore the block, or run `np state rm "
                f"{address}` to stop managing it without deleting it",
                None,
                address,
            )
        )
        return None
    siblings = live.pools[prior.pool].nodepools
    if len(siblings) <= 1:
        errors.append(
            Diagnostic(
                f'cannot delete the last node pool of pool "{prior.pool}"; a pool keeps at '
                f"least one node pool (run `np state rm {address}` to stop managing it)",
                None,
                address,
            )
        )
        return None
    return ResourceChange(
        address,
        prior.pool,
        prior.name,
        "delete",
        before=current,
        changes=tuple(FieldChange(p, "removed-from-config", v, None) for p, v in current.items()),
        drift=tuple(drift_of(prior.applied, current)),
        records_state=True,
    )


def replan(
    config: Configuration,
    state: State,
    live: LiveWorld,
    change: ResourceChange,
    fresh: dict[str, Any],
) -> ResourceChange | None:
    """``change`` planned again with its node pool as just read (None: it no longer plans, e.g.
    a flavor changed in the console). Apply sends the result only if it makes the same changes
    that were reviewed: ignored fields and entries others own then come from the fresh read."""
    pool = live.pools[change.pool]
    nodepools = {**pool.nodepools, change.name: fresh}
    world = LiveWorld({**live.pools, change.pool: replace(pool, nodepools=nodepools)})
    try:
        again = make_plan(config, state, world, targets=[change.address])
    except PlanError:
        return None
    return again.resources[0] if again.resources else None


def adoption(desired_np: DesiredNodePool, live: LiveWorld) -> dict[str, Any] | None:
    """Last-applied for adopting a declared node pool as it is (``np import``): the document np
    manages on it, with the values live has, so nothing np did not apply can later be removed
    and nothing shows as drift. None when the node pool does not exist."""
    live_pool = live.pools.get(desired_np.pool)
    current = live.nodepool(desired_np.pool, desired_np.name)
    if live_pool is None or current is None:
        return None
    ignored = _ignored_wire(desired_np)
    written = desired_to_wire(desired_np.fields)
    desired = without_keys(
        {k: v for k, v in written.items() if k not in ignored}, _ignored_keys(desired_np)
    )
    defaulted = _default_max_count(desired_np, desired, ignored, live_pool, current)
    return adopted_applied(_last_applied(desired, defaulted, live_pool), current)
