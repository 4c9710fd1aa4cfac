"""Drift: for every managed node pool, live compared with what np last applied (read-only).

report = drift_report(state, live, declared)
[e.status for e in report]  # -> ["in-sync", "drifted", "missing", "unmanaged"]

A block that np does not manage yet is reported too (``unmanaged``): a nightly drift check must
not stay green while state has been lost or the configuration was never applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from reconciler.config.configuration import DesiredNodePool
from reconciler.diff import DriftChange, drift_of
from reconciler.live import LiveWorld
from reconciler.state.document import State

DriftStatus = Literal["in-sync", "drifted", "missing", "unmanaged"]


@dataclass(frozen=True, slots=True)
class DriftEntry:
    address: str
    pool: str
    name: str
    status: DriftStatus
    changes: tuple[DriftChange, ...] = ()


def drift_report(
    state: State,
    live: LiveWorld,
    declared: Iterable[DesiredNodePool] = (),
    chosen: set[str] | None = None,
) -> list[DriftEntry]:
    """One entry per managed address, and per declared address np does not manage yet;
    ``chosen`` limits both (``--target``/``--exclude``)."""
    entries: list[DriftEntry] = []
    managed = {(r.pool, r.name) for r in state.resources.values()}
    for desired in declared:
        unknown = desired.address not in state.resources
        if unknown and (desired.pool, desired.name) not in managed:
            entries.append(DriftEntry(desired.address, desired.pool, desired.name, "unmanaged"))
    for address, resource in sorted(state.resources.items()):
        current = live.nodepool(resource.pool, resource.name)
        if current is None:
            entries.append(DriftEntry(address, resource.pool, resource.name, "missing"))
            continue
        changes = tuple(drift_of(resource.applied, current))
        status: DriftStatus = "drifted" if changes else "in-sync"
        entries.append(DriftEntry(address, resource.pool, resource.name, status, changes))
    if chosen is not None:
        entries = [e for e in entries if e.address in chosen]
    return sorted(entries, key=lambda e: e.address)
