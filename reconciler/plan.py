"""The plan: for every address, what np will do, why, and what drifted.

live = await fetch_live(client, pools_of(config, state), parallelism=10)
plan = make_plan(config, state, live)          # pure: raises PlanError, never sends
plan.summary  # -> Summary(add=0, change=1, destroy=0, drift=1)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from reconciler.config.types import Configuration, DesiredNodePool
from reconciler.diff import DriftChange, FieldChange, diff_nodepool, drift_of
from reconciler.errors import Diagnostic, PlanError
from reconciler.jsonmerge import apply_merge_patch
from reconciler.model import WIRE_NAMES, check_nodepool, check_pool, desired_to_wire

if TYPE_CHECKING:
    from reconciler.api.client import ModelArtsClient
    from reconciler.state.document import State

Action = Literal["no-op", "create", "update", "delete"]

_NEW_NAME = re.compile(r"^[a-z][a-z0-9-]{0,48}[a-z0-9]$")


@dataclass(frozen=True, slots=True)
class LivePool:
    name: str
    type: str | None
    nodepools: dict[str, dict[str, Any]]
    """Node pool name → live ``spec.resources``."""


@dataclass(frozen=True, slots=True)
class LiveWorld:
    pools: dict[str, LivePool]

    def nodepool(self, pool: str, name: str) -> dict[str, Any] | None:
        found = self.pools.get(pool)
        return None if found is None else found.nodepools.get(name)


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

    @property
    def reasons(self) -> dict[str, str]:
        return {change.path: change.reason for change in self.changes}

    @property
    def sends_request(self) -> bool:
        return self.action != "no-op"


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
    """A stable digest of a live spec, so a saved plan can tell that live moved on."""
    canonical = json.dumps(resources, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def pools_of(config: Configuration, state: State) -> set[str]:
    return {np.pool for np in config.nodepools} | {r.pool for r in state.resources.values()}


async def fetch_live(client: ModelArtsClient, pools: Iterable[str], parallelism: int) -> LiveWorld:
    """One ListPools, then one ListNodePools per wanted pool that exists, concurrently."""
    types = dict(check_pool(raw) for raw in await client.list_pools())
    wanted = sorted(p for p in set(pools) if p in types)
    gate = asyncio.Semaphore(max(1, parallelism))

    async def nodepools_of(pool: str) -> LivePool:
        async with gate:
            items = await client.list_nodepools(pool)
        specs: dict[str, dict[str, Any]] = {}
        for item in items:  # validated before use: API garbage is an error, not a traceback
            specs[item["metadata"]["name"]] = check_nodepool(item, f"in pool {pool}")
        return LivePool(pool, types[pool], specs)

    fetched = await asyncio.gather(*(nodepools_of(pool) for pool in wanted))
    found = {pool.name: pool for pool in fetched}
    for name, kind in types.items():
        found.setdefault(name, LivePool(name, kind, {}))
    return LiveWorld(found)


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
    known = set(declared) | set(state.resources)
    for address in (*targets, *excludes):
        if address not in known:
            errors.append(
                Diagnostic("no such address in the configuration or state", None, address)
            )
    chosen = select(known, targets, excludes)
    resources: list[ResourceChange] = []
    for address in sorted(chosen):
        desired = declared.get(address)
        if desired is not None:
            change = _plan_declared(desired, state, live, errors)
        else:
            change = _plan_removed(address, state, live, errors)
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


def _plan_declared(
    desired_np: DesiredNodePool, state: State, live: LiveWorld, errors: list[Diagnostic]
) -> ResourceChange | None:
    address, pool, name = desired_np.address, desired_np.pool, desired_np.name
    ignore = frozenset(desired_np.lifecycle.ignore_changes)
    desired = desired_to_wire(desired_np.fields, ignore)
    ignored_wire = {WIRE_NAMES[f] for f in ignore}
    if "count" in ignore and "max_count" not in desired_np.fields:
        ignored_wire.add("maxCount")
    prior = state.resources.get(address)
    live_pool = live.pools.get(pool)

    def error(message: str, field_name: str) -> None:
        pos = desired_np.field_pos.get(field_name, desired_np.pos)
        errors.append(Diagnostic(message, pos, address, field_name))

    if live_pool is None:
        error(f'resource pool "{pool}" does not exist', "pool")
        return None
    current = live_pool.nodepools.get(name)
    if current is None:
        return _plan_create(desired_np, desired, live_pool, error)
    applied = None
    if prior is not None:
        applied = {k: v for k, v in prior.applied.items() if k not in ignored_wire}
    if "flavor" in desired and desired["flavor"] != current.get("flavor"):
        error(
            f'flavor cannot change on an existing node pool (live "{current.get("flavor")}", '
            f'config "{desired["flavor"]}"); create a new node pool instead',
            "flavor",
        )
        return None
    diff = diff_nodepool(desired, current, applied)
    after = current if diff.patch is None else apply_merge_patch(current, diff.patch)
    if live_pool.type == "Dedicate" and after.get("maxCount", after.get("count")) != after.get(
        "count"
    ):
        error(
            f"max_count ({after.get('maxCount')}) must equal count ({after.get('count')}) "
            f'on physical (Dedicate) pool "{pool}"',
            "max_count" if "max_count" in desired_np.fields else "count",
        )
        return None
    drift = tuple(drift_of(applied, current)) if applied is not None else ()
    records_state = (
        prior is None
        or prior.applied != desired
        or (prior.prevent_destroy != desired_np.lifecycle.prevent_destroy)
    )
    return ResourceChange(
        address=address,
        pool=pool,
        name=name,
        action="no-op" if diff.patch is None else "update",
        adopted=prior is None,
        before=current,
        after=after,
        body=None if diff.patch is None else {"spec": {"resources": diff.patch}},
        changes=diff.changes,
        applied=desired,
        prevent_destroy=desired_np.lifecycle.prevent_destroy,
        drift=drift,
        records_state=records_state,
    )


def _plan_create(
    desired_np: DesiredNodePool,
    desired: dict[str, Any],
    live_pool: LivePool,
    error: Callable[[str, str], None],
) -> ResourceChange | None:
    missing = [f for f in ("flavor", "count") if f not in desired]
    if missing:
        error(
            f'node pool "{desired_np.name}" does not exist in pool "{live_pool.name}"; '
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required to create it",
            missing[0],
        )
        return None
    if not _NEW_NAME.match(desired_np.name) or desired_np.name.endswith("-default"):
        error(
            f'"{desired_np.name}" is not a valid name for a new node pool: 2-50 lowercase '
            "letters, digits and '-', starting with a letter, not ending with '-' or '-default'",
            "name",
        )
        return None
    if live_pool.type == "Dedicate" and desired.get("maxCount") != desired["count"]:
        error(
            f"max_count ({desired.get('maxCount')}) must equal count ({desired['count']}) "
            f'on physical (Dedicate) pool "{live_pool.name}"',
            "max_count",
        )
        return None
    body = {
        "apiVersion": "v2",
        "kind": "NodePool",
        "metadata": {"name": desired_np.name},
        "spec": {"resources": desired},
    }
    changes = tuple(FieldChange(path, "config", None, value) for path, value in desired.items())
    return ResourceChange(
        address=desired_np.address,
        pool=desired_np.pool,
        name=desired_np.name,
        action="create",
        after=desired,
        body=body,
        changes=changes,
        applied=desired,
        prevent_destroy=desired_np.lifecycle.prevent_destroy,
        records_state=True,
    )


def _plan_removed(
    address: str, state: State, live: LiveWorld, errors: list[Diagnostic]
) -> ResourceChange | None:
    prior = state.resources[address]
    current = live.nodepool(prior.pool, prior.name)
    if current is None:
        # Gone already: nothing to send, but state must forget it.
        return ResourceChange(address, prior.pool, prior.name, "no-op", records_state=True)
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
