"""Making a plan: for every address, what np will do, why, and what drifted (pure: no I/O).

live = await fetch_live(client, pools_of(config, state), parallelism=10, managed=...)
plan = make_plan(config, state, live)          # raises PlanError, never sends
plan = make_plan(config, state, {"modelarts": live, "modelarts.hk": hk_live})

A node pool's identity is (provider, pool, name), not its address: when a state address and a
declared address point to the same node pool, the plan moves the state entry and sends
nothing, and a plan never deletes a node pool that a block declares. Each provider (region)
has its own live world; one ``LiveWorld`` alone is the default provider's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from reconciler.config.blocks.names import new_name_problem
from reconciler.config.configuration import Configuration, DesiredNodePool
from reconciler.diff import FieldChange, adopted_applied, diff_nodepool, drift_of
from reconciler.errors import Diagnostic, PlanError
from reconciler.identifiers import DEFAULT_PROVIDER
from reconciler.jsonmerge import apply_merge_patch
from reconciler.live import LivePool, LiveWorld, Worlds, worlds
from reconciler.model import (
    CONFIG_NAMES,
    WIRE_NAMES,
    desired_to_wire,
    in_wire_order,
    without_keys,
)
from reconciler.plan.changes import Plan, ResourceChange
from reconciler.plan.moves import find_moves, node_pool
from reconciler.plan.rules import (
    DEDICATE,
    Refuse,
    consistent,
    default_max_count,
    defaults_marked,
    identity_changed,
    provider_changed,
    unowned_max_count,
)
from reconciler.suggest import command

if TYPE_CHECKING:
    from reconciler.state.document import ResourceState, State

TARGETING_WARNING = (
    "Resource targeting is in effect: the plan may be incomplete. Use --target and --exclude "
    "only for exceptional situations, and run a full plan afterwards."
)


def pools_of(config: Configuration, state: State, provider: str = DEFAULT_PROVIDER) -> set[str]:
    """The resource pools of ``provider`` that the configuration or the state names."""
    declared = {np.pool for np in config.nodepools if np.provider == provider}
    return declared | {r.pool for r in state.resources.values() if r.provider == provider}


def managed_nodepools(state: State, provider: str = DEFAULT_PROVIDER) -> set[tuple[str, str]]:
    """The (pool, name) of every node pool managed through ``provider``: what a live read must
    confirm before np believes one is gone."""
    return {(r.pool, r.name) for r in state.resources.values() if r.provider == provider}


def select(addresses: Iterable[str], targets: Sequence[str], excludes: Sequence[str]) -> set[str]:
    """Addresses kept by ``--target``/``--exclude`` (exact addresses)."""
    chosen = set(addresses)
    if targets:
        chosen &= set(targets)
    return chosen - set(excludes)


def providers_needed(
    config: Configuration,
    state: State,
    targets: Sequence[str] = (),
    excludes: Sequence[str] = (),
) -> list[str]:
    """The providers a plan with this targeting reads, in address order: those of the chosen
    addresses (a region that ``--target``/``--exclude`` leaves out is not even asked). With no
    address at all, the default provider (its world and state identity are still checked)."""
    declared = {np.address: np for np in config.nodepools}
    _, _, chosen = _choose(config, state, declared, targets, excludes, [])
    needed = {
        declared[a].provider if a in declared else state.resources[a].provider for a in chosen
    }
    return sorted(needed) if needed or targets or excludes else [DEFAULT_PROVIDER]


def _choose(
    config: Configuration,
    state: State,
    declared: dict[str, DesiredNodePool],
    targets: Sequence[str],
    excludes: Sequence[str],
    errors: list[Diagnostic],
) -> tuple[dict[str, str], set[str], set[str]]:
    """The moves (new address → state address it takes over), the addresses known, and those
    the targeting chooses; an unknown address in ``--target``/``--exclude`` is an error."""
    moves = find_moves(config, state, declared, errors)
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
    return moves, known, chosen


def make_plan(
    config: Configuration,
    state: State,
    live: LiveWorld | Worlds,
    *,
    targets: Sequence[str] = (),
    excludes: Sequence[str] = (),
) -> Plan:
    """Compare config, live and last-applied for every address. Pure; raises PlanError.

    ``live``: each provider's world by address (one ``LiveWorld``: the default provider's)."""
    errors: list[Diagnostic] = []
    by_provider = worlds(live)
    declared = {np.address: np for np in config.nodepools}
    moves, _, chosen = _choose(config, state, declared, targets, excludes, errors)
    resources: list[ResourceChange] = []
    for address in sorted(chosen):
        desired = declared.get(address)
        if desired is not None:
            old = moves.get(address)
            prior = state.resources.get(old or address)
            change = _plan_declared(desired, prior, by_provider, errors)
            if change is not None and old is not None:
                change = replace(change, moved_from=old, adopted=False, records_state=True)
        else:
            prior = state.resources[address]
            change = _plan_removed(address, prior, by_provider, declared, errors)
        if change is not None:
            resources.append(change)
    if errors:
        raise PlanError(errors)
    warnings: tuple[Diagnostic, ...] = ()
    if targets or excludes:
        warnings = (Diagnostic(TARGETING_WARNING),)
    return Plan(state.lineage, state.serial, tuple(resources), warnings)


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
    by_provider: Worlds,
    errors: list[Diagnostic],
) -> ResourceChange | None:
    address, pool, name = desired_np.address, desired_np.pool, desired_np.name

    def error(message: str, field_name: str) -> None:
        pos = desired_np.field_pos.get(field_name, desired_np.pos)
        errors.append(Diagnostic(message, pos, address, field_name))

    if prior is not None and prior.provider != desired_np.provider:
        provider_changed(desired_np, prior, error)
        return None
    if prior is not None and (prior.pool, prior.name) != (pool, name):
        identity_changed(desired_np, prior, error)
        return None
    live = _world(by_provider, desired_np.provider)
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
    defaulted = default_max_count(desired_np, desired, ignored, live_pool, current)
    unowned = ignored | unowned_max_count(desired_np, live_pool)
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
    diff = diff_nodepool(in_wire_order(desired | defaulted), current, applied)
    after = current if diff.patch is None else apply_merge_patch(current, diff.patch)
    if not consistent(desired_np, desired, after, current, live_pool, diff.patch, error):
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
        changes=defaults_marked(diff.changes, defaulted, live_pool),
        applied=last_applied,
        prevent_destroy=desired_np.lifecycle.prevent_destroy,
        drift=tuple(drift_of(applied, current)) if applied is not None else (),
        records_state=prior is None
        or {k: v for k, v in prior.applied.items() if k not in unowned - ignored} != last_applied
        or prior.prevent_destroy != desired_np.lifecycle.prevent_destroy,
        provider=desired_np.provider,
    )


def _last_applied(
    desired: dict[str, Any], defaulted: dict[str, Any], live_pool: LivePool
) -> dict[str, Any]:
    """What state records as applied: the managed fields, and ``maxCount`` where np owns its
    default (physical pools, where it must equal count). On a Logical pool the default only
    keeps maxCount ≥ count; recording it would turn a console change into drift."""
    owned = defaulted if live_pool.type == DEDICATE else {}
    return in_wire_order(desired | owned)


def _plan_create(
    desired_np: DesiredNodePool,
    written: dict[str, Any],
    live_pool: LivePool,
    error: Refuse,
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
    defaulted = default_max_count(desired_np, written, set(), live_pool, None)
    desired = in_wire_order(written | defaulted)
    if not consistent(desired_np, desired, desired, None, live_pool, desired, error):
        return None
    body = {
        "apiVersion": "v2",
        "kind": "NodePool",
        "metadata": {"name": desired_np.name},
        "spec": {"resources": desired},
    }
    changes = defaults_marked(
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
        provider=desired_np.provider,
    )


def _world(by_provider: Worlds, provider: str) -> LiveWorld:
    """``provider``'s world; every provider a plan needs is read before it is made."""
    try:
        return by_provider[provider]
    except KeyError:
        raise PlanError([Diagnostic(f"provider {provider} was not read")]) from None


def _plan_removed(
    address: str,
    prior: ResourceState,
    by_provider: Worlds,
    declared: dict[str, DesiredNodePool],
    errors: list[Diagnostic],
) -> ResourceChange | None:
    live = _world(by_provider, prior.provider)
    current = live.nodepool(prior.pool, prior.name)
    if current is None:
        # Gone already (a direct read said so): nothing to send, state forgets it.
        return ResourceChange(
            address,
            prior.pool,
            prior.name,
            "no-op",
            records_state=True,
            forgets=True,
            provider=prior.provider,
        )
    claimed = [d.address for d in declared.values() if d.identity == prior.identity]
    if claimed:  # a plan never deletes a node pool that a block declares
        errors.append(
            Diagnostic(
                f"not in the configuration, but {', '.join(claimed)} declares its node pool "
                f"{node_pool(*prior.identity)}; np will not delete it. Run "
                f"`{command('state mv', address, claimed[0])}` to give it the new address",
                None,
                address,
            )
        )
        return None
    if prior.prevent_destroy:
        errors.append(
            Diagnostic(
                "removed from the configuration, but lifecycle.prevent_destroy was set when it "
                "was last applied; restore the block, or run "
                f"`{command('state rm', address)}` to stop managing it without deleting it",
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
                f"least one node pool (run `{command('state rm', address)}` to stop managing it)",
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
        provider=prior.provider,
    )


def replan(
    config: Configuration,
    state: State,
    live: LiveWorld | Worlds,
    change: ResourceChange,
    fresh: dict[str, Any],
) -> ResourceChange | None:
    """``change`` planned again with its node pool as just read (None: it no longer plans, e.g.
    a flavor changed in the console). Apply sends the result only if it makes the same changes
    that were reviewed: ignored fields and entries others own then come from the fresh read."""
    by_provider = worlds(live)
    mine = by_provider[change.provider]
    pool = mine.pools[change.pool]
    nodepools = {**pool.nodepools, change.name: fresh}
    world = LiveWorld({**mine.pools, change.pool: replace(pool, nodepools=nodepools)})
    try:
        again = make_plan(
            config, state, {**by_provider, change.provider: world}, targets=[change.address]
        )
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
    defaulted = default_max_count(desired_np, desired, ignored, live_pool, current)
    return adopted_applied(_last_applied(desired, defaulted, live_pool), current)
