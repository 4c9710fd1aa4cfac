"""A configuration directory → ``Configuration``, or a ``ConfigError`` listing every problem.

Files are parsed into language-neutral declarations (provider, variables, node pools); from
there on HCL and YAML take the same path: resolve variables, validate with the schema models,
check what spans blocks (duplicate addresses, two addresses for one node pool).
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Iterator
from collections.abc import Mapping as MappingABC
from collections.abc import Sequence as SequenceABC
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.config.messages import did_you_mean
from reconciler.config.nodes import Block, Body, Entry, Mapping, Node, SourceError, duplicates
from reconciler.config.resolve import Resolved, Scope, resolve, validate
from reconciler.config.schema import REPEATED_BLOCKS, NodePoolSpec, ProviderSpec
from reconciler.config.sources import CONFIG_SUFFIXES, parse_file
from reconciler.config.types import Configuration, DesiredNodePool, Lifecycle, Provider
from reconciler.config.variables import Variable, VariableValues, declare
from reconciler.errors import ConfigError, Diagnostic, Pos

_KINDS = {"provider": "provider", "variable": "variables", "nodepool": "nodepools"}
"""HCL block type → YAML top-level key."""
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class _Declaration:
    """One provider, variable or nodepool, whichever language it was written in."""

    kind: str
    label: str
    body: Mapping
    pos: Pos

    @property
    def address(self) -> str:
        return "provider" if self.kind == "provider" else f"{self.kind}.{self.label}"


def load_config(
    config_dir: Path,
    *,
    var_files: SequenceABC[Path] = (),
    var_args: SequenceABC[str] = (),
    environ: MappingABC[str, str] | None = None,
) -> Configuration:
    """Read every ``*.hcl``/``*.yaml``/``*.yml`` directly in ``config_dir`` and validate it."""
    with _no_cyclic_gc():
        return _load(config_dir, var_files, var_args, environ)


def _load(
    config_dir: Path,
    var_files: SequenceABC[Path],
    var_args: SequenceABC[str],
    environ: MappingABC[str, str] | None,
) -> Configuration:
    files = _config_files(config_dir)
    reader = _DeclarationReader()
    for path in files:
        reader.read(path)
    builder = _Builder(reader.diagnostics)
    declarations = builder.unique(reader.declarations)
    values = builder.variables(declarations)
    values.from_environ(os.environ if environ is None else environ)
    for var_file in var_files:
        values.from_file(var_file)
    values.from_args(var_args)
    builder.diagnostics += values.diagnostics
    scope = values.scope()
    provider = builder.provider(declarations, scope)
    nodepools = builder.nodepools(declarations, scope)
    if builder.diagnostics:
        raise ConfigError(builder.diagnostics)
    return Configuration(provider, nodepools, tuple(path.name for path in files))


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Parsing and validating allocate millions of acyclic objects; the cyclic collector
    scanning them again and again costs half the time (measured: 5.6 s → 2.5 s to parse
    1,000 blocks; 0.83 s → 0.28 s to load 2,000 blocks from the parse cache)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _config_files(config_dir: Path) -> list[Path]:
    if not config_dir.is_dir():
        raise ConfigError([Diagnostic(f"configuration directory {config_dir} does not exist")])
    named = sorted(p for p in config_dir.iterdir() if p.suffix in CONFIG_SUFFIXES)
    # A configuration file that cannot be read must not look like deleted node pools.
    unreadable = [p for p in named if not p.is_file()]
    if unreadable:
        raise ConfigError(
            [
                Diagnostic(f"{p.name}: not a readable file (a dangling symlink or a directory?)")
                for p in unreadable
            ]
        )
    files = named
    if not files:
        patterns = ", ".join(f"*{suffix}" for suffix in CONFIG_SUFFIXES)
        message = f"no configuration files ({patterns}) found in {config_dir}"
        raise ConfigError([Diagnostic(message)])
    return files


class _DeclarationReader:
    """Parses files and lists their declarations; structural mistakes become diagnostics."""

    def __init__(self) -> None:
        self.declarations: list[_Declaration] = []
        self.diagnostics: list[Diagnostic] = []

    def read(self, path: Path) -> None:
        try:
            parsed = parse_file(path, path.name)
        except SourceError as exc:
            self.error(exc.message, Pos(path.name, exc.line))
            return
        if isinstance(parsed, Body):
            self.hcl(parsed)
        elif parsed is not None:
            self.yaml(parsed)

    def error(self, message: str, pos: Pos | None, address: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(message, pos, address))

    def hcl(self, body: Body) -> None:
        for item in body.items:
            if not isinstance(item, Block):
                message = f"unexpected attribute {item.name!r} at top level; expected blocks"
                self.error(f"{message} provider, variable or nodepool", item.pos)
            elif item.type not in _KINDS:
                hint = did_you_mean(item.type, _KINDS)
                self.error(f"unknown block type {item.type!r}{hint}", item.pos)
            elif len(item.labels) != 1:
                usage = f'{item.type} "NAME" {{ ... }}'
                self.error(f"a {item.type} block needs exactly one label: {usage}", item.pos)
            elif item.type == "provider" and item.labels[0] != "modelarts":
                message = f'unknown provider {item.labels[0]!r}; only "modelarts" is supported'
                self.error(message, item.pos)
            else:
                repeated = REPEATED_BLOCKS if item.type == "nodepool" else frozenset()
                body_map = item.body.to_mapping(repeated)
                self.declare(item.type, item.labels[0], body_map, item.pos)

    def yaml(self, node: Node) -> None:
        if not isinstance(node, Mapping):
            self.error("expected a mapping with provider, variables and nodepools", node.pos)
            return
        for later, first in duplicates(node.entries):
            message = f"{later.key} is set more than once (first at {first.key_pos})"
            self.error(message, later.key_pos)
        kinds = {key: kind for kind, key in _KINDS.items()}
        seen: set[str] = set()
        for entry in node.entries:
            kind = kinds.get(entry.key)
            if entry.key in seen:
                continue
            seen.add(entry.key)
            if kind is None:
                hint = did_you_mean(entry.key, kinds)
                self.error(f"unknown top-level key {entry.key!r}{hint}", entry.key_pos)
            elif kind == "provider":
                self.yaml_block(kind, Entry("modelarts", entry.key_pos, entry.value))
            elif isinstance(entry.value, Mapping):
                for item in entry.value.entries:
                    self.yaml_block(kind, item)
            else:
                self.error(f"{entry.key} must be a mapping of names to blocks", entry.key_pos)

    def yaml_block(self, kind: str, entry: Entry) -> None:
        if isinstance(entry.value, Mapping):
            self.declare(kind, entry.key, entry.value, entry.key_pos)
        else:
            address = "provider" if kind == "provider" else f"{kind}.{entry.key}"
            self.error("expected a mapping of fields", entry.key_pos, address)

    def declare(self, kind: str, label: str, body: Mapping, pos: Pos) -> None:
        if kind != "provider" and not _LABEL.fullmatch(label):
            message = f"{kind} name {label!r} must start with a letter or _ and contain only"
            self.error(f"{message} letters, digits, _ and -", pos)
            return
        self.declarations.append(_Declaration(kind, label, body, pos))


class _Builder:
    """Turns declarations into the typed configuration, collecting every problem."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics

    def unique(self, declarations: list[_Declaration]) -> list[_Declaration]:
        """Keep the first declaration of each address; report the others."""
        first: dict[str, _Declaration] = {}
        for decl in declarations:
            if decl.address in first:
                message = f"declared more than once (first at {first[decl.address].pos})"
                self.diagnostics.append(Diagnostic(message, decl.pos, decl.address))
            else:
                first[decl.address] = decl
        return list(first.values())

    def report(self, resolved: Resolved, address: str) -> bool:
        """Move a block's problems into the diagnostics; True when there were none."""
        self.diagnostics += [problem.diagnostic(address) for problem in resolved.problems]
        return not resolved.problems

    def variables(self, declarations: list[_Declaration]) -> VariableValues:
        variables: dict[str, Variable] = {}
        broken: list[str] = []
        for decl in declarations:
            if decl.kind == "variable":
                variables[decl.label], problems = declare(decl.label, decl.body, decl.pos)
                self.diagnostics += [problem.diagnostic(decl.address) for problem in problems]
                broken += [decl.label] if problems else []
        return VariableValues(variables, broken)

    def provider(self, declarations: list[_Declaration], scope: Scope) -> Provider:
        decl = next((d for d in declarations if d.kind == "provider"), None)
        if decl is None:
            return Provider()
        kept: list[Entry] = []
        for entry in decl.body.entries:
            hint = ProviderSpec.secret_hint(entry.key)
            if hint is None:
                kept.append(entry)
                continue
            message = f"credentials must not be written in configuration; set {hint} instead"
            self.diagnostics.append(Diagnostic(message, entry.key_pos, "provider", entry.key))
        resolved = resolve(Mapping(tuple(kept), decl.body.pos), scope)
        spec = validate(ProviderSpec, resolved)
        if not self.report(resolved, "provider") or spec is None:
            return Provider()
        where = resolved.pos(("endpoint",)) if spec.endpoint else decl.pos
        return Provider(spec.region, spec.project_id, spec.endpoint, where)

    def nodepools(
        self, declarations: list[_Declaration], scope: Scope
    ) -> tuple[DesiredNodePool, ...]:
        pools: dict[tuple[str, str], DesiredNodePool] = {}
        for decl in declarations:
            if decl.kind != "nodepool":
                continue
            pool = self.nodepool(decl, scope)
            if pool is None:
                continue
            other = pools.setdefault((pool.pool, pool.name), pool)
            if other is not pool:
                message = (
                    f"manages the same node pool {pool.pool}/{pool.name} as "
                    f"{other.address} ({other.pos})"
                )
                self.diagnostics.append(Diagnostic(message, pool.pos, pool.address))
        return tuple(sorted(pools.values(), key=lambda pool: pool.address))

    def nodepool(self, decl: _Declaration, scope: Scope) -> DesiredNodePool | None:
        resolved = resolve(decl.body, scope)
        spec = validate(NodePoolSpec, resolved)
        if spec is not None:
            for path, message in spec.problems():
                resolved.report(path, message)
        if not self.report(resolved, decl.address) or spec is None:
            return None
        written: dict[str, Any] = resolved.value
        lifecycle = spec.lifecycle
        return DesiredNodePool(
            address=decl.address,
            pool=spec.pool,
            name=spec.name or decl.label,
            fields={k: v for k, v in written.items() if k not in ("pool", "name", "lifecycle")},
            lifecycle=Lifecycle(tuple(lifecycle.ignore_changes), lifecycle.prevent_destroy)
            if lifecycle
            else Lifecycle(),
            pos=decl.pos,
            field_pos={key: resolved.positions[(key,)] for key in written},
        )
