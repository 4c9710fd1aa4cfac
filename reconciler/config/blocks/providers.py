"""``provider "modelarts"`` blocks → providers, and how a node pool names one.

One block without ``alias`` is the default provider (``modelarts``); every other block has an
``alias`` (``modelarts.hk``), and an aliased block may have ``for_each``, one provider per key
(``modelarts.region["cn-north-4"]``). ``alias`` is read as written: which providers exist is
known before anything else is evaluated, as in Terraform.

    providers = build_providers(declarations, context, diagnostics, hints)
    providers.reference(node, context, "nodepool.infer", diagnostics)
    # provider = modelarts.region[each.key]  -> 'modelarts.region["cn-north-4"]'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from reconciler.config.blocks.for_each import for_each_pairs, once, take_entry
from reconciler.config.configuration import Provider
from reconciler.config.evaluation.expr import Context, Evaluator
from reconciler.config.evaluation.resolve import resolve, validate
from reconciler.config.evaluation.values import EvalError, Quiet
from reconciler.config.messages import Hints, describe, did_you_mean, excerpt
from reconciler.config.schema import ProviderSpec
from reconciler.config.syntax.declarations import Declaration
from reconciler.config.syntax.nodes import BareName, Entry, GetAttr, Index, Mapping, Node, Scalar
from reconciler.errors import Diagnostic, Pos
from reconciler.identifiers import (
    ALIAS,
    DEFAULT_PROVIDER,
    PROVIDER_SHAPE,
    parse_provider_address,
    provider_address,
)

MAX_PROVIDER_INSTANCES = 100
"""Instances one ``for_each`` provider may make: each is a connection and a world read."""
_SECRET = "credentials must not be written in configuration; set {} instead"


@dataclass(frozen=True)
class Providers:
    """Every provider the configuration declares, and what a reference to one may name."""

    default: Provider = field(default_factory=Provider)
    aliases: dict[str, Provider] = field(default_factory=dict)
    """Aliased providers (each ``for_each`` instance its own) by address."""
    keys: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    """Each alias with its ``for_each`` keys (None: no ``for_each``)."""
    unknown: frozenset[str] = frozenset()
    """Aliases whose instances are unknown (a failed ``for_each``, already reported) or that
    failed to build: node pools naming them stay quiet."""
    hints: Hints | None = None
    """The configuration's allowance for did-you-mean searches."""

    def reference(
        self, node: Node | None, context: Context, address: str, diagnostics: list[Diagnostic]
    ) -> str | None:
        """The provider address a node pool's ``provider`` names (the default one when it is
        not written), or None with the reason in ``diagnostics``."""
        if node is None:
            return DEFAULT_PROVIDER
        try:
            alias, key = _referenced(node, context)
        except Quiet:
            return None
        except (EvalError, ValueError) as exc:
            message = exc.message if isinstance(exc, EvalError) else str(exc)
            pos = exc.pos if isinstance(exc, EvalError) and exc.pos else node.pos
            diagnostics.append(Diagnostic(message, pos, address, "provider"))
            return None
        if alias is None:
            return DEFAULT_PROVIDER
        problem = self._undeclared(alias, key)
        if problem == "":
            return None
        if problem is not None:
            diagnostics.append(Diagnostic(problem, node.pos, address, "provider"))
            return None
        return provider_address(alias, key)

    def _undeclared(self, alias: str, key: str | None) -> str | None:
        """Why ``modelarts.ALIAS[KEY]`` names no declared provider (None: it does; "": the
        reason is reported already)."""
        if alias in self.unknown:
            return ""
        named = provider_address(alias, key)
        if alias not in self.keys:
            declared = sorted(self.keys)
            hint = did_you_mean(alias, declared, f"{DEFAULT_PROVIDER}.", self.hints)
            if not hint and declared:
                hint = f"; declared: {', '.join(provider_address(a) for a in declared)}"
            block = f"add a provider block with alias = {json.dumps(alias)}"
            return f"{named} is not declared: {block}{hint}"
        instances = self.keys[alias]
        if instances is None and key is not None:
            return f"{provider_address(alias)} has no for_each: write {provider_address(alias)}"
        if instances is not None and key is None:
            example = f"{provider_address(alias)}[each.key]"
            return f"{provider_address(alias)} uses for_each: name one instance, e.g. {example}"
        if instances is not None and key not in instances:
            shown = ", ".join(json.dumps(excerpt(k), ensure_ascii=False) for k in instances[:5])
            more = ", ..." if len(instances) > 5 else ""
            listed = f"; its keys: {shown}{more}"
            return f"{provider_address(alias)} has no instance {json.dumps(key)}{listed}"
        return None


def _referenced(node: Node, context: Context) -> tuple[str | None, str | None]:
    """``(alias, key)`` a reference names: an HCL traversal rooted at ``modelarts`` (only an
    instance key is evaluated, ``modelarts.region[each.key]``), or a string (YAML:
    ``provider: hk``, ``provider: modelarts.region["x"]``, or a template)."""
    key_node = None
    target = node
    if isinstance(node, Index):
        key_node, target = node.key, node.target
    if isinstance(target, GetAttr) and target.target == BareName(DEFAULT_PROVIDER, target.pos):
        if key_node is None:
            return target.name, None
        key = Evaluator(context).evaluate(key_node)
        if not isinstance(key, str):
            raise EvalError(f"a provider instance key must be a string, got {describe(key)}")
        return target.name, key
    if node == BareName(DEFAULT_PROVIDER, node.pos):
        return None, None
    text = Evaluator(context).evaluate(node)
    if not isinstance(text, str):
        wanted = f"expected a provider ({PROVIDER_SHAPE}, or an alias)"
        raise ValueError(f"{wanted}, got {describe(text)}")
    if ALIAS.fullmatch(text) and text != DEFAULT_PROVIDER:
        return text, None
    return parse_provider_address(text)


def build_providers(
    declarations: Sequence[Declaration],
    context: Context,
    diagnostics: list[Diagnostic],
    hints: Hints,
) -> Providers:
    """Every provider block, checked: at most one without an alias, each alias once, and
    ``for_each`` only beside an alias."""
    default: Provider | None = None
    first: dict[str | None, Pos] = {}
    aliases: dict[str, Provider] = {}
    keys: dict[str, tuple[str, ...] | None] = {}
    unknown: set[str] = set()
    for decl in declarations:
        if decl.kind != "provider":
            continue
        body, alias_node = take_entry(decl.body, "alias")
        body, for_each = take_entry(body, "for_each")
        alias = _alias(alias_node, diagnostics)
        if alias == "":
            continue
        name = "provider" if alias is None else f"provider {provider_address(alias)}"
        if alias in first:
            message = f"declared more than once (first at {first[alias]})"
            diagnostics.append(Diagnostic(message, decl.pos, name))
            continue
        first[alias] = decl.pos
        if alias is None:
            if for_each is not None:
                message = (
                    "for_each needs an alias: a provider with for_each is addressed "
                    'modelarts.ALIAS["KEY"]; add alias = "NAME"'
                )
                diagnostics.append(Diagnostic(message, for_each.pos, name, "for_each"))
                continue
            default = _instance(decl, body, context, None, None, diagnostics)
            continue
        built = _aliased(decl, body, for_each, alias, context, diagnostics)
        if built is None:
            unknown.add(alias)
            keys[alias] = None
            continue
        keys[alias] = built[0]
        aliases.update((p.address, p) for p in built[1])
    return Providers(default or Provider(), aliases, keys, frozenset(unknown), hints)


def _alias(node: Node | None, diagnostics: list[Diagnostic]) -> str | None:
    """The alias as written (None: none; "": a bad one, reported)."""
    if node is None:
        return None
    if not (isinstance(node, Scalar) and isinstance(node.value, str)):
        message = 'alias must be written as a literal name, e.g. alias = "hk"'
        diagnostics.append(Diagnostic(message, node.pos, "provider", "alias"))
        return ""
    if not ALIAS.fullmatch(node.value):
        message = (
            f"{excerpt(node.value)!r} is not an alias: letters, digits and _, starting with a "
            "letter or _ (it also names NP_ENDPOINT_<ALIAS>)"
        )
        diagnostics.append(Diagnostic(message, node.pos, "provider", "alias"))
        return ""
    return node.value


def _aliased(
    decl: Declaration,
    body: Mapping,
    for_each: Node | None,
    alias: str,
    context: Context,
    diagnostics: list[Diagnostic],
) -> tuple[tuple[str, ...] | None, list[Provider]] | None:
    """An aliased block's ``for_each`` keys (None: no for_each) and its providers; None when
    its instances are unknown or it failed."""
    if for_each is None:
        provider = _instance(decl, body, context, alias, None, diagnostics)
        return None if provider is None else (None, [provider])
    name = f"provider {provider_address(alias)}"
    pairs = for_each_pairs(context, for_each, name, diagnostics, limit=MAX_PROVIDER_INSTANCES)
    if pairs is None:
        return None
    found: list[Diagnostic] = []
    providers = [
        _instance(decl, body, context.with_each(key, value), alias, key, found)
        for key, value in pairs
    ]
    diagnostics += once(found)
    built = [p for p in providers if p is not None]
    if len(built) != len(providers):
        return None
    return tuple(key for key, _ in pairs), built


def _instance(
    decl: Declaration,
    body: Mapping,
    context: Context,
    alias: str | None,
    key: str | None,
    diagnostics: list[Diagnostic],
) -> Provider | None:
    """One provider: its fields evaluated and validated; a credential is refused without
    echoing it."""
    name = "provider" if alias is None else f"provider {provider_address(alias, key)}"
    kept: list[Entry] = []
    for entry in body.entries:
        hint = ProviderSpec.secret_hint(entry.key)
        if hint is None:
            kept.append(entry)
        else:
            diagnostics.append(Diagnostic(_SECRET.format(hint), entry.key_pos, name, entry.key))
    resolved = resolve(Mapping(tuple(kept), body.pos), context)
    spec = validate(ProviderSpec, resolved)
    diagnostics += [problem.diagnostic(name) for problem in resolved.problems]
    if resolved.problems or spec is None or len(kept) != len(body.entries):
        return None
    where = resolved.pos(("endpoint",)) if spec.endpoint else decl.pos
    return Provider(
        spec.region, spec.project_id, spec.endpoint, where, spec.workspace_id, alias, key
    )
