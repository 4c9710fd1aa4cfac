"""YAML text → neutral nodes, with safe loading only and a line for every value.

Nodes are built from the parser's events (nothing is ever constructed by PyYAML), so that
every node keeps its line and duplicate keys stay visible; anchors and aliases are refused
before they can expand (billion laughs).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import yaml

from reconciler.config.messages import excerpt
from reconciler.config.syntax.nodes import (
    MAX_DEPTH,
    MAX_DIGITS,
    Entry,
    Invalid,
    Mapping,
    Node,
    Scalar,
    Sequence,
    SourceError,
    integer_too_long,
    not_finite,
    refuse_non_text,
)
from reconciler.errors import Pos

_TAG = "tag:yaml.org,2002:"
_ANCHORS = "YAML anchors and aliases (&name, *name) are not supported"
_SCALAR_TAGS = {f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null")}
_MERGE = "YAML merge keys (<<) are not supported; write the keys out"
_MAX_BITS = int(MAX_DIGITS * math.log2(10))
"""A hexadecimal or octal integer longer than this has more than ``MAX_DIGITS`` decimal
digits (Python reads those, but could not write them in a message)."""


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
    """A scalar by the core schema's rules; text that does not fit an explicit tag is invalid.
    Integers of more than ``MAX_DIGITS`` digits and numbers that are not finite (``.inf``,
    ``.nan``, ``1e400``) are refused with the line: no value np handles is either."""
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
            return Scalar(_integer(text, pos.line), pos)
        elif kind == "float":
            special = {".inf": "inf", "+.inf": "inf", "-.inf": "-inf", ".nan": "nan"}
            value = float(special.get(lowered, text))
            if not math.isfinite(value):
                raise SourceError(not_finite(text), pos.line)
            return Scalar(value, pos)
    except ValueError:
        pass
    return Invalid(f"{excerpt(text)!r} is not a valid YAML {kind}", pos)


def _integer(text: str, line: int) -> int:
    """A core-schema integer (``12``, ``-0o17``, ``0x1F``); ValueError if it is none."""
    digits = text.lstrip("+-")
    sign = -1 if text.startswith("-") else 1
    base = {"0o": 8, "0x": 16}.get(digits[:2], 10)
    if base == 10 and len(digits) > MAX_DIGITS:
        raise SourceError(integer_too_long(text), line)
    value = int(digits[2:] if base != 10 else digits, base)
    if value.bit_length() > _MAX_BITS:
        raise SourceError(integer_too_long(text), line)
    return sign * value


_C_PARSER: Any = getattr(yaml, "CBaseLoader", None)
"""libyaml's parser (PyYAML built with it): 3x faster than PyYAML's own, 40x on long scalars."""


class _PythonParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's own parser, for machines without libyaml and for wording errors."""

    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


def parse_yaml(text: str, file: str) -> Node | None:
    """Parse one YAML document (None when it is empty); raise ``SourceError`` when malformed."""
    if _C_PARSER is not None:
        try:
            return _Builder(file).document(_events(_C_PARSER(text)))
        except yaml.YAMLError:
            pass  # libyaml words errors its own way: PyYAML's parser decides and words them
    try:
        return _Builder(file).document(_events(_PythonParser(text)))
    except yaml.YAMLError as exc:
        raise _syntax_error(text, exc) from None


def _events(parser: Any) -> Iterator[yaml.Event]:
    while parser.check_event():
        yield parser.get_event()


def _syntax_error(text: str, exc: yaml.YAMLError) -> SourceError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        return SourceError(f"syntax error: {_problem(exc)}", mark.line + 1 if mark else 1)
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character
        shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        return SourceError(f"syntax error: invalid character {shown}", line)
    return SourceError("syntax error", 1)


def _problem(exc: yaml.MarkedYAMLError) -> str:
    """PyYAML's short problem text, with its context when the problem alone is a fragment."""
    problem = exc.problem or exc.context or "invalid YAML"
    if problem.startswith("but ") and exc.context:
        return f"{exc.context} {problem}"
    return problem


class _Builder:
    """Builds nodes straight from parser events: every node keeps its line, duplicate keys
    stay visible, and anchors, aliases and deep nesting are refused as they appear."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.depth = 0

    def document(self, events: Iterator[yaml.Event]) -> Node | None:
        root: Node | None = None
        documents = 0
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise SourceError(
                        "syntax error: expected a single document in the stream but found "
                        "another document",
                        _line(event),
                    )
            elif isinstance(event, yaml.NodeEvent):
                root = self.node(event, events)
        return root

    def node(self, event: yaml.Event, events: Iterator[yaml.Event]) -> Node:
        line = _line(event)
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise SourceError(_ANCHORS, line)
        if self.depth >= MAX_DEPTH:
            raise SourceError(f"YAML is nested deeper than {MAX_DEPTH} levels", line)
        pos = Pos(self.file, line)
        tag = getattr(event, "tag", None)
        if isinstance(event, yaml.ScalarEvent):
            return self.scalar(event, pos)
        self.depth += 1
        try:
            if isinstance(event, yaml.MappingStartEvent):
                node: Node = Mapping(tuple(self.entries(events)), pos)
                expected = f"{_TAG}map"
            else:
                node = Sequence(tuple(self.items(events)), pos)
                expected = f"{_TAG}seq"
        finally:
            self.depth -= 1
        if tag not in (None, "!", expected):
            return Invalid(f"the YAML tag {tag.replace(_TAG, '!!')} is not allowed", pos)
        return node

    def items(self, events: Iterator[yaml.Event]) -> Iterator[Node]:
        for event in events:
            if isinstance(event, yaml.SequenceEndEvent):
                return
            yield self.node(event, events)

    def entries(self, events: Iterator[yaml.Event]) -> Iterator[Entry]:
        for event in events:
            if isinstance(event, yaml.MappingEndEvent):
                return
            pos = Pos(self.file, _line(event))
            if not isinstance(event, yaml.ScalarEvent):
                self.node(event, events)  # refuses anchors and depth before the key's shape
                raise SourceError("mapping keys must be plain names or strings", pos.line)
            if event.anchor:
                raise SourceError(_ANCHORS, pos.line)
            if event.value == "<<" and event.implicit[0]:  # plain, as merge keys are written
                raise SourceError(_MERGE, pos.line)
            if event.style == '"':
                refuse_non_text(event.value, pos.line)
            yield Entry(str(event.value), pos, self.node(next(events), events))

    def scalar(self, event: yaml.ScalarEvent, pos: Pos) -> Node:
        if event.style == '"':  # the only style with escapes: "\\0", "\\ud800"
            refuse_non_text(event.value, pos.line)
        tag = event.tag
        if tag in (None, "!"):
            tag = _resolve(event.value) if event.implicit[0] and tag is None else f"{_TAG}str"
        if tag == f"{_TAG}str":
            return _template(event.value, pos)
        if tag in _SCALAR_TAGS:
            return _scalar(tag, event.value, pos)
        return Invalid(f"the YAML tag {tag.replace(_TAG, '!!')} is not allowed", pos)


def _line(event: yaml.Event) -> int:
    return event.start_mark.line + 1 if event.start_mark else 1


def _resolve(value: str) -> str:
    """The core schema's tag for a plain scalar."""
    for tag, pattern in _RESOLVERS.get(value[:1] or None, ()):
        if pattern.match(value):
            return tag
    return f"{_TAG}str"


def _template(text: str, pos: Pos) -> Node:
    """A string; one holding ``${...}`` is an expression or a template (parsed as HCL, so it
    means exactly what it would in an HCL file)."""
    if "${" not in text:
        return Scalar(text, pos)
    from reconciler.config.syntax.hcl_adapter import yaml_expression  # lark only when needed

    return yaml_expression(text, pos)
