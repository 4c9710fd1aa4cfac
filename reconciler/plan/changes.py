"""The plan as data: what np will do to each address, and why (no rules, no I/O).

    plan.summary           # -> Summary(add=0, change=1, destroy=0, drift=1)
    plan.touched           # the changes apply acts on: a request to send or state to write
    fingerprint(live_spec) # tells a saved plan's apply that a node pool moved since

``reconciler.plan.planner`` makes plans; rendering, saving and applying only read them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.diff import DriftChange, FieldChange
from reconciler.errors import Diagnostic
from reconciler.identifiers import DEFAULT_PROVIDER

Action = Literal["no-op", "create", "update", "delete"]


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
    provider: str = DEFAULT_PROVIDER
    """The address of the provider (region) whose API this change goes to."""

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
    warnings: tuple[Diagnostic, ...] = field(default=())
    """What the reviewer should know (targeting in effect, ...); never a reason to refuse."""

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
        return bool(self.touched)

    @property
    def touched(self) -> tuple[ResourceChange, ...]:
        """The changes apply acts on: a request to send, or state to write."""
        return tuple(r for r in self.resources if r.sends_request or r.records_state)

    @property
    def providers(self) -> list[str]:
        """The providers this plan's changes go to, in address order."""
        return sorted({r.provider for r in self.resources})

    def of_provider(self, provider: str) -> Plan:
        """The part of this plan that goes to ``provider``: each region is applied on its own
        connection, at its own pace."""
        mine = tuple(r for r in self.resources if r.provider == provider)
        return Plan(self.lineage, self.serial, mine, self.warnings)


def fingerprint(resources: dict[str, Any] | None) -> str:
    """A stable digest of a live spec, so apply can tell that live moved since the plan."""
    canonical = json.dumps(resources, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
