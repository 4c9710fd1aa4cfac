"""``lifecycle.ignore_changes``: what np neither changes nor reports, read as written.

It is not evaluated: entries are field names (``count``, or ``"count"``), single keys of a map
field (``labels["team"]``, ``labels.team``, or those as strings), or the whole list is ``all``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from reconciler.config.evaluation.resolve import Problem
from reconciler.config.messages import FieldPath, did_you_mean, excerpt
from reconciler.config.schema import MANAGED_FIELDS
from reconciler.config.syntax.nodes import (
    BareName,
    Entry,
    GetAttr,
    Index,
    Mapping,
    Node,
    Scalar,
    Sequence,
)

MAP_FIELDS = ("labels", "tags", "extend_params")
"""Fields whose single keys may be ignored."""
_WHERE: FieldPath = ("lifecycle", "ignore_changes")
_FIELD = r"[A-Za-z_][A-Za-z0-9_]*"
_STRING_FORMS = re.compile(rf'({_FIELD})(?:\[("(?:[^"\\]|\\.)*")\]|\.(.+))?')
_SHAPE = 'field names (count) or single map keys (labels["team"])'


@dataclass(frozen=True, slots=True)
class IgnoreRules:
    fields: tuple[str, ...] = ()
    keys: tuple[tuple[str, str], ...] = ()
    all: bool = False


def take_ignore_changes(body: Mapping) -> tuple[Mapping, list[Entry]]:
    """The body without ``lifecycle.ignore_changes`` (which must not be evaluated as an
    expression: ``count`` is a field name here, not a reference), and every one written."""
    written: list[Entry] = []
    entries: list[Entry] = []
    for entry in body.entries:
        if entry.key == "lifecycle" and isinstance(entry.value, Mapping):
            kept = [e for e in entry.value.entries if e.key != "ignore_changes"]
            written += [e for e in entry.value.entries if e.key == "ignore_changes"]
            entry = Entry(entry.key, entry.key_pos, Mapping(tuple(kept), entry.value.pos))
        entries.append(entry)
    return Mapping(tuple(entries), body.pos), written


def ignore_rules(written: list[Entry]) -> tuple[IgnoreRules, list[Problem]]:
    """The rules the first ``ignore_changes`` writes, or the problems with it (located, one per
    bad entry); a repeat is a problem too."""
    if not written:
        return IgnoreRules(), []
    first, *repeats = written
    message = f"set more than once (first at {first.key_pos})"
    problems = [Problem(message, repeat.key_pos, _WHERE) for repeat in repeats]
    rules, found = _rules(first.value)
    return rules, problems + found


def _rules(node: Node) -> tuple[IgnoreRules, list[Problem]]:
    if _is_all(node):
        return IgnoreRules(MANAGED_FIELDS, (), True), []
    if not isinstance(node, Sequence):
        message = f"expected a list of {_SHAPE}, or all"
        return IgnoreRules(), [Problem(message, node.pos, _WHERE)]
    fields: list[str] = []
    keys: list[tuple[str, str]] = []
    problems: list[Problem] = []
    for index, item in enumerate(node.items):
        try:
            field, key = _entry(item)
        except ValueError as exc:
            problems.append(Problem(str(exc), item.pos, (*_WHERE, index)))
            continue
        if key is None and field not in fields:
            fields.append(field)
        elif key is not None and (field, key) not in keys:
            keys.append((field, key))
    return IgnoreRules(tuple(fields), tuple(keys)), problems


def _is_all(node: Node) -> bool:
    return node == BareName("all", node.pos) or node == Scalar("all", node.pos)


def _entry(node: Node) -> tuple[str, str | None]:
    """One entry as (field, map key or None); ValueError saying what is wrong."""
    if _is_all(node):
        raise ValueError("all stands alone: write ignore_changes = all, not a list holding it")
    field, key = _traversal(node)
    if field not in MANAGED_FIELDS:
        raise ValueError(
            f"{excerpt(field)!r} is not a field np manages{did_you_mean(field, MANAGED_FIELDS)}"
        )
    if key is not None and field not in MAP_FIELDS:
        maps = ", ".join(MAP_FIELDS)
        raise ValueError(f"{field} is not a map: only single keys of {maps} can be ignored")
    return field, key


def _traversal(node: Node) -> tuple[str, str | None]:
    if isinstance(node, BareName):
        return node.name, None
    if isinstance(node, GetAttr) and isinstance(node.target, BareName):
        return node.target.name, node.name
    if (
        isinstance(node, Index)
        and isinstance(node.target, BareName)
        and isinstance(node.key, Scalar)
        and isinstance(node.key.value, str)
    ):
        return node.target.name, node.key.value
    if isinstance(node, Scalar) and isinstance(node.value, str):
        match = _STRING_FORMS.fullmatch(node.value)
        if match:
            field, quoted, dotted = match.groups()
            return field, json.loads(quoted) if quoted else dotted
    raise ValueError(f"ignore_changes lists {_SHAPE}")
