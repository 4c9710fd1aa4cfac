"""``nodepool`` blocks → desired node pools: fields evaluated and validated, lifecycle read,
``for_each`` expanded into instances ``nodepool.NAME["KEY"]``, the provider each names, and
what spans blocks checked (two addresses for one node pool of one provider).
"""

from __future__ import annotations

from collections.abc import Sequence as SequenceABC
from typing import Any

from pydantic import ValidationError

from reconciler.config.blocks.addresses import address
from reconciler.config.blocks.for_each import for_each_pairs, once, take_entry
from reconciler.config.blocks.lifecycle import (
    MAP_FIELDS,
    IgnoreRules,
    ignore_rules,
    take_ignore_changes,
)
from reconciler.config.blocks.moved import Blocks
from reconciler.config.blocks.names import new_name_problem, suggested_name
from reconciler.config.blocks.providers import Providers
from reconciler.config.configuration import DesiredNodePool, Lifecycle
from reconciler.config.evaluation.expr import Context
from reconciler.config.evaluation.limits import STEPS_PER_INSTANCE
from reconciler.config.evaluation.resolve import resolve, validate
from reconciler.config.messages import excerpt
from reconciler.config.schema import MANAGED_FIELDS, NodePoolSpec
from reconciler.config.syntax.declarations import Declaration
from reconciler.config.syntax.nodes import Attribute, Block, Body, Lines, Mapping, Node
from reconciler.errors import Diagnostic
from reconciler.identifiers import DEFAULT_PROVIDER, segment_problem

_NOT_FIELDS = ("pool", "name", "lifecycle")
MAX_INSTANCES = 10_000
"""Instances one for_each may make (a fleet of 10,000 node pools plans in under a minute)."""
MAX_ALL_INSTANCES = 20_000
"""Instances all for_each blocks of a configuration may make together."""


class NodePoolBuilder:
    """Collects every problem into ``diagnostics``; ``new_names`` (np validate) also holds
    labels used as names to the rule for new node pools; ``providers`` are what a block's
    ``provider`` may name."""

    def __init__(
        self,
        context: Context,
        diagnostics: list[Diagnostic],
        new_names: bool,
        providers: Providers | None = None,
    ) -> None:
        self.context = context
        self.diagnostics = diagnostics
        self.new_names = new_names
        self.providers = providers or Providers()
        self.instances_made = 0
        self.literal: list[tuple[Declaration, DesiredNodePool]] = []
        """The node pools of blocks written out whole, which the next run need not evaluate
        again (``record``; only where the file is cached, and never for np validate)."""
        self.lines: dict[str, Lines] = {}

    def build(
        self, declarations: SequenceABC[Declaration]
    ) -> tuple[tuple[DesiredNodePool, ...], Blocks]:
        """The node pools, sorted by address, and what the blocks declare (for moved)."""
        pools: dict[tuple[str, str, str], DesiredNodePool] = {}
        keys: dict[str, tuple[str, ...] | None] = {}
        addresses: set[str] = set()
        unknown: set[str] = set()
        for decl in declarations:
            if decl.kind != "nodepool":
                continue
            instances, keys[decl.label] = self.block(decl)
            if keys[decl.label] is None:
                addresses.add(address(decl.label))
            else:
                addresses.update(address(decl.label, key) for key in keys[decl.label] or ())
            if instances is None:
                unknown.add(decl.label)
            for pool in instances or ():
                other = pools.setdefault(pool.identity, pool)
                if other is not pool:
                    self.same_node_pool(pool, other)
        nodepools = tuple(sorted(pools.values(), key=lambda pool: pool.address))
        return nodepools, Blocks(keys, frozenset(addresses), frozenset(unknown))

    def same_node_pool(self, pool: DesiredNodePool, other: DesiredNodePool) -> None:
        same = f"{excerpt(pool.pool)}/{excerpt(pool.name)}"
        if pool.provider != DEFAULT_PROVIDER:
            same += f" of {pool.provider}"
        message = f"manages the same node pool {same} as {other.address} ({other.pos})"
        if pool.pos == other.pos and "name" not in pool.field_pos:
            example = f'name = "{excerpt(pool.name)}-${{each.key}}"'
            message += f"; give each instance its own name, e.g. {example}"
        self.diagnostics.append(Diagnostic(message, pool.pos, pool.address))

    def block(
        self, decl: Declaration
    ) -> tuple[list[DesiredNodePool] | None, tuple[str, ...] | None]:
        """The block's node pools (None when its instances are unknown: for_each failed) and
        its for_each keys (None for a block without for_each)."""
        body, ignore_changes = take_ignore_changes(decl.body)
        body, for_each = take_entry(body, "for_each")
        body, provider = take_entry(body, "provider")
        if decl.evaluated is not None:  # a stand-in: its body holds no more than the provider
            pool = self.reuse(decl, provider)
            return ([] if pool is None else [pool]), None
        rules, problems = ignore_rules(ignore_changes)
        self.diagnostics += [problem.diagnostic(decl.address) for problem in problems]
        if for_each is None:
            where = address(decl.label)
            keep = decl.origin is not None and not self.new_names
            pool = self.instance(decl, body, provider, rules, self.context, where, keep)
            return ([] if pool is None or problems else [pool]), None
        instances = self.instances(decl, for_each)
        if instances is None:
            return None, ()
        found: list[Diagnostic] = []
        pools: list[DesiredNodePool] = []
        reported, self.diagnostics = self.diagnostics, found
        try:
            for key, value in instances:
                context = self.context.with_each(key, value)
                where = address(decl.label, key)
                pool = self.instance(decl, body, provider, rules, context, where)
                pools += [pool] if pool is not None else []
        finally:
            self.diagnostics = reported
        self.diagnostics += once(found)
        return (pools if not problems else []), tuple(key for key, _ in instances)

    def instances(self, decl: Declaration, node: Node) -> list[tuple[str, Any]] | None:
        """``(each.key, each.value)`` for every instance, or None (and the reason)."""
        pairs = for_each_pairs(
            self.context, node, decl.address, self.diagnostics, limit=MAX_INSTANCES
        )
        if pairs is None:
            return None
        if self.instances_made + len(pairs) > MAX_ALL_INSTANCES:
            problem = f"for_each blocks make more than {MAX_ALL_INSTANCES:,} node pools in all"
            self.diagnostics.append(Diagnostic(problem, node.pos, decl.address))
            return None
        self.instances_made += len(pairs)
        self.context.budget.allow(STEPS_PER_INSTANCE * len(pairs))
        return pairs

    def instance(
        self,
        decl: Declaration,
        body: Mapping,
        provider_node: Node | None,
        rules: IgnoreRules,
        context: Context,
        where: str,
        keep: bool = False,
    ) -> DesiredNodePool | None:
        """``keep``: a literal block's node pool goes to ``literal`` too."""
        provider = self.providers.reference(provider_node, context, where, self.diagnostics)
        resolved = resolve(body, context)
        spec = validate(NodePoolSpec, resolved)
        if spec is not None:
            for path, message in spec.problems():
                resolved.report(path, message)
            if spec.name is None and self.new_names and not resolved.is_failed(("name",)):
                self.label_as_name(decl, where)
            if self.new_names:  # np validate, which cannot see the AZs live holds besides
                for path, message in spec.az_sum_problems():
                    resolved.report(path, message)
        self.diagnostics += [problem.diagnostic(where) for problem in resolved.problems]
        if resolved.problems or resolved.failed or spec is None or provider is None:
            return None  # a field that failed quietly (already reported) fails the instance too
        written: dict[str, Any] = resolved.value
        prevent_destroy = spec.lifecycle.prevent_destroy if spec.lifecycle else False
        pool = DesiredNodePool(
            address=where,
            pool=spec.pool,
            name=spec.name or decl.label,
            fields={k: v for k, v in written.items() if k not in _NOT_FIELDS},
            lifecycle=Lifecycle(rules.fields, prevent_destroy, rules.keys, rules.all),
            pos=decl.pos,
            field_pos={key: resolved.positions[(key,)] for key in written}
            | ({"provider": provider_node.pos} if provider_node is not None else {}),
            provider=provider,
        )
        if keep and resolved.literal:
            self.literal.append((decl, pool))
        return pool

    def reuse(self, decl: Declaration, provider_node: Node | None) -> DesiredNodePool | None:
        """The node pool a stand-in's record describes; only its provider is looked up again
        (what a provider name means is the providers', which may have changed)."""
        where = address(decl.label)
        provider = self.providers.reference(provider_node, self.context, where, self.diagnostics)
        if provider is None:
            return None
        pool, name, fields, lines, ignored, prevent, keys, ignore_all = decl.evaluated
        file = decl.pos.file
        at = self.lines.get(file) or self.lines.setdefault(file, Lines(file))
        known = at.known  # one Pos per line, as the parser shares them (memory)
        field_pos = {key: known.get(line) or at(line) for key, line in lines.items()}
        if provider_node is not None:
            field_pos["provider"] = provider_node.pos
        keyed = tuple((field, key) for field, key in keys)
        return DesiredNodePool(
            address=where,
            pool=pool,
            name=name,
            fields=fields,
            lifecycle=Lifecycle(tuple(ignored), prevent, keyed, ignore_all),
            pos=decl.pos,
            field_pos=field_pos,
            provider=provider,
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
        existing = f'name = "{excerpt(decl.label)}" for an existing node pool of that name'
        message = f"{problem}; the block label is the name when name is not set: {fix}"
        self.diagnostics.append(Diagnostic(f"{message} (or {existing})", decl.pos, where))


def record(pool: DesiredNodePool) -> list[Any]:
    """What the next run needs of a literal block's node pool besides its stand-in: plain JSON,
    kept in the block's file's evaluated entry (``ParseCache.put_evaluated``)."""
    lifecycle = pool.lifecycle
    lines = {key: pos.line for key, pos in pool.field_pos.items() if key != "provider"}
    keys = [list(key) for key in lifecycle.ignore_keys]
    ignored = list(lifecycle.ignore_changes)
    return [pool.pool, pool.name, pool.fields, lines, ignored, lifecycle.prevent_destroy, keys,
            lifecycle.ignore_all]  # fmt: skip


def accept_record(found: Any) -> bool:
    """Whether ``found`` is a record ``record`` could have written: its shape, and fields the
    schema accepts (about 40 µs). A forged or damaged entry is then a miss: it can neither
    crash the planner nor give it a value that validation would have refused."""
    if not isinstance(found, list) or len(found) != 8:
        return False
    pool, name, fields, lines, ignored, prevent, keys, ignore_all = found
    shaped = (
        isinstance(name, str)
        and segment_problem(name) is None
        and isinstance(fields, dict)
        and set(fields) <= _MANAGED
        and isinstance(lines, dict)
        and all(type(line) is int for line in lines.values())
        and isinstance(ignored, list)
        and set(ignored) <= _MANAGED
        and type(prevent) is bool
        and isinstance(keys, list)
        and all(
            isinstance(key, list)
            and len(key) == 2
            and key[0] in MAP_FIELDS
            and isinstance(key[1], str)
            for key in keys
        )
        and type(ignore_all) is bool
    )
    if not shaped:
        return False
    try:
        spec = NodePoolSpec.model_validate({**fields, "pool": pool})
    except ValidationError:
        return False
    return not spec.problems()


_MANAGED = frozenset(MANAGED_FIELDS)


def stand_in(decl: Declaration) -> Block:
    """What the evaluated entry keeps of a literal block in place of the block: its label, its
    lines and the provider it names (looked up again in every run)."""
    named = next((entry for entry in decl.body.entries if entry.key == "provider"), None)
    kept = () if named is None else (Attribute(named.key, named.value, named.key_pos),)
    return Block("nodepool", (decl.label,), Body(kept, decl.body.pos), decl.pos)
