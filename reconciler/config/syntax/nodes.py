"""The neutral syntax tree both parsers produce, so validation is written once for HCL and YAML.

Nodes keep the source line of every value and every key, and keep duplicate keys (a
``Mapping`` is a list of entries, not a dict) so that they can be reported.

Nodes are never changed once built, but they are not frozen dataclasses: a frozen one costs
2.5 times as much to build, and a warm plan of 10,000 node pools builds 440,000 nodes from
the parse cache (``unsafe_hash`` keeps them hashable, which is safe as nothing changes them).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from reconciler.config.messages import excerpt
from reconciler.errors import Pos

MAX_DEPTH = 32
"""Deepest nesting of lists, objects and blocks a configuration may use (hostile-input guard)."""

MAX_FILE_BYTES = 64 * 1024 * 1024
"""Largest configuration or variable file np reads: far above any real configuration (a
5,000-node-pool file is under 3 MB); hostile content is caught by the rules of each field."""

MAX_STRING = 64 * 1024
"""Longest string (in characters, escapes counted as what they stand for) a configuration may
hold; a heredoc counts as written."""

MAX_LINE = 1024 * 1024
"""Longest line (in characters) of an HCL file: room for the longest string written entirely
in ``\\U`` escapes, and a bound on what one line can cost the parser."""

MAX_TOKENS = 1_000_000
"""Most tokens (names, numbers, strings, comments, operators, line ends) in one HCL file: a
5,000-node-pool file holds about 555,000; python-hcl2 needs about 1 KB of memory per token."""


MAX_DIGITS = 4300
"""Python reads and writes integers of at most this many digits (``sys.int_info``)."""

SHARED_MAX = 64
"""Strings up to this length are kept once (see ``shared``)."""


def shared(text: str) -> str:
    """One copy of a short string however often it appears: a fleet's files repeat the same
    names and values (flavors, AZs, keys) thousands of times, and sharing them keeps a
    10,000-node-pool configuration about 25 MB smaller in memory."""
    return sys.intern(text) if len(text) <= SHARED_MAX else text


class Lines:
    """One ``Pos`` per line of a file, shared by every node on that line (memory, as above).

    at = Lines("main.hcl"); at(3) is at(3)
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.known: dict[int, Pos] = {}

    def __call__(self, line: int) -> Pos:
        pos = self.known.get(line)
        if pos is None:
            pos = self.known[line] = Pos(self.file, line)
        return pos


class SourceError(Exception):
    """A file that cannot be read as a whole (syntax error, bad encoding, too deep, ...)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


def refuse_non_text(text: str, line: int) -> None:
    """NUL and lone surrogates (``\\u0000``, ``\\ud800`` written as escapes in HCL or in
    YAML's double quotes) are not text: np could neither print nor send them."""
    found = _NOT_TEXT.search(text)
    if found is None:
        return
    code = f"\\u{ord(found.group()):04x}"
    what = "NUL" if code == "\\u0000" else "half of a UTF-16 surrogate pair"
    raise SourceError(f"a string holds {code} ({what}), which is not a character", line)


def integer_too_long(text: str) -> str:
    return f"the integer {excerpt(text)} is longer than {MAX_DIGITS:,} digits"


def not_finite(text: str) -> str:
    return f"{excerpt(text)} is not a finite number"


@dataclass(slots=True, unsafe_hash=True)
class Scalar:
    """A literal: string, number, bool or null."""

    value: str | int | float | bool | None
    pos: Pos


@dataclass(slots=True, unsafe_hash=True)
class Template:
    """A string with ``${...}`` parts: the result is always a string."""

    parts: tuple[str | Node, ...]
    pos: Pos


@dataclass(slots=True, unsafe_hash=True)
class BareName:
    """An unquoted name: the root of a reference (``var``, ``local``, ``each``), a keyword such
    as ``all``, or a type word (``number``)."""

    name: str
    pos: Pos


@dataclass(slots=True, unsafe_hash=True)
class GetAttr:
    """``target.name``"""

    target: Node
    name: str
    pos: Pos


@dataclass(slots=True, unsafe_hash=True)
class Index:
    """``target[key]``"""

    target: Node
    key: Node
    pos: Pos


@dataclass(slots=True, unsafe_hash=True)
class Call:
    """``name(args...)``; ``expand``: the last argument was written ``list...``."""

    name: str
    args: tuple[Node, ...]
    expand: bool
    pos: Pos


@dataclass(slots=True, unsafe_hash=True)
class Operation:
    """A unary (``!x``, ``-x``: one operand) or binary (``a + b``) operator."""

    op: str
    operands: tuple[Node, ...]
    pos: Pos


@dataclass(slots=True, unsafe_hash=True)
class Conditional:
    """``condition ? then : otherwise``"""

    condition: Node
    then: Node
    otherwise: Node
    pos: Pos


@dataclass(slots=True, unsafe_hash=True)
class ForExpr:
    """``[for k, v in coll : value if cond]`` or ``{for k, v in coll : key => value if cond}``."""

    key_var: str | None
    value_var: str
    collection: Node
    key: Node | None
    """The key expression of an object ``for``; None for a list."""
    value: Node
    condition: Node | None
    group: bool
    """``value...``: values of equal keys are grouped into lists."""
    pos: Pos


@dataclass(slots=True, unsafe_hash=True)
class Invalid:
    """Something np will not evaluate; ``message`` says what and why (reported where used)."""

    message: str
    pos: Pos


@dataclass(slots=True, unsafe_hash=True)
class Entry:
    key: str
    key_pos: Pos
    value: Node


@dataclass(slots=True, unsafe_hash=True)
class Mapping:
    entries: tuple[Entry, ...]
    pos: Pos


@dataclass(slots=True, unsafe_hash=True)
class Sequence:
    items: tuple[Node, ...]
    pos: Pos


Node = (
    Scalar
    | Template
    | BareName
    | GetAttr
    | Index
    | Call
    | Operation
    | Conditional
    | ForExpr
    | Invalid
    | Mapping
    | Sequence
)


@dataclass(slots=True, unsafe_hash=True)
class Attribute:
    name: str
    value: Node
    pos: Pos


@dataclass(slots=True, unsafe_hash=True)
class Block:
    type: str
    labels: tuple[str, ...]
    body: Body
    pos: Pos


@dataclass(slots=True, unsafe_hash=True)
class Body:
    """An HCL body: attributes and blocks in source order, duplicates included."""

    items: tuple[Attribute | Block, ...]
    pos: Pos

    def to_mapping(self, repeated_blocks: frozenset[str] = frozenset()) -> Mapping:
        """View the body as an object: ``x = ...`` and ``x { ... }`` both become key ``x``.

        Blocks named in ``repeated_blocks`` (``taints``, ``azs``) are gathered into one list
        entry; any other repeated name stays duplicated so that it is reported as such.
        """
        entries: list[Entry] = []
        gathered: dict[str, tuple[int, list[Node]]] = {}
        for item in self.items:
            if isinstance(item, Attribute):
                entries.append(Entry(item.name, item.pos, item.value))
                continue
            value: Node = (
                Invalid(f"a nested {item.type} block takes no labels", item.pos)
                if item.labels
                else item.body.to_mapping()
            )
            if item.type not in repeated_blocks:
                entries.append(Entry(item.type, item.pos, value))
            elif item.type in gathered:
                gathered[item.type][1].append(value)
            else:
                gathered[item.type] = (len(entries), [value])
                entries.append(Entry(item.type, item.pos, value))
        for index, items in gathered.values():
            first = entries[index]
            entries[index] = Entry(first.key, first.key_pos, Sequence(tuple(items), first.key_pos))
        return Mapping(tuple(entries), self.pos)


def make_template(parts: list[str | Node], pos: Pos) -> Scalar | Template:
    """Join adjacent text; a string without expressions is a plain literal."""
    merged: list[str | Node] = []
    for part in parts:
        last = merged[-1] if merged else None
        if isinstance(part, str) and isinstance(last, str):
            merged[-1] = last + part
        elif part != "":
            merged.append(part)
    if all(isinstance(part, str) for part in merged):
        return Scalar(shared("".join(str(part) for part in merged)), pos)
    return Template(tuple(merged), pos)


def subnodes(node: Node) -> Iterator[Node]:
    """Every node inside ``node`` (and ``node`` itself), without recursion."""
    pending = [node]
    while pending:
        current = pending.pop()
        yield current
        pending += _children(current)


def _children(node: Node) -> list[Node]:
    if isinstance(node, Mapping):
        return [entry.value for entry in node.entries]
    if isinstance(node, Template):
        return [part for part in node.parts if not isinstance(part, str)]
    if isinstance(node, Sequence):
        return list(node.items)
    if isinstance(node, (Call, Operation)):
        return list(node.args if isinstance(node, Call) else node.operands)
    if isinstance(node, GetAttr):
        return [node.target]
    if isinstance(node, Index):
        return [node.target, node.key]
    if isinstance(node, Conditional):
        return [node.condition, node.then, node.otherwise]
    if isinstance(node, ForExpr):
        parts = (node.collection, node.key, node.value, node.condition)
        return [part for part in parts if part is not None]
    return []


def duplicates(entries: tuple[Entry, ...]) -> list[tuple[Entry, Entry]]:
    """Each repeated key as (later entry, first entry)."""
    first: dict[str, Entry] = {}
    found: list[tuple[Entry, Entry]] = []
    for entry in entries:
        if entry.key in first:
            found.append((entry, first[entry.key]))
        else:
            first[entry.key] = entry
    return found
