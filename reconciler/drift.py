"""Drift: for every managed node pool, live compared with what np last applied (read-only).

report = drift_report(state, live)
[e.status for e in report]  # -> ["in-sync", "drifted", "missing"]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reconciler.diff import DriftChange, drift_of
from reconciler.plan import LiveWorld
from reconciler.state.document import State

DriftStatus = Literal["in-sync", "drifted", "missing"]


@dataclass(frozen=True, slots=True)
class DriftEntry:
    address: str
    pool: str
    name: str
    status: DriftStatus
    changes: tuple[DriftChange, ...] = ()


def drift_report(state: State, live: LiveWorld) -> list[DriftEntry]:
    entries: list[DriftEntry] = []
    for address, resource in sorted(state.resources.items()):
        current = live.nodepool(resource.pool, resource.name)
        if current is None:
            entries.append(DriftEntry(address, resource.pool, resource.name, "missing"))
            continue
        changes = tuple(drift_of(resource.applied, current))
        status: DriftStatus = "drifted" if changes else "in-sync"
        entries.append(DriftEntry(address, resource.pool, resource.name, status, changes))
    return entries
