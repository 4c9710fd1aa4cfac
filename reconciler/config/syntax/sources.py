"""Reading one configuration or variable file from disk, whatever its language."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.config.syntax.cache import parse_cache
from reconciler.config.syntax.files import is_yaml
from reconciler.config.syntax.nodes import MAX_FILE_BYTES, Body, Node, SourceError


def read_text(path: Path) -> str:
    """The file as text; binary, oversized or non-UTF-8 files become a ``SourceError``.

    What ``files`` checked is what is read: the path with its links resolved, opened without
    following a link (a file swapped for one since is refused, not followed)."""
    try:
        flags = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
        with os.fdopen(os.open(os.path.realpath(path), flags), "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SourceError("the file does not exist", 0) from None
    except OSError as exc:  # no line to name: the file was never read
        raise SourceError(f"cannot read the file: {exc.strerror or exc}", 0) from None
    if len(data) > MAX_FILE_BYTES:
        raise SourceError(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", 1)
    return decode_text(data).removeprefix("\ufeff")


def decode_text(data: bytes) -> str:
    """``data`` as UTF-8 text (a byte-order mark kept), or a ``SourceError`` naming the line
    where it stops being text."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceError("file is not UTF-8 text (binary file?)", line) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise SourceError("file is not text (it contains NUL bytes)", line)
    return text


@dataclass(frozen=True, slots=True)
class Reuse:
    """Which evaluated entries a caller can use: ``salt`` names the code that made their
    records, ``accept`` checks one record's shape (see ``ParseCache.get_evaluated``)."""

    salt: str
    accept: Callable[[Any], bool]


@dataclass(frozen=True, slots=True)
class Source:
    """A parsed file. ``key`` names its parse-cache entry (None: the cache is off);
    ``evaluated`` holds, by index, what an earlier run evaluated of the blocks that ``tree``
    holds only stand-ins of (``Reuse``)."""

    tree: Body | Node | None
    key: str | None
    evaluated: dict[int, Any]


def parse_file(path: Path, display: str) -> Body | Node | None:
    """HCL files give a body; YAML files a node (None when empty). Unchanged files come from
    the parse cache; only files that parse cleanly are cached."""
    return read_source(path, display).tree


def read_source(path: Path, display: str, reuse: Reuse | None = None) -> Source:
    """``parse_file``, and with ``reuse`` the evaluated entry of an unchanged HCL file."""
    text = read_text(path)
    language = "yaml" if is_yaml(path) else "hcl"
    cache = parse_cache()
    key = cache.key(text, language)
    if reuse is not None and key is not None and language == "hcl":
        found = cache.get_evaluated(key, display, reuse.salt, reuse.accept)
        if found is not None:
            return Source(found[0], key, found[1])
    cached = cache.get(text, language, display, key)
    if cached is not None:
        return Source(cached, key, {})
    # The parsers (PyYAML; lark only when np's HCL parser gives up) load only on a cache miss.
    from reconciler.config.syntax.yaml_loader import parse_yaml

    try:
        tree = parse_yaml(text, display) if language == "yaml" else parse_hcl(text, display)
    except RecursionError:
        raise SourceError("file is nested too deeply", 1) from None
    cache.put(text, language, tree, key)
    return Source(tree, key, {})


def parse_hcl(text: str, display: str) -> Body:
    """np's HCL parser, or python-hcl2 (the reference) where it gives up: the same nodes
    either way (tests/unit/test_hcl_differential.py), ten times faster for the first."""
    from reconciler.config.syntax.hcl_parser import Unsupported, parse_body
    from reconciler.config.syntax.prescan import limits, needs_structure, structure

    limits(text)
    try:
        return parse_body(structure(text) if needs_structure(text) else text, display)
    except Unsupported:
        from reconciler.config.syntax.hcl_adapter import parse_prepared

        return parse_prepared(structure(text), display)
