"""Plans that destroy a node pool and create its twin: most likely a renamed block.

    rename_hints(plan)
    # -> {"nodepool.cpu": 'looks like a rename: to keep the node pool, write name = "cpu" in
    #     nodepool.train-cpu', "nodepool.train-cpu": <the same>}

A block's label is its node pool's name unless ``name`` is written, so renaming the label of
such a block (``np generate`` output, or any block written without ``name``) renames the node
pool, which the API cannot do: np plans a destroy and a create. The plan says so under both,
with the one line that keeps the node pool instead. Pure; rendering shows what it returns.
"""

from __future__ import annotations

from reconciler.plan.changes import Plan, ResourceChange


def rename_hints(plan: Plan) -> dict[str, str]:
    """Address → hint, for every destroy whose node pool's spec a create in the same pool
    (and provider) would make again: the created block's desired fields all equal the
    destroyed node pool's. Each destroy and each create is paired at most once."""
    creates = [r for r in plan.resources if r.action == "create"]
    hints: dict[str, str] = {}
    for gone in (r for r in plan.resources if r.action == "delete"):
        twin = next((c for c in creates if c.address not in hints and _twins(gone, c)), None)
        if twin is None:
            continue
        hint = (
            f'looks like a rename: to keep the node pool, write name = "{gone.name}" in '
            f"{twin.address}"
        )
        hints[gone.address] = hints[twin.address] = hint
    return hints


def _twins(gone: ResourceChange, made: ResourceChange) -> bool:
    if (gone.provider, gone.pool) != (made.provider, made.pool) or not made.after:
        return False
    before = gone.before or {}
    return all(before.get(field) == value for field, value in made.after.items())
