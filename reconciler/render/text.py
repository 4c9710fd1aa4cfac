"""Terraform-style text for humans: what changes, why, and how much stays hidden."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import click

from reconciler.diff import DriftChange, FieldChange
from reconciler.errors import shown
from reconciler.model import (
    CONFIG_NAMES,
    wire_path_to_config,
    wire_to_config,
    wire_value_to_config,
)
from reconciler.plan.changes import Plan, ResourceChange
from reconciler.plan.renames import rename_hints
from reconciler.state.document import ResourceState


class _OfProvider(Protocol):
    @property
    def provider(self) -> str: ...


T_Change = TypeVar("T_Change", bound=_OfProvider)
"""A plan's change or a drift entry: anything a region holds."""

_SYMBOL = {"create": "+", "update": "~", "delete": "-", "no-op": " "}
_COLOR = {"+": "green", "~": "yellow", "-": "red"}
VERB = {
    "create": "will be created",
    "update": "will be updated in-place",
    "delete": "will be destroyed",
}


@dataclass(frozen=True, slots=True)
class Painter:
    """Colours only when asked (a terminal without NO_COLOR / --no-color)."""

    color: bool

    def __call__(self, text: str, fg: str | None = None, bold: bool = False) -> str:
        return click.style(text, fg=fg, bold=bold) if self.color else text

    def sign(self, symbol: str) -> str:
        return self(symbol, _COLOR.get(symbol))


def value(v: Any) -> str:
    """A value as the plan shows it: JSON, with anything unprintable escaped (a label a
    server or a file holds may carry an escape sequence, a bidi override or a lone
    surrogate)."""
    return shown(json.dumps(v, ensure_ascii=False), None)


def by_provider(resources: Sequence[T_Change]) -> list[tuple[str | None, list[T_Change]]]:
    """``resources`` grouped by provider, in provider order, when there is more than one
    provider; otherwise one group without a name (a plan of one region reads as it did)."""
    groups: dict[str, list[T_Change]] = {}
    for resource in resources:
        groups.setdefault(resource.provider, []).append(resource)
    if len(groups) <= 1:
        return [(None, list(resources))]
    return [(provider, groups[provider]) for provider in sorted(groups)]


def render_plan(plan: Plan, paint: Painter) -> str:
    lines: list[str] = []
    drifted = [r for r in plan.resources if r.drift]
    if drifted:
        lines += [paint("Objects have changed outside of np:", bold=True), ""]
        for provider, group in by_provider(drifted):
            lines += _provider_heading(provider, paint)
            for resource in group:
                lines += _drift_lines(resource, paint)
        lines.append("")
    acting = [r for r in plan.resources if r.sends_request]
    if acting:
        lines += ["np will perform the following actions:", ""]
        hints = rename_hints(plan)
        for provider, group in by_provider(acting):
            lines += _provider_heading(provider, paint)
            for resource in group:
                lines += _resource_lines(resource, paint, hints.get(resource.address))
                lines.append("")
    for warning in plan.warnings:
        lines += [paint("Warning: ", "yellow", bold=True) + str(warning), ""]
    lines += _state_only_lines(plan)
    summary = plan.summary
    if acting:
        lines.append(
            paint("Plan: ", bold=True)
            + f"{summary.add} to add, {summary.change} to change, {summary.destroy} to destroy."
        )
        for provider, group in by_provider(acting):
            if provider is not None:
                counts = [sum(1 for r in group if r.action == a) for a in _COUNTED]
                lines.append(
                    f"  {provider}: {counts[0]} to add, {counts[1]} to change, "
                    f"{counts[2]} to destroy."
                )
    else:
        state_only = " np apply will only update its state." if plan.applyable else ""
        lines.append(
            paint("No changes.", "green", bold=True)
            + " Your node pools match the configuration."
            + state_only
        )
    return "\n".join(lines)


_COUNTED = ("create", "update", "delete")


def _provider_heading(provider: str | None, paint: Painter) -> list[str]:
    return [] if provider is None else [paint(f"Provider {provider}:", bold=True), ""]


def _state_only_lines(plan: Plan) -> list[str]:
    """What apply writes to state without a request: moves, adoptions, forgotten node pools;
    one address per line, so a plan of hundreds stays readable."""
    moved = [r for r in plan.resources if r.moved_from]
    forgotten = [r for r in plan.resources if r.forgets]
    recorded = [
        r
        for r in plan.resources
        if r.records_state and not r.sends_request and not r.moved_from and not r.forgets
    ]
    lines = [f"  # {r.moved_from} has moved to {r.address}" for r in moved]
    if recorded:
        lines.append(f"np will record {_node_pools(len(recorded))} in state without changing:")
        lines += [f"  {r.address}" + (" (adopted)" if r.adopted else "") for r in recorded]
    lines += [f"np will forget {r.address}: it no longer exists" for r in forgotten]
    return [*lines, ""] if lines else []


def _node_pools(n: int) -> str:
    return f"{n} node pool{'' if n == 1 else 's'}"


def _drift_lines(resource: ResourceChange, paint: Painter) -> list[str]:
    lines = [paint(f"  # {resource.address}", bold=True) + " has changed outside of np"]
    lines += [drift_line(drift, paint) for drift in resource.drift]
    return lines


def drift_line(drift: DriftChange, paint: Painter) -> str:
    """One drifted value, as ``np plan`` and ``np drift`` show it."""
    return (
        f"  {paint.sign('~')} {wire_path_to_config(drift.path)}: "
        f"{value(drift.applied)} -> {value(drift.live)}  (last applied -> live)"
    )


def field_groups(resource: ResourceChange) -> dict[str, list[FieldChange]]:
    """A resource's changes by top-level wire field, in plan order (``labels`` → its keys)."""
    groups: dict[str, list[FieldChange]] = {}
    for change in resource.changes:
        groups.setdefault(change.path.split(".", 1)[0], []).append(change)
    return groups


def hidden_fields(resource: ResourceChange, groups: dict[str, list[FieldChange]]) -> int:
    """How many live fields an update leaves alone (shown as a count, not listed)."""
    if resource.action != "update" or resource.after is None:
        return 0
    return len([f for f in resource.after if f not in groups])


def _resource_lines(resource: ResourceChange, paint: Painter, hint: str | None = None) -> list[str]:
    symbol = _SYMBOL[resource.action]
    lines = [paint(f"  # {resource.address}", bold=True) + f" {VERB[resource.action]}"]
    if hint:
        lines.append(paint(f"  # {hint}", "yellow"))
    if resource.moved_from:
        lines.append(f"  # (moved from {resource.moved_from})")
    if resource.adopted:
        lines.append("  # (adopted: np starts managing an existing node pool)")
    lines.append(f"  {paint.sign(symbol)} nodepool {value(resource.name)} {{")
    why_shown = resource.action == "update"
    groups = field_groups(resource) if why_shown else _whole_fields(resource)
    names = {f: CONFIG_NAMES.get(f, f) for f in groups}
    width = max((len(n) for n in names.values()), default=0)
    lines.append(f"        {'pool'.ljust(width)} = {value(resource.pool)}")
    for field, changes in groups.items():
        name = names[field].ljust(width)
        if len(changes) == 1 and "." not in changes[0].path:
            lines.append("      " + _change_line(name, changes[0], paint, why_shown))
            continue
        lines.append(f"      {paint.sign(symbol)} {name} = {{")
        keys = [c.path.split(".", 1)[1] for c in changes]
        key_width = max(len(value(k)) for k in keys)
        for key, change in zip(keys, changes, strict=True):
            key_text = value(key).ljust(key_width)
            lines.append("          " + _change_line(key_text, change, paint, why_shown))
        lines.append("        }")
    hidden = hidden_fields(resource, groups)
    if hidden:
        lines.append(f"        # ({hidden} unchanged fields hidden)")
    lines.append("    }")
    return lines


def _whole_fields(resource: ResourceChange) -> dict[str, list[FieldChange]]:
    """A create's or destroy's fields in the configuration's shape, maps and objects one key
    per line as updates show them (``labels``, ``tags``, ``network``...)."""
    groups: dict[str, list[FieldChange]] = {}
    for change in resource.changes:
        shaped = _in_config_shape(change)
        whole = shaped.after if shaped.after is not None else shaped.before
        if isinstance(whole, dict) and whole:
            groups[change.path] = [
                FieldChange(
                    f"{change.path}.{key}",
                    change.reason,
                    None if shaped.before is None else item,
                    None if shaped.after is None else item,
                )
                for key, item in whole.items()
            ]
        else:
            groups[change.path] = [shaped]
    return groups


def _in_config_shape(change: FieldChange) -> FieldChange:
    """A whole field (as creates and destroys show them) as the user writes it."""
    before = wire_value_to_config(change.path, change.before)
    after = wire_value_to_config(change.path, change.after)
    return FieldChange(change.path, change.reason, before, after)


def _change_line(name: str, change: FieldChange, paint: Painter, why_shown: bool = True) -> str:
    """One changed value; the reason is left out where every line would say the same."""
    why = paint(f"  # {change.reason}", "bright_black") if why_shown else ""
    if change.before is None:
        return f"{paint.sign('+')} {name} = {value(change.after)}{why}"
    if change.after is None:
        return f"{paint.sign('-')} {name} = {value(change.before)} -> null{why}"
    return f"{paint.sign('~')} {name} = {value(change.before)} -> {value(change.after)}{why}"


def recorded_block(address: str, resource: ResourceState) -> str:
    """One managed node pool as state records it, in the configuration's names and shapes: a
    ``nodepool`` block holding what np last applied."""
    from reconciler.generate import Generated, hcl_block, label_of

    label = label_of(address)
    fields = wire_to_config(resource.applied)
    block = hcl_block(Generated(label, resource.pool, resource.name, fields, (), resource.provider))
    lines = [f"# {address}: {resource.pool}/{resource.name}, last applied {resource.updated_at}"]
    if resource.prevent_destroy:
        lines.append("# lifecycle.prevent_destroy was set when it was applied")
    return "\n".join([*lines, block])
