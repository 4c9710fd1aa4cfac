"""The plan as a pull-request comment (``np plan --format markdown``).

    parts = render_plan_markdown(plan)   # post each as one comment; every part ≤ 65,000 chars

A part is a heading with the summary, a table (address | action | fields changed), the changes
in a fenced ``diff`` block (folded in ``<details>`` when long) and the drift. A plan over more
than one provider (region) is grouped by provider: a provider column in the table, and a
``# provider ...`` line where each one's changes begin. A ``~`` line is not
diff syntax, so an update shows the old value as a ``-`` line and the new one as a ``+`` line.
Every part starts with an HTML comment (``<!-- np plan: part 1 of 2 -->``, invisible once
rendered) so a CI script can split the output and find its earlier comments.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.diff import FieldChange
from reconciler.model import CONFIG_NAMES, wire_path_to_config
from reconciler.plan.changes import Plan, ResourceChange
from reconciler.plan.renames import rename_hints
from reconciler.render.text import VERB, by_provider, field_groups, hidden_fields, value

LIMIT = 65_000
"""GitHub refuses comments longer than 65,536 characters."""
FOLD_LINES = 40
MARKER = "<!-- np plan: part {i} of {n} -->"
_RESERVE = 1_000
"""Room in each part for what is not a resource: marker, headings, table head, fences."""
_SIGN = {"create": "+", "delete": "-", "update": " "}


PREFACE_LIMIT = 20_000
"""At most this much of a preface (the policy checks) goes into the first part."""


def render_plan_markdown(plan: Plan, preface: str = "") -> list[str]:
    """The plan in parts; ``preface`` (Markdown: the policy checks) tops the first part."""
    preface = _cut(preface, PREFACE_LIMIT)
    budget = LIMIT - _RESERVE - len(preface) - sum(len(str(w)) + 20 for w in plan.warnings)
    groups = by_provider(plan.resources)
    firsts = {next((r.address for r in group if r.sends_request), "") for _, group in groups}
    hints = rename_hints(plan)
    blocks = [
        piece
        for provider, group in groups
        for r in group
        for piece in _block(
            r, provider, first=r.address in firsts, hint=hints.get(r.address)
        ).split(budget)
    ]
    parts = _pack(blocks, budget)
    grouped = groups[0][0] is not None
    return [
        _part(plan, part, i, len(parts), preface if i == 1 else "", grouped)
        for i, part in enumerate(parts, 1)
    ]


def _cut(text: str, limit: int) -> str:
    """``text`` cut at a line boundary to fit ``limit``, saying how many lines were left out."""
    if len(text) <= limit:
        return text
    lines = text[:limit].splitlines()[:-1]
    left = text.count("\n") - len(lines)
    return "\n".join([*lines, f"*… {left} more lines (the job log has them all)*"]) + "\n"


def diff_pair(label: str, before: Any, after: Any, indent: str = "", note: str = "") -> list[str]:
    """``- label = old`` then ``+ label = new``; a side that is None (absent) is left out."""
    tail = f"  # {note}" if note else ""
    lines = [] if before is None else [f"-{indent}{label} = {value(before)}"]
    lines += [] if after is None else [f"+{indent}{label} = {value(after)}"]
    lines[-1] += tail
    return lines


def diff_block(lines: Sequence[str], what: str) -> list[str]:
    """A fenced ``diff`` block, folded in ``<details>`` when longer than FOLD_LINES."""
    lines = list(lines)
    while lines and not lines[-1]:
        lines.pop()
    longest = max((len(run) for line in lines for run in re.findall("`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    block = [f"{fence}diff", *lines, fence]
    if len(lines) <= FOLD_LINES:
        return block
    count = f"{len(lines):,} lines"
    return [f"<details><summary>{what} ({count})</summary>", "", *block, "", "</details>"]


@dataclass(frozen=True)
class _Block:
    """One resource's share of a part: its table row, change lines and drift lines."""

    address: str
    row: str | None
    changes: tuple[str, ...]
    drift: tuple[str, ...]

    @property
    def size(self) -> int:
        lines = [*([self.row] if self.row else []), *self.changes, *self.drift]
        return sum(len(line) + 1 for line in lines)

    def split(self, budget: int) -> list[_Block]:
        """This block, or pieces of it that each fit in ``budget`` (a huge resource)."""
        if self.size <= budget:
            return [self] if self.size else []
        more = f"  # {self.address} (continued)"
        room = budget - len(self.row or "") - len(more) - 2
        pieces = [_Block(self.address, self.row, (), ())]
        pieces += [
            _Block(self.address, None, chunk, ()) for chunk in _chunks(self.changes, room, more)
        ]
        pieces += [
            _Block(self.address, None, (), chunk) for chunk in _chunks(self.drift, room, more)
        ]
        return _pack_blocks(pieces, budget)


def _chunks(lines: tuple[str, ...], room: int, more: str) -> list[tuple[str, ...]]:
    """Lines cut into runs of at most ``room`` characters; each run after the first says so."""
    runs: list[list[str]] = []
    size = 0
    for line in lines:
        line = line if len(line) < room else line[: room - 40] + " … (line cut)"
        if not runs or size + len(line) + 1 > room:
            runs.append([more] if runs else [])
            size = sum(len(x) + 1 for x in runs[-1])
        runs[-1].append(line)
        size += len(line) + 1
    return [tuple(run) for run in runs]


def _pack_blocks(pieces: list[_Block], budget: int) -> list[_Block]:
    """Merge consecutive pieces of one resource while they fit, so it splits no more than needed."""
    merged: list[_Block] = []
    for piece in pieces:
        last = merged[-1] if merged else None
        if last is not None and last.size + piece.size <= budget:
            rows = last.row or piece.row
            merged[-1] = _Block(
                piece.address, rows, last.changes + piece.changes, last.drift + piece.drift
            )
        elif piece.size:
            merged.append(piece)
    return merged


def _pack(blocks: list[_Block], budget: int) -> list[list[_Block]]:
    """Resources in order, as many per part as fit."""
    parts: list[list[_Block]] = [[]]
    size = 0
    for block in blocks:
        if parts[-1] and size + block.size > budget:
            parts.append([])
            size = 0
        parts[-1].append(block)
        size += block.size
    return parts


def _block(
    resource: ResourceChange, provider: str | None, *, first: bool, hint: str | None = None
) -> _Block:
    """``provider``: the group the resource is in (None: the plan has one provider); the
    ``first`` change of a group carries its ``# provider`` line; ``hint`` (a likely rename)
    goes under the change's heading."""
    row = None
    column = "" if provider is None else f" `{provider}` |"
    if resource.sends_request or resource.records_state:
        row = f"| `{resource.address}` |{column} {_action(resource)} | {_fields(resource)} |"
    changes: tuple[str, ...] = ()
    if resource.sends_request:
        heading = [f"  # provider {provider}", ""] if provider is not None and first else []
        lines = _change_lines(resource)
        if hint:
            lines.insert(1, f"  # {hint}")
        changes = (*heading, *lines)
    drift: list[str] = []
    if resource.drift:
        drift.append(f"  # {resource.address} has changed outside of np")
        for d in resource.drift:
            drift += diff_pair(wire_path_to_config(d.path), d.applied, d.live, " ")
        drift.append("")
    return _Block(resource.address, row, changes, tuple(drift))


def _action(resource: ResourceChange) -> str:
    action: str = resource.action if resource.sends_request else "record in state"
    if resource.forgets:
        action = "forget (no longer exists)"
    if resource.moved_from:
        action += f" (moved from `{resource.moved_from}`)"
    return f"{action} (adopted)" if resource.adopted else action


def _fields(resource: ResourceChange) -> str:
    if resource.action == "delete":
        return "(all)"
    names = [CONFIG_NAMES.get(field, field) for field in field_groups(resource)]
    return ", ".join(f"`{name}`" for name in names) or "—"


def _change_lines(resource: ResourceChange) -> list[str]:
    sign = _SIGN[resource.action]
    lines = [f"  # {resource.address} {VERB[resource.action]}"]
    if resource.adopted:
        lines.append("  # (adopted: np starts managing an existing node pool)")
    lines += [
        f"{sign} nodepool {value(resource.name)} {{",
        f"{sign}     pool = {value(resource.pool)}",
    ]
    groups = field_groups(resource)
    width = max((len(CONFIG_NAMES.get(f, f)) for f in groups), default=0)
    for field, changes in groups.items():
        name = CONFIG_NAMES.get(field, field)
        if len(changes) == 1 and "." not in changes[0].path:
            lines += _field_lines(resource, name.ljust(width), changes[0], "     ")
            continue
        lines.append(f"{sign}     {name} = {{")
        keys = [value(c.path.split(".", 1)[1]) for c in changes]
        key_width = max(len(k) for k in keys)
        for key, change in zip(keys, changes, strict=True):
            lines += _field_lines(resource, key.ljust(key_width), change, "         ")
        lines.append(f"{sign}     }}")
    hidden = hidden_fields(resource, groups)
    if hidden:
        lines.append(f"      # ({hidden} unchanged fields hidden)")
    lines += [f"{sign} }}", ""]
    return lines


def _field_lines(
    resource: ResourceChange, label: str, change: FieldChange, indent: str
) -> list[str]:
    note = change.reason if resource.action == "update" else ""
    return diff_pair(label, change.before, change.after, indent, note)


def _part(plan: Plan, blocks: list[_Block], i: int, n: int, preface: str, grouped: bool) -> str:
    heading = f"### np plan: {_headline(plan)}" + (f" (part {i} of {n})" if n > 1 else "")
    marker = MARKER.format(i=i, n=n)
    sections = [[marker, preface.rstrip("\n")], [heading]] if preface else [[marker, heading]]
    sections += [[f"> **Warning:** {warning}"] for warning in plan.warnings]
    rows = [b.row for b in blocks if b.row]
    if rows and grouped:
        head = ["| address | provider | action | fields changed |", "| --- | --- | --- | --- |"]
        sections.append([*head, *rows])
    elif rows:
        sections.append(["| address | action | fields changed |", "| --- | --- | --- |", *rows])
    changes = [line for b in blocks for line in b.changes]
    if changes:
        sections.append(diff_block(changes, "Changes"))
    drift = [line for b in blocks for line in b.drift]
    if drift:
        sections += [
            ["#### Changed outside of np"],
            ["Live values that moved away from what np last applied (`-` last applied, `+` live):"],
            diff_block(drift, "Drift"),
        ]
    if not plan.applyable:
        sections.append(["No changes. Your node pools match the configuration."])
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


def _headline(plan: Plan) -> str:
    s = plan.summary
    if not plan.has_changes:
        head = "no changes"
    else:
        head = f"{s.add} to add, {s.change} to change, {s.destroy} to destroy"
    return head + (f", {s.drift} drifted" if s.drift else "")
