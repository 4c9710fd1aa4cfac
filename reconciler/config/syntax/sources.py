"""Reading one configuration or variable file from disk, whatever its language."""

from __future__ import annotations

import os
from pathlib import Path

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


def parse_file(path: Path, display: str) -> Body | Node | None:
    """HCL files give a body; YAML files a node (None when empty). Unchanged files come from
    the parse cache; only files that parse cleanly are cached."""
    text = read_text(path)
    language = "yaml" if is_yaml(path) else "hcl"
    cached = parse_cache().get(text, language, display)
    if cached is not None:
        return cached
    # The parsers (PyYAML; lark only when np's HCL parser gives up) load only on a cache miss.
    from reconciler.config.syntax.yaml_loader import parse_yaml

    try:
        tree = parse_yaml(text, display) if language == "yaml" else parse_hcl(text, display)
    except RecursionError:
        raise SourceError("file is nested too deeply", 1) from None
    parse_cache().put(text, language, tree)
    return tree


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
