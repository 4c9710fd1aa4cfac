"""Parsed files → language-neutral declarations (provider, backend, variables, node pools).

From here on HCL and YAML take the same path; structural mistakes (an unknown block type, a
block without its label, a YAML section of the wrong shape) become diagnostics here.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.config.messages import Hints, did_you_mean, excerpt, listing, suggest
from reconciler.config.schema import REPEATED_BLOCKS
from reconciler.config.syntax.nodes import (
    Block,
    Body,
    Entry,
    Mapping,
    Node,
    Sequence,
    SourceError,
    duplicates,
)
from reconciler.config.syntax.sources import Reuse, Source, read_source
from reconciler.errors import Diagnostic, Pos

_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_BACKENDS = ("pg", "s3")


@dataclass(frozen=True, slots=True)
class _Kind:
    block: str
    """The HCL block type."""
    section: str
    """The YAML top-level key."""
    usage: str
    """How the HCL block is written, for messages."""
    labels: int = 1


_KINDS = {
    kind.block: kind
    for kind in (
        _Kind("provider", "provider", 'provider "modelarts" { ... }'),
        _Kind("backend", "backend", 'backend "pg" { ... } or backend "s3" { ... }'),
        _Kind("variable", "variables", 'variable "NAME" { ... }'),
        _Kind("locals", "locals", "locals { NAME = EXPRESSION ... }", 0),
        _Kind("nodepool", "nodepools", 'nodepool "NAME" { ... }'),
        _Kind("moved", "moved", "moved { from = nodepool.OLD  to = nodepool.NEW }", 0),
    )
}
_PROVIDERS = "providers"
"""The YAML section of aliased providers: a list, as a configuration holds several."""
_PROVIDER_ITEMS = ("provider mappings (each with an alias)", "a mapping of provider fields")
_MOVED_ITEMS = ("{from, to} mappings", "a mapping with from and to")
_SECTIONS = {
    name: kind
    for kind in _KINDS.values()
    for name in ((kind.section, _PROVIDERS) if kind.block == "provider" else (kind.section,))
}
_VAR_FILE = (
    "; a file of name = value lines is a variable file: name it np.npvars or NAME.auto.npvars, "
    "or pass it with --var-file"
)
_OTHER_TOOL = (
    "if this file belongs to another tool, keep np's files in a directory of their own and "
    "run np -C DIR"
)


@dataclass(frozen=True, slots=True)
class Declaration:
    """One block, whichever language it was written in."""

    kind: str
    """``provider``, ``backend``, ``variable``, ``locals``, ``nodepool`` or ``moved``."""
    label: str
    """The block's name (``modelarts`` for the provider, ``pg``/``s3`` for a backend, empty
    for a moved block)."""
    body: Mapping
    pos: Pos
    origin: tuple[str, int] | None = None
    """A top-level HCL block's file (its parse-cache key) and index in it, when the file is
    cached: where what is evaluated of the block can be kept for the next run."""
    evaluated: Any = None
    """What an earlier run evaluated of this block (``body`` is then a stand-in)."""

    @property
    def address(self) -> str:
        """How messages name the block: ``provider``, ``backend.s3``, ``nodepool.train``."""
        return f"{self.kind}.{self.label}" if self.label and self.kind != "provider" else self.kind


class DeclarationReader:
    """Parses files and lists their declarations, collecting every structural problem.
    ``hints`` bounds the did-you-mean searches over a file's names (300,000 top-level keys
    took 15 s of CPU)."""

    def __init__(self, hints: Hints, reuse: Reuse | None = None) -> None:
        self.declarations: list[Declaration] = []
        self.diagnostics: list[Diagnostic] = []
        self.hints = hints
        self.reuse = reuse

    def read(self, path: Path) -> None:
        try:
            source = read_source(path, path.name, self.reuse)
        except SourceError as exc:
            self.error(exc.message, Pos(path.name, exc.line))
            return
        if isinstance(source.tree, Body):
            self.hcl(source.tree, path.name, source)
        elif source.tree is not None:
            self.yaml(source.tree, path.name)

    def error(self, message: str, pos: Pos | None, address: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(message, pos, address))

    def unknown(self, what: str, name: str, known: Collection[str], pos: Pos) -> None:
        """An unknown block type or section: a near miss gets a did-you-mean, anything else
        may be another tool's file among np's."""
        hint = did_you_mean(name, known, hints=self.hints) or f"; {_OTHER_TOOL}"
        self.error(f"unknown {what} {excerpt(name)!r}{hint}", pos)

    def foreign(self, names: list[str], known: Collection[str]) -> bool:
        """Whether a file holds nothing of np's, not even a near miss (then it is reported
        once, as most likely another tool's file)."""
        return bool(names) and not any(
            name in known or suggest(name, known, self.hints) is not None for name in names
        )

    def foreign_file(self, file: str, found: str, known: Collection[str]) -> None:
        message = f"not an np configuration file: it has {found}, np's are {listing(known, 'and')}"
        self.error(f"{message}; {_OTHER_TOOL}", Pos(file, 1))

    def hcl(self, body: Body, file: str, source: Source) -> None:
        types = [item.type for item in body.items if isinstance(item, Block)]
        if len(types) == len(body.items) and self.foreign(types, _KINDS):
            self.foreign_file(file, f"block type {excerpt(types[0])!r}", _KINDS)
            return
        for index, item in enumerate(body.items):
            if not isinstance(item, Block):
                name = excerpt(item.name)
                message = f"unexpected attribute {name!r} at top level; expected blocks"
                self.error(f"{message} {listing(_KINDS)}{_VAR_FILE if not types else ''}", item.pos)
                if not types:
                    return  # a variable file: one message is enough
            elif item.type not in _KINDS:
                self.unknown("block type", item.type, _KINDS, item.pos)
            else:
                origin = None if source.key is None else (source.key, index)
                self.hcl_block(item, origin, source.evaluated.get(index))

    def hcl_block(self, block: Block, origin: tuple[str, int] | None, evaluated: Any) -> None:
        kind = _KINDS[block.type]
        if len(block.labels) != kind.labels:
            needs = "exactly one label" if kind.labels else "no label"
            self.error(f"a {block.type} block needs {needs}: {kind.usage}", block.pos)
            return
        label = block.labels[0] if block.labels else ""
        if block.type == "provider" and label != "modelarts":
            message = f'unknown provider {excerpt(label)!r}; only "modelarts" is supported'
            self.error(message, block.pos)
            return
        repeated = REPEATED_BLOCKS if block.type == "nodepool" else frozenset()
        body = block.body.to_mapping(repeated)
        self.declare(block.type, label, body, block.pos, origin, evaluated)

    def yaml(self, node: Node, file: str) -> None:
        if not isinstance(node, Mapping):
            self.error(f"expected a mapping with {listing(_SECTIONS, 'and')}", node.pos)
            return
        if self.foreign([entry.key for entry in node.entries], _SECTIONS):
            key = excerpt(node.entries[0].key)
            self.foreign_file(file, f"top-level key {key!r}", _SECTIONS)
            return
        for later, first in duplicates(node.entries):
            message = f"{later.key} is set more than once (first at {first.key_pos})"
            self.error(message, later.key_pos)
        seen: set[str] = set()
        for entry in node.entries:
            if entry.key in seen:
                continue
            seen.add(entry.key)
            kind = _SECTIONS.get(entry.key)
            if kind is None:
                self.unknown("top-level key", entry.key, _SECTIONS, entry.key_pos)
            elif entry.key == _PROVIDERS:
                self.yaml_list(kind, entry, "modelarts", _PROVIDER_ITEMS)
            elif kind.block == "provider":
                self.yaml_block(kind.block, Entry("modelarts", entry.key_pos, entry.value))
            elif kind.block == "moved":
                self.yaml_list(kind, entry, "", _MOVED_ITEMS)
            elif kind.block == "locals" and isinstance(entry.value, Mapping):
                self.declare(kind.block, "", entry.value, entry.key_pos)
            elif isinstance(entry.value, Mapping):
                self.yaml_section(kind, entry.value)
            else:
                message = f"{entry.key} must be a mapping of names to blocks"
                if kind.block == "locals":
                    message = "locals must be a mapping of names to values"
                elif kind.block == "backend":
                    message = "backend must be a mapping with one key, pg or s3"
                self.error(message, entry.key_pos)

    def yaml_section(self, kind: _Kind, section: Mapping) -> None:
        if kind.block == "backend" and len(section.entries) != 1:
            pos = section.entries[1].key_pos if section.entries else section.pos
            self.error("backend must be a mapping with one key, pg or s3", pos)
            return
        for item in section.entries:
            self.yaml_block(kind.block, item)

    def yaml_list(self, kind: _Kind, entry: Entry, label: str, items: tuple[str, str]) -> None:
        """``moved: [{from: ..., to: ...}, ...]``, ``providers: [{alias: hk, ...}, ...]``;
        ``items``: what the list holds, and what one item must be (for messages)."""
        if not isinstance(entry.value, Sequence):
            self.error(f"{entry.key} must be a list of {items[0]}", entry.key_pos)
            return
        for item in entry.value.items:
            if isinstance(item, Mapping):
                self.declare(kind.block, label, item, item.pos)
            else:
                self.error(f"expected {items[1]}", item.pos, kind.block)

    def yaml_block(self, kind: str, entry: Entry) -> None:
        if isinstance(entry.value, Mapping):
            self.declare(kind, entry.key, entry.value, entry.key_pos)
        else:
            address = Declaration(kind, entry.key, Mapping((), entry.key_pos), entry.key_pos)
            self.error("expected a mapping of fields", entry.key_pos, address.address)

    def declare(
        self,
        kind: str,
        label: str,
        body: Mapping,
        pos: Pos,
        origin: tuple[str, int] | None = None,
        evaluated: Any = None,
    ) -> None:
        if kind == "backend" and label not in _BACKENDS:
            hint = did_you_mean(label, _BACKENDS)
            self.error(f"unknown backend {excerpt(label)!r}; np offers pg and s3{hint}", pos)
            return
        if kind in ("variable", "nodepool") and not _LABEL.fullmatch(label):
            message = f"{kind} name {excerpt(label)!r} must start with a letter or _ and contain"
            self.error(f"{message} only letters, digits, _ and -", pos)
            return
        self.declarations.append(Declaration(kind, label, body, pos, origin, evaluated))
