"""Test support for the pure planner: configurations, states and live worlds built in memory,
so a test names exactly the documents it plans from (no files, no requests)."""

from __future__ import annotations

from typing import Any

from reconciler.config.configuration import (
    Configuration,
    DesiredNodePool,
    Lifecycle,
    Moved,
    Provider,
)
from reconciler.errors import PlanError
from reconciler.live import LivePool, LiveWorld
from reconciler.plan.changes import Plan, ResourceChange
from reconciler.plan.planner import make_plan
from reconciler.state.document import ResourceState, State

LIVE = {"flavor": "f", "count": 2, "maxCount": 2, "labels": {"team": "ml", "owner": "ops"}}


def world(kind: str = "Logical", **nodepools: dict[str, Any]) -> LiveWorld:
    """One pool ``p`` of type ``kind`` holding ``nodepools`` (name → live spec)."""
    return LiveWorld({"p": LivePool("p", kind, dict(nodepools))})


def desired(label: str, name: str | None = None, **fields: Any) -> DesiredNodePool:
    """``nodepool.LABEL`` in pool ``p``; ``fields`` in config names, ``lifecycle=`` and the
    block's ``pos=`` apart."""
    lifecycle = fields.pop("lifecycle", Lifecycle())
    pos = fields.pop("pos", None)
    return DesiredNodePool(f"nodepool.{label}", "p", name or label, fields, lifecycle, pos)


def state(**resources: ResourceState) -> State:
    return State("lin", 1, {f"nodepool.{k}": v for k, v in resources.items()})


def managed(name: str, applied: dict[str, Any], prevent_destroy: bool = False) -> ResourceState:
    return ResourceState("p", name, applied, LIVE, "2026-01-01T00:00:00Z", prevent_destroy)


def config(*nodepools: DesiredNodePool, moved: tuple[Moved, ...] = ()) -> Configuration:
    return Configuration(Provider(), nodepools, moved=moved)


def plan_one(
    block: DesiredNodePool, live: LiveWorld, prior: dict[str, Any] | None = None
) -> ResourceChange:
    """The plan of a single block; ``prior`` is its last-applied document (None: unmanaged)."""
    known = {} if prior is None else {block.address.split(".", 1)[1]: managed(block.name, prior)}
    [change] = make_plan(config(block), state(**known), live).resources
    return change


def plan_errors(cfg: Configuration, st: State, live: LiveWorld) -> list[str]:
    """The messages of the plan error ``make_plan`` raises (each as a user reads it)."""
    try:
        plan: Plan = make_plan(cfg, st, live)
    except PlanError as error:
        return error.problems()
    raise AssertionError(f"expected a plan error, got {plan}")
