"""A content-addressed cache of parsed files, so an unchanged file is not parsed again.

    tree = parse_cache().get(text, "hcl", "main.hcl")    # None on a miss
    parse_cache().put(text, "hcl", tree)

np's HCL parser takes about 0.4 ms per node-pool block (python-hcl2 about 10 ms); a cached tree
loads in half that. The key is the SHA-256 of the source code of np's parsers and of this
cache (this package's files, read once per run: about 1 ms), the versions of python-hcl2 and
PyYAML, the language and the file's bytes, so any change to any of them misses, and each entry
holds its key. A version number would not do: an np installed again from another commit keeps
its version, and a parser fix must never be hidden behind a tree an older parser cached. The
cache lives in the user's cache directory (``$NP_CACHE_DIR``, else ``$XDG_CACHE_HOME/np``, else
``~/.cache/np``), never in the repository: a cache entry committed next to the configuration
could otherwise show a reviewer one file and np another. ``NP_CACHE_DIR=off`` turns it off.
Entries are plain JSON (never pickle) and every failure to read or write one is a miss, never
an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

from reconciler.config.syntax.nodes import (
    MAX_FILE_BYTES,
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
from reconciler.errors import Pos
from reconciler.fsutil import open_nofollow, read_bytes

Tree = Body | Node | None


class ParseCache:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def key(self, text: str, language: str) -> str | None:
        """What names the file's entry (None when the cache is off)."""
        return None if self.directory is None else _key(text, language)

    def get(self, text: str, language: str, display: str, key: str | None = None) -> Tree:
        """``key``: ``self.key(text, language)`` when the caller has it already."""
        if self.directory is None:
            return None
        key = key or _key(text, language)
        try:
            stored, data = _read(self.directory / f"{key}.json")
            if stored != key:
                return None
            tree: Tree = _decode(data, Lines(display))
        except _MISS:
            return None
        return tree

    def put(self, text: str, language: str, tree: Tree, key: str | None = None) -> None:
        if self.directory is None:
            return
        key = key or _key(text, language)
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            data = json.dumps([key, _encode(tree)], separators=(",", ":"), ensure_ascii=False)
            _store(self.directory / f"{key}.json", data)
        except (OSError, ValueError):
            return

    # -- evaluated entries ---------------------------------------------------------------------
    # An HCL file whose blocks an earlier run evaluated: its tree with each such block replaced
    # by a stand-in (the block without its fields), and what the evaluation found, by the index
    # of the block in the file. The records are the caller's, opaque here; ``salt`` names the
    # code that made them, and ``accept`` checks each one's shape (a damaged entry is a miss).

    def get_evaluated(
        self, parsed: str, display: str, salt: str, accept: Callable[[Any], bool]
    ) -> tuple[Body, dict[int, Any]] | None:
        """``parsed``: the file's parse key (``key``)."""
        if self.directory is None:
            return None
        key = _evaluated_key(parsed, salt)
        try:
            stored, data, found = _read(self.directory / f"{key}.json")
            records = {int(index): record for index, record in found.items()}
            if stored != key or not all(accept(record) for record in records.values()):
                return None
            tree = _decode(data, Lines(display))
            if not isinstance(tree, Body) or any(
                not 0 <= index < len(tree.items) or not isinstance(tree.items[index], Block)
                for index in records
            ):
                return None
        except _MISS:
            return None
        return tree, records

    def put_evaluated(
        self, parsed: str, salt: str, evaluated: dict[int, tuple[Block, Any]]
    ) -> None:
        """``evaluated``: by index, each block's stand-in and record. Made from the file's parse
        entry (nothing is written without one)."""
        if self.directory is None:
            return
        key = _evaluated_key(parsed, salt)
        try:
            stored, data = _read(self.directory / f"{parsed}.json")
            if stored != parsed:
                return
            for index, (stand_in, _) in evaluated.items():
                data[1][index] = _encode(stand_in)
            records = {str(index): record for index, (_, record) in evaluated.items()}
            entry = json.dumps([key, data, records], separators=(",", ":"), ensure_ascii=False)
            _store(self.directory / f"{key}.json", entry)
        except _MISS:
            return


MAX_ENTRY_BYTES = 4 * MAX_FILE_BYTES
"""The largest entry read: a tree takes more room than its file, never this much more."""
_MISS = (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError)
"""What reading an entry that is not what np wrote can raise: each is a miss, never an error
(an entry nested past Python's recursion limit raises RecursionError)."""


def _read(path: Path) -> Any:
    data = read_bytes(path, MAX_ENTRY_BYTES)
    if len(data) > MAX_ENTRY_BYTES:
        raise ValueError("entry too large")
    return json.loads(data)


def _store(path: Path, data: str) -> None:
    """Write an entry whole and rename it into place, without waiting for the disk (fsync):
    a crash may leave an entry missing or unreadable, which is a miss, and an entry names the
    key it was written under, so no other entry's bytes are ever taken for it. (Flushing cost
    a cold plan of 10,000 node pools in 500 files 10 s of waiting.) Never through a link."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = open_nofollow(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


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
    code = code_digest(Path(__file__).parent)
    return f"{code}\0{version('python-hcl2')}\0{version('PyYAML')}\0{language}"


def code_digest(package: Path) -> str:
    """The digest of every module of ``package`` and its subpackages: for parse entries this
    package's, the code that turns a file into a tree and a tree into an entry."""
    digest = hashlib.sha256()
    for source in sorted(package.rglob("*.py")):
        code = source.read_bytes()
        digest.update(f"{source.relative_to(package).as_posix()}\0{len(code)}\0".encode())
        digest.update(code)
    return digest.hexdigest()


def _key(text: str, language: str) -> str:
    return hashlib.sha256(f"{_salt(language)}\0{text}".encode()).hexdigest()


def _evaluated_key(parsed: str, salt: str) -> str:
    return hashlib.sha256(f"evaluated\0{salt}\0{parsed}".encode()).hexdigest()


def _encode(tree: Any) -> Any:
    """Nodes as tagged JSON lists; lines only (the file name is supplied on the way back)."""
    if tree is None:
        return None
    encode = _ENCODERS.get(type(tree))
    if encode is None:
        raise ValueError(f"cannot cache {type(tree).__name__}")
    return encode(tree)


def _encode_on(node: Any, line: int) -> Any:
    """A literal written on ``line`` as its bare JSON value (every other node is a list):
    most values of a fleet are such literals (``count = 3``), and decoding them without a tag
    saves a fifth of a warm load."""
    if type(node) is Scalar and node.pos.line == line:
        return node.value
    return _encode(node)


_ENCODERS: dict[type, Callable[[Any], list[Any]]] = {
    Scalar: lambda n: ["s", n.value, n.pos.line],
    GetAttr: lambda n: ["g", _encode(n.target), n.name, n.pos.line],
    Index: lambda n: ["x", _encode(n.target), _encode(n.key), n.pos.line],
    Call: lambda n: ["c", n.name, [_encode(a) for a in n.args], n.expand, n.pos.line],
    Operation: lambda n: ["o", n.op, [_encode(o) for o in n.operands], n.pos.line],
    Conditional: lambda n: [
        "?",
        _encode(n.condition),
        _encode(n.then),
        _encode(n.otherwise),
        n.pos.line,
    ],
    ForExpr: lambda n: [
        "f",
        n.key_var,
        n.value_var,
        [_encode(part) for part in (n.collection, n.key, n.value, n.condition)],
        n.group,
        n.pos.line,
    ],
    Template: lambda n: [
        "t",
        [p if isinstance(p, str) else _encode(p) for p in n.parts],
        n.pos.line,
    ],
    BareName: lambda n: ["b", n.name, n.pos.line],
    Invalid: lambda n: ["i", n.message, n.pos.line],
    Mapping: lambda n: [
        "m",
        [[e.key, e.key_pos.line, _encode_on(e.value, e.key_pos.line)] for e in n.entries],
        n.pos.line,
    ],
    Sequence: lambda n: ["q", [_encode_on(item, n.pos.line) for item in n.items], n.pos.line],
    Attribute: lambda n: ["a", n.name, _encode_on(n.value, n.pos.line), n.pos.line],
    Block: lambda n: ["k", n.type, list(n.labels), _encode(n.body), n.pos.line],
    Body: lambda n: ["B", [_encode(item) for item in n.items], n.pos.line],
}


def _decode(data: Any, at: Lines) -> Any:
    """``_encode`` undone: one small function per tag (a cached 10,000-node-pool fleet is
    400,000 nodes, so each step counts), every node of a line sharing one ``Pos``."""
    known = at.known

    def pos(line: int) -> Pos:
        return known.get(line) or at(line)

    def node(data: Any) -> Any:
        if data is None:
            return None
        return decoders[data[0]](data)

    def scalar(d: Any) -> Scalar:
        value = d[1]
        return Scalar(shared(value) if type(value) is str else value, pos(d[2]))

    def on(data: Any, at_pos: Pos) -> Any:
        """A node, or a bare literal written at ``at_pos`` (see ``_encode_on``)."""
        if type(data) is list:
            return decoders[data[0]](data)
        return Scalar(shared(data) if type(data) is str else data, at_pos)

    def mapping(d: Any) -> Mapping:
        entries = []
        for key, line, value in d[1]:
            key_pos = pos(line)
            entries.append(Entry(shared(key), key_pos, on(value, key_pos)))
        return Mapping(tuple(entries), pos(d[2]))

    def sequence(d: Any) -> Sequence:
        at_pos = pos(d[2])
        return Sequence(tuple([on(item, at_pos) for item in d[1]]), at_pos)

    def attribute(d: Any) -> Attribute:
        at_pos = pos(d[3])
        return Attribute(shared(d[1]), on(d[2], at_pos), at_pos)

    def for_expr(d: Any) -> ForExpr:
        collection, key, value, condition = (node(part) for part in d[3])
        return ForExpr(d[1], d[2], collection, key, value, condition, d[4], pos(d[5]))

    decoders: dict[str, Callable[[Any], Any]] = {
        "s": scalar,
        "m": mapping,
        "q": sequence,
        "a": attribute,
        "k": lambda d: Block(d[1], tuple(d[2]), node(d[3]), pos(d[4])),
        "B": lambda d: Body(tuple([node(item) for item in d[1]]), pos(d[2])),
        "b": lambda d: BareName(d[1], pos(d[2])),
        "g": lambda d: GetAttr(node(d[1]), d[2], pos(d[3])),
        "x": lambda d: Index(node(d[1]), node(d[2]), pos(d[3])),
        "c": lambda d: Call(d[1], tuple([node(a) for a in d[2]]), d[3], pos(d[4])),
        "o": lambda d: Operation(d[1], tuple([node(o) for o in d[2]]), pos(d[3])),
        "?": lambda d: Conditional(node(d[1]), node(d[2]), node(d[3]), pos(d[4])),
        "f": for_expr,
        "t": lambda d: Template(
            tuple([p if isinstance(p, str) else node(p) for p in d[1]]), pos(d[2])
        ),
        "i": lambda d: Invalid(d[1], pos(d[2])),
    }
    try:
        return node(data)
    except KeyError as exc:
        raise ValueError(f"unknown cache tag {exc}") from None
