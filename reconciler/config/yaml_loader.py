"""YAML text → neutral nodes, with safe loading only and a line for every value.

The document is composed (not constructed) so that every node keeps its line and duplicate
keys stay visible; anchors and aliases are refused before they can expand (billion laughs).
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.events import AliasEvent, NodeEvent

from reconciler.config.nodes import (
    MAX_DEPTH,
    Entry,
    Invalid,
    Mapping,
    Node,
    Scalar,
    Sequence,
    SourceError,
    VarRef,
    make_template,
    unsupported,
)
from reconciler.errors import Pos

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null")}
_VAR = r"\$\{var\.([A-Za-z_][A-Za-z0-9_-]*)\}"
_WHOLE_VAR = re.compile(_VAR)
_PIECE = re.compile(rf"\$\$\{{|{_VAR}|\$\{{[^}}]*\}}?")


# YAML 1.2 core schema (not PyYAML's YAML 1.1): `010` is ten, `yes`/`on` are strings, `1:20`
# is a string, and there are no timestamps, so a YAML file means what its HCL twin means.
_CORE_SCHEMA: list[tuple[str, str, str]] = [
    ("null", "~nN\0", r"~|null|Null|NULL|"),
    ("bool", "tTfF", r"true|True|TRUE|false|False|FALSE"),
    ("int", "-+0123456789", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"),
    (
        "float",
        "-+.0123456789",
        r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)",
    ),
]
_RESOLVERS: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {}
for _name, _firsts, _pattern in _CORE_SCHEMA:
    for _first in _firsts:
        key = None if _first == "\0" else _first
        _RESOLVERS.setdefault(key, []).append((f"{_TAG}{_name}", re.compile(f"^(?:{_pattern})$")))


def _scalar(tag: str, text: str, pos: Pos) -> Node:
    """A scalar by the core schema's rules; text that does not fit an explicit tag is invalid."""
    kind = tag.removeprefix(_TAG)
    lowered = text.lower()
    try:
        if kind == "null":
            if lowered in ("~", "null", ""):
                return Scalar(None, pos)
        elif kind == "bool":
            if lowered in ("true", "false"):
                return Scalar(lowered == "true", pos)
        elif kind == "int":
            digits = text.lstrip("+-")
            sign = -1 if text.startswith("-") else 1
            base = {"0o": 8, "0x": 16}.get(digits[:2], 10)
            return Scalar(sign * int(digits[2:] if base != 10 else digits, base), pos)
        elif kind == "float":
            special = {".inf": "inf", "+.inf": "inf", "-.inf": "-inf", ".nan": "nan"}
            return Scalar(float(special.get(lowered, text)), pos)
    except ValueError:
        pass
    return Invalid(f"{text!r} is not a valid YAML {kind}", pos)


class _SafeComposer(yaml.SafeLoader):
    """SafeLoader that refuses anchors/aliases and deep nesting, and never makes timestamps."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.yaml_implicit_resolvers = _RESOLVERS
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in the stubs
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent) or (isinstance(event, NodeEvent) and event.anchor):
            raise SourceError("YAML anchors and aliases (&name, *name) are not supported", line)
        if self.depth >= MAX_DEPTH:
            raise SourceError(f"YAML is nested deeper than {MAX_DEPTH} levels", line)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def parse_yaml(text: str, file: str) -> Node | None:
    """Parse one YAML document (None when it is empty); raise ``SourceError`` when malformed."""
    try:
        loader = _SafeComposer(text)
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise SourceError(f"syntax error: {_problem(exc)}", line) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character
        shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        raise SourceError(f"syntax error: invalid character {shown}", line) from None
    except yaml.YAMLError:
        raise SourceError("syntax error", 1) from None
    return None if root is None else _Converter(loader, file).node(root)


def _problem(exc: yaml.MarkedYAMLError) -> str:
    """PyYAML's short problem text, with its context when the problem alone is a fragment."""
    problem = exc.problem or exc.context or "invalid YAML"
    if problem.startswith("but ") and exc.context:
        return f"{exc.context} {problem}"
    return problem


class _Converter:
    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.loader = loader
        self.file = file

    def node(self, node: yaml.Node) -> Node:
        pos = Pos(self.file, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode) and node.tag == f"{_TAG}map":
            return Mapping(tuple(self.entry(key, value) for key, value in node.value), pos)
        if isinstance(node, yaml.SequenceNode) and node.tag == f"{_TAG}seq":
            return Sequence(tuple(self.node(item) for item in node.value), pos)
        if isinstance(node, yaml.ScalarNode) and node.tag == f"{_TAG}str":
            return _template(node.value, pos)
        if isinstance(node, yaml.ScalarNode) and node.tag in _SCALAR_TAGS:
            return _scalar(node.tag, node.value, pos)
        return Invalid(f"the YAML tag {node.tag.replace(_TAG, '!!')} is not allowed", pos)

    def entry(self, key: yaml.Node, value: yaml.Node) -> Entry:
        pos = Pos(self.file, key.start_mark.line + 1)
        if not isinstance(key, yaml.ScalarNode):
            raise SourceError("mapping keys must be plain names or strings", pos.line)
        return Entry(str(key.value), pos, self.node(value))


def _template(text: str, pos: Pos) -> Node:
    """``${var.x}`` alone keeps the variable's type; inside a longer string it is text."""
    whole = _WHOLE_VAR.fullmatch(text)
    if whole:
        return VarRef(whole.group(1), pos)
    parts: list[str | VarRef] = []
    start = 0
    for match in _PIECE.finditer(text):
        parts.append(text[start : match.start()])
        start = match.end()
        if match.group(1):
            parts.append(VarRef(match.group(1), pos))
        elif match.group(0) == "$${":
            parts.append("${")
        else:
            return unsupported(f"the interpolation {match.group(0)[:40]}", pos)
    parts.append(text[start:])
    return make_template(parts, pos)
