"""The machine-readable plan (``np plan --json``), one document per run: docs/output.md."""

from __future__ import annotations

from typing import Any

from reconciler.model import wire_path_to_config
from reconciler.plan.changes import Plan, ResourceChange
from reconciler.plan.renames import rename_hints


def plan_document(plan: Plan) -> dict[str, Any]:
    summary = plan.summary
    hints = rename_hints(plan)
    return {
        "format_version": "1",
        "applyable": plan.applyable,
        "summary": {
            "add": summary.add,
            "change": summary.change,
            "destroy": summary.destroy,
            "drift": summary.drift,
        },
        "prior_state": {"lineage": plan.lineage, "serial": plan.serial},
        "resource_changes": [_resource_change(r, hints.get(r.address)) for r in plan.resources],
        "resource_drift": [
            {
                "address": r.address,
                "changes": [
                    {"path": wire_path_to_config(d.path), "applied": d.applied, "live": d.live}
                    for d in r.drift
                ],
            }
            for r in plan.resources
            if r.drift
        ],
    }


def _resource_change(change: ResourceChange, hint: str | None = None) -> dict[str, Any]:
    moved = {"previous_address": change.moved_from} if change.moved_from else {}
    hinted = {"hint": hint} if hint else {}
    return {
        "address": change.address,
        **moved,
        "provider": change.provider,
        "pool": change.pool,
        "name": change.name,
        "actions": [change.action],
        "adopted": change.adopted,
        "before": change.before,
        "after": change.after,
        "patch": change.body,
        "reasons": change.reasons,
        **hinted,
    }
