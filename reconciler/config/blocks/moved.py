"""``moved { from = nodepool.OLD  to = nodepool.NEW }``: rename a state entry, send nothing.

What the configuration alone can decide is checked here: both ends are node-pool addresses,
``to`` is declared and ``from`` is not, no address moves twice or receives twice, and moves do
not chain (``a`` → ``b`` → ``c``) or cycle. A move of a whole ``for_each`` block
(``to = nodepool.NEW`` naming one) becomes one move per instance key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping as MappingABC
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass

from reconciler.config.blocks.addresses import address, address_of, parse_address
from reconciler.config.configuration import Moved
from reconciler.config.messages import Hints, did_you_mean, excerpt
from reconciler.config.syntax.declarations import Declaration
from reconciler.config.syntax.nodes import Node, duplicates
from reconciler.errors import Diagnostic, Pos

_ENDS = ("from", "to")


@dataclass(frozen=True, slots=True)
class Blocks:
    """What the nodepool blocks declare: each label with its ``for_each`` keys (None for a
    block without ``for_each``), and every instance address."""

    keys: MappingABC[str, tuple[str, ...] | None]
    addresses: frozenset[str]
    unknown: frozenset[str] = frozenset()
    """Labels whose instances are unknown (their for_each is already reported)."""


def build_moves(
    declarations: SequenceABC[Declaration],
    blocks: Blocks,
    diagnostics: list[Diagnostic],
    hints: Hints,
) -> tuple[Moved, ...]:
    """Every valid move, instance by instance; problems go to ``diagnostics``."""
    checker = _Checker(blocks, diagnostics, hints)
    written = [m for d in declarations if d.kind == "moved" for m in checker.read(d)]
    moves = [m for move in checker.unique(written) for m in checker.expand(move)]
    return tuple(checker.declared(checker.unchained(moves)))


class _Checker:
    def __init__(self, blocks: Blocks, diagnostics: list[Diagnostic], hints: Hints) -> None:
        self.blocks = blocks
        self.diagnostics = diagnostics
        self.hints = hints

    def error(self, message: str, pos: Pos | None, field: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(message, pos, "moved", field))

    def read(self, decl: Declaration) -> list[Moved]:
        """The block's two addresses, or nothing (and the reasons)."""
        for later, first in duplicates(decl.body.entries):
            self.error(f"set more than once (first at {first.key_pos})", later.key_pos, later.key)
        ends: dict[str, Node] = {}
        for entry in decl.body.entries:
            if entry.key not in _ENDS:
                hint = did_you_mean(entry.key, _ENDS)
                message = f"unknown field {excerpt(entry.key)!r}{hint}"
                self.error(message, entry.key_pos, excerpt(entry.key))
            ends.setdefault(entry.key, entry.value)
        found: dict[str, str] = {}
        for end in _ENDS:
            if end not in ends:
                self.error("required field is missing", decl.pos, end)
                continue
            try:
                found[end] = address_of(ends[end])
            except ValueError as exc:
                self.error(str(exc), ends[end].pos, end)
        if len(found) < 2 or len(ends) > 2:
            return []
        if found["from"] == found["to"]:
            self.error(f"from and to are the same address, {found['to']}", decl.pos)
            return []
        return [Moved(found["from"], found["to"], decl.pos)]

    def unique(self, moves: list[Moved]) -> list[Moved]:
        """No address moves twice, and none receives two moves."""
        sources: dict[str, Moved] = {}
        targets: dict[str, Moved] = {}
        kept: list[Moved] = []
        for move in moves:
            if move.from_address in sources:
                first = sources[move.from_address]
                self.error(f"{move.from_address} is moved twice (first at {first.pos})", move.pos)
            elif move.to_address in targets:
                first = targets[move.to_address]
                message = f"two moved blocks move to {move.to_address} (first at {first.pos})"
                self.error(message, move.pos)
            else:
                sources[move.from_address] = targets[move.to_address] = move
                kept.append(move)
        return kept

    def expand(self, move: Moved) -> list[Moved]:
        """A move to a whole ``for_each`` block: one move per instance, key for key."""
        from_label, from_key = parse_address(move.from_address)
        to_label, to_key = parse_address(move.to_address)
        instances = self.blocks.keys.get(to_label)
        if instances is None or to_key is not None:
            return [move]
        if from_key is not None:
            message = f"nodepool.{to_label} uses for_each: name one of its instances, e.g. "
            example = address(to_label, instances[0] if instances else "KEY")
            self.error(f"{message}{example}", move.pos, "to")
            return []
        return [
            Moved(address(from_label, key), address(to_label, key), move.pos) for key in instances
        ]

    def unchained(self, moves: list[Moved]) -> list[Moved]:
        """Moves that neither chain nor cycle; each chain or cycle is reported once."""
        by_source = {move.from_address: move for move in moves}
        targets = {move.to_address for move in moves}
        bad: set[str] = set()
        for move in moves:  # chains: follow each move that nothing moves into
            if move.from_address in targets or move.to_address not in by_source:
                continue
            path = self.follow(move, by_source)
            steps = " -> ".join(m.from_address for m in path) + f" -> {path[-1].to_address}"
            fix = f"write from = {path[0].from_address}  to = {path[-1].to_address}"
            self.error(f"moved blocks chain {steps}; {fix}", move.pos)
            bad |= {m.from_address for m in path}
        for move in moves:  # what is left of the moves into other moves' sources: cycles
            if move.from_address in bad or move.to_address not in by_source:
                continue
            path = self.follow(move, by_source)
            steps = " -> ".join(m.from_address for m in path) + f" -> {move.from_address}"
            self.error(f"moved blocks form a cycle {steps}", move.pos)
            bad |= {m.from_address for m in path}
        return [move for move in moves if move.from_address not in bad]

    @staticmethod
    def follow(move: Moved, by_source: dict[str, Moved]) -> list[Moved]:
        path = [move]
        seen = {move.from_address}
        while path[-1].to_address in by_source and path[-1].to_address not in seen:
            seen.add(path[-1].to_address)
            path.append(by_source[path[-1].to_address])
        return path

    def declared(self, moves: list[Moved]) -> list[Moved]:
        """``to`` names a node pool the configuration declares; ``from`` one it no longer does."""
        kept: list[Moved] = []
        declared = self.blocks.addresses
        for move in moves:
            labels = {parse_address(end)[0] for end in (move.from_address, move.to_address)}
            if labels & self.blocks.unknown:
                continue
            if move.from_address in declared:
                message = f"{move.from_address} is still declared: from names the old address"
                self.error(f"{message}, which no block may declare any more", move.pos, "from")
            elif move.to_address not in declared:
                message = f"{move.to_address} is not declared in the configuration"
                self.error(message + self.hint(move.to_address), move.pos, "to")
            else:
                kept.append(move)
        return kept

    def hint(self, missing: str) -> str:
        """What the configuration declares near a missing address."""
        label, key = parse_address(missing)
        if label not in self.blocks.keys:
            return did_you_mean(label, self.blocks.keys, "nodepool.", self.hints)
        instances = self.blocks.keys[label]
        if instances is None:
            return f"; nodepool.{label} has no for_each: write nodepool.{label}"
        if key is None:
            return f'; nodepool.{label} uses for_each: write nodepool.{label}["KEY"]'
        shown = ", ".join(json.dumps(excerpt(k), ensure_ascii=False) for k in instances[:5])
        more = ", ..." if len(instances) > 5 else ""
        return f"; nodepool.{label} has keys {shown}{more}" if instances else ""
