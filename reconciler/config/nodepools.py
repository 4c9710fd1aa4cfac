"""``nodepool`` blocks → desired node pools: fields evaluated and validated, lifecycle read,
and what spans blocks checked (two addresses for one node pool).
"""

from __future__ import annotations

from collections.abc import Sequence as SequenceABC
from typing import Any

from reconciler.config.addresses import address
from reconciler.config.declarations import Declaration
from reconciler.config.expr import Context
from reconciler.config.lifecycle import IgnoreRules, ignore_rules, take_ignore_changes
from reconciler.config.moved import Blocks
from reconciler.config.names import new_name_problem, suggested_name
from reconciler.config.nodes import Mapping
from reconciler.config.resolve import resolve, validate
from reconciler.config.schema import NodePoolSpec
from reconciler.config.types import DesiredNodePool, Lifecycle
from reconciler.errors import Diagnostic

_NOT_FIELDS = ("pool", "name", "lifecycle")


class NodePoolBuilder:
    """Collects every problem into ``diagnostics``; ``new_names`` (np validate) also holds
    labels used as names to the rule for new node pools."""

    def __init__(self, context: Context, diagnostics: list[Diagnostic], new_names: bool) -> None:
        self.context = context
        self.diagnostics = diagnostics
        self.new_names = new_names

    def build(
        self, declarations: SequenceABC[Declaration]
    ) -> tuple[tuple[DesiredNodePool, ...], Blocks]:
        """The node pools, sorted by address, and what the blocks declare (for moved)."""
        pools: dict[tuple[str, str], DesiredNodePool] = {}
        keys: dict[str, tuple[str, ...] | None] = {}
        addresses: set[str] = set()
        for decl in declarations:
            if decl.kind != "nodepool":
                continue
            keys[decl.label] = None
            addresses.add(address(decl.label))
            for pool in self.block(decl):
                other = pools.setdefault((pool.pool, pool.name), pool)
                if other is not pool:
                    message = (
                        f"manages the same node pool {pool.pool}/{pool.name} as "
                        f"{other.address} ({other.pos})"
                    )
                    self.diagnostics.append(Diagnostic(message, pool.pos, pool.address))
        nodepools = tuple(sorted(pools.values(), key=lambda pool: pool.address))
        return nodepools, Blocks(keys, frozenset(addresses))

    def block(self, decl: Declaration) -> list[DesiredNodePool]:
        body, ignore_changes = take_ignore_changes(decl.body)
        rules, problems = ignore_rules(ignore_changes)
        self.diagnostics += [problem.diagnostic(decl.address) for problem in problems]
        pool = self.instance(decl, body, rules, self.context, address(decl.label))
        return [] if pool is None or problems else [pool]

    def instance(
        self,
        decl: Declaration,
        body: Mapping,
        rules: IgnoreRules,
        context: Context,
        where: str,
    ) -> DesiredNodePool | None:
        resolved = resolve(body, context)
        spec = validate(NodePoolSpec, resolved)
        if spec is not None:
            for path, message in spec.problems():
                resolved.report(path, message)
            if spec.name is None and self.new_names:
                self.label_as_name(decl, where)
        self.diagnostics += [problem.diagnostic(where) for problem in resolved.problems]
        if resolved.problems or spec is None:
            return None
        written: dict[str, Any] = resolved.value
        prevent_destroy = spec.lifecycle.prevent_destroy if spec.lifecycle else False
        return DesiredNodePool(
            address=where,
            pool=spec.pool,
            name=spec.name or decl.label,
            fields={k: v for k, v in written.items() if k not in _NOT_FIELDS},
            lifecycle=Lifecycle(rules.fields, prevent_destroy, rules.keys, rules.all),
            pos=decl.pos,
            field_pos={key: resolved.positions[(key,)] for key in written},
        )

    def label_as_name(self, decl: Declaration, where: str) -> None:
        """A label used as the name must be one the API accepts for a new node pool: else
        validate passes and plan fails. An existing node pool of another name is named
        explicitly."""
        problem = new_name_problem(decl.label)
        if problem is None:
            return
        suggestion = suggested_name(decl.label)
        fix = f'add name = "{suggestion}"' if suggestion else "set name to a valid name"
        existing = f'name = "{decl.label}" for an existing node pool of that name'
        message = f"{problem}; the block label is the name when name is not set: {fix}"
        self.diagnostics.append(Diagnostic(f"{message} (or {existing})", decl.pos, where))
