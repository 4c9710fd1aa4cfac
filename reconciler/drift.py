"""Drift: for every managed node pool, live compared with what np last applied (read-only).

report = drift_report(state, live, declared)
[e.status for e in report]  # -> ["in-sync", "drifted", "missing", "unmanaged", "not-created"]

``missing``: in state, gone live. A block that np does not manage yet is reported too, as
``unmanaged`` when its node pool exists live (apply would adopt it) and ``not-created`` when it
does not (apply would create it): a nightly drift check must not stay green while state has
been lost or the configuration was never applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from reconciler.config.configuration import DesiredNodePool
from reconciler.diff import DriftChange, drift_of
from reconciler.identifiers import DEFAULT_PROVIDER
from reconciler.live import LiveWorld, Worlds, worlds
from reconciler.state.document import State

DriftStatus = Literal["in-sync", "drifted", "missing", "unmanaged", "not-created"]


@dataclass(frozen=True, slots=True)
class DriftEntry:
    address: str
    pool: str
    name: str
    status: DriftStatus
    changes: tuple[DriftChange, ...] = ()
    provider: str = DEFAULT_PROVIDER
    """The provider (region) that holds the node pool."""


def drift_report(
    state: State,
    live: LiveWorld | Worlds,
    declared: Iterable[DesiredNodePool] = (),
    chosen: set[str] | None = None,
) -> list[DriftEntry]:
    """One entry per managed address, and per declared address np does not manage yet;
    ``chosen`` limits both (``--target``/``--exclude``). ``live``: each provider's world (one
    ``LiveWorld``: the default provider's); only the chosen addresses' providers are needed."""
    by_provider = worlds(live)
    entries: list[DriftEntry] = []
    managed = {r.identity for r in state.resources.values()}
    for desired in declared:
        unknown = desired.address not in state.resources
        if chosen is not None and desired.address not in chosen:
            continue
        if unknown and desired.identity not in managed:
            world = by_provider.get(desired.provider)
            exists = world is not None and world.nodepool(desired.pool, desired.name) is not None
            entries.append(
                DriftEntry(
                    desired.address,
                    desired.pool,
                    desired.name,
                    "unmanaged" if exists else "not-created",
                    provider=desired.provider,
                )
            )
    for address, resource in sorted(state.resources.items()):
        if chosen is not None and address not in chosen:
            continue
        current = by_provider[resource.provider].nodepool(resource.pool, resource.name)
        status: DriftStatus = "missing"
        changes: tuple[DriftChange, ...] = ()
        if current is not None:
            changes = tuple(drift_of(resource.applied, current))
            status = "drifted" if changes else "in-sync"
        entries.append(
            DriftEntry(address, resource.pool, resource.name, status, changes, resource.provider)
        )
    if chosen is not None:
        entries = [e for e in entries if e.address in chosen]
    return sorted(entries, key=lambda e: e.address)
