"""A content-addressed cache of parsed files, so an unchanged file is not parsed again.

    tree = parse_cache().get(text, ".hcl", "main.hcl")   # None on a miss
    parse_cache().put(text, ".hcl", tree)

python-hcl2's parser costs ~3 ms per node-pool block; a cached tree loads ~20x faster. The key
is the SHA-256 of np's version, the parser's version, the language and the file's bytes, so any
change to any of them misses. The cache lives in the user's cache directory
(``$NP_CACHE_DIR``, else ``$XDG_CACHE_HOME/np``, else ``~/.cache/np``), never in the
repository: a cache entry committed next to the configuration could otherwise show a reviewer
one file and np another. ``NP_CACHE_DIR=off`` turns it off. Entries are plain JSON (never
pickle) and every failure to read or write one is a miss, never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

from reconciler import __version__
from reconciler.config.syntax.nodes import (
    Attribute,
    BareName,
    Block,
    Body,
    Call,
    Conditional,
    Entry,
    ForExpr,
    GetAttr,
    Index,
    Invalid,
    Lines,
    Mapping,
    Node,
    Operation,
    Scalar,
    Sequence,
    Template,
    shared,
)
from reconciler.fsutil import atomic_write

_FORMAT = 3
"""Bumped whenever the nodes or their encoding change, so that old entries miss."""
Tree = Body | Node | None


class ParseCache:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def get(self, text: str, language: str, display: str) -> Tree:
        if self.directory is None:
            return None
        try:
            raw = (self.directory / f"{_key(text, language)}.json").read_bytes()
            tree: Tree = _decode(json.loads(raw), Lines(display))
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return None
        return tree

    def put(self, text: str, language: str, tree: Tree) -> None:
        if self.directory is None:
            return
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            data = json.dumps(_encode(tree), separators=(",", ":"), ensure_ascii=False)
            atomic_write(self.directory / f"{_key(text, language)}.json", data)
        except (OSError, ValueError):
            return


def parse_cache() -> ParseCache:
    setting = os.environ.get("NP_CACHE_DIR")
    if setting == "off":
        return ParseCache(None)
    if setting:
        return ParseCache(Path(setting))
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return ParseCache(Path(base) / "np" / "parsed")


@cache
def _salt(language: str) -> str:
    """What else a parse depends on (read once: package metadata is slow to read)."""
    return f"{_FORMAT}\0{__version__}\0{version('python-hcl2')}\0{version('PyYAML')}\0{language}"


def _key(text: str, language: str) -> str:
    return hashlib.sha256(f"{_salt(language)}\0{text}".encode()).hexdigest()


def _encode(tree: Any) -> Any:
    """Nodes as tagged JSON lists; lines only (the file name is supplied on the way back)."""
    match tree:
        case None:
            return None
        case Scalar(value, pos):
            return ["s", value, pos.line]
        case GetAttr(target, name, pos):
            return ["g", _encode(target), name, pos.line]
        case Index(target, key, pos):
            return ["x", _encode(target), _encode(key), pos.line]
        case Call(name, args, expand, pos):
            return ["c", name, [_encode(arg) for arg in args], expand, pos.line]
        case Operation(op, operands, pos):
            return ["o", op, [_encode(operand) for operand in operands], pos.line]
        case Conditional(condition, then, otherwise, pos):
            return ["?", _encode(condition), _encode(then), _encode(otherwise), pos.line]
        case ForExpr(key_var, value_var, collection, key, value, condition, group, pos):
            nodes = [_encode(node) for node in (collection, key, value, condition)]
            return ["f", key_var, value_var, nodes, group, pos.line]
        case Template(parts, pos):
            return ["t", [p if isinstance(p, str) else _encode(p) for p in parts], pos.line]
        case BareName(name, pos):
            return ["b", name, pos.line]
        case Invalid(message, pos):
            return ["i", message, pos.line]
        case Mapping(entries, pos):
            items = [[e.key, e.key_pos.line, _encode(e.value)] for e in entries]
            return ["m", items, pos.line]
        case Sequence(items, pos):
            return ["q", [_encode(item) for item in items], pos.line]
        case Attribute(name, value, pos):
            return ["a", name, _encode(value), pos.line]
        case Block(kind, labels, body, pos):
            return ["k", kind, list(labels), _encode(body), pos.line]
        case Body(items, pos):
            return ["B", [_encode(item) for item in items], pos.line]
    raise ValueError(f"cannot cache {type(tree).__name__}")


def _decode(data: Any, at: Lines) -> Any:
    if data is None:
        return None
    tag, *rest = data
    pos = at(rest[-1])
    match tag:
        case "s":
            value = rest[0]
            return Scalar(shared(value) if isinstance(value, str) else value, pos)
        case "g":
            return GetAttr(_decode(rest[0], at), rest[1], pos)
        case "x":
            return Index(_decode(rest[0], at), _decode(rest[1], at), pos)
        case "c":
            return Call(rest[0], tuple(_decode(arg, at) for arg in rest[1]), rest[2], pos)
        case "o":
            return Operation(rest[0], tuple(_decode(node, at) for node in rest[1]), pos)
        case "?":
            condition, then, otherwise = (_decode(node, at) for node in rest[:3])
            return Conditional(condition, then, otherwise, pos)
        case "f":
            collection, key, value, condition = (_decode(node, at) for node in rest[2])
            return ForExpr(rest[0], rest[1], collection, key, value, condition, rest[3], pos)
        case "t":
            parts = (p if isinstance(p, str) else _decode(p, at) for p in rest[0])
            return Template(tuple(parts), pos)
        case "b":
            return BareName(rest[0], pos)
        case "i":
            return Invalid(rest[0], pos)
        case "m":
            entries = (Entry(shared(k), at(line), _decode(v, at)) for k, line, v in rest[0])
            return Mapping(tuple(entries), pos)
        case "q":
            return Sequence(tuple(_decode(item, at) for item in rest[0]), pos)
        case "a":
            return Attribute(shared(rest[0]), _decode(rest[1], at), pos)
        case "k":
            return Block(rest[0], tuple(rest[1]), _decode(rest[2], at), pos)
        case "B":
            return Body(tuple(_decode(item, at) for item in rest[0]), pos)
    raise ValueError(f"unknown cache tag {tag!r}")
