"""What HCL's literal text means, written once for np's two HCL parsers (the walker over
python-hcl2's tree in ``hcl_adapter`` and the fast ``hcl_parser``), so that they cannot
disagree on it: escapes, strings and templates, heredocs, numbers, object keys, ``-3``.

Text that no configuration means and that np could not print or send — NUL or half of a
UTF-16 surrogate pair written as an escape, an integer of more digits than Python reads, a
number that is not finite — is a ``SourceError`` with the line, as a file holding NUL is.
"""

from __future__ import annotations

import math
import re

from reconciler.config.messages import excerpt
from reconciler.config.syntax.nodes import (
    MAX_DIGITS,
    MAX_STRING,
    BareName,
    Invalid,
    Node,
    Operation,
    Scalar,
    SourceError,
    integer_too_long,
    make_template,
    not_finite,
    refuse_non_text,
    shared,
)
from reconciler.config.syntax.prescan import TOO_LONG
from reconciler.errors import Pos

SPLAT = "splat expressions (x[*].y, x.*.y) are not supported; use a for expression"
DIRECTIVE = (
    "template directives (%{if}, %{for}) are not supported; use a conditional or a for "
    "expression inside ${...}"
)
BAD_KEY = "object keys must be names or literal strings; compute keys with a for expression"
_TOO_LONG = f"string is longer than {MAX_STRING} characters"
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.DOTALL)


def text_part(raw: str, pos: Pos) -> str | Invalid:
    """A run of a quoted string's characters as written → the text it means; an invalid
    escape is reported where the string is used."""
    if raw == TOO_LONG:
        return Invalid(_TOO_LONG, pos)
    if "\\" not in raw:
        return raw
    try:
        text = _ESCAPE.sub(_unescape, raw)
    except ValueError as exc:
        return Invalid(f"invalid escape sequence {exc} in a string", pos)
    refuse_non_text(text, pos.line)
    return text


def _unescape(match: re.Match[str]) -> str:
    seq = match.group(1)
    if seq in _ESCAPES:
        return _ESCAPES[seq]
    if len(seq) > 1 and int(seq[1:], 16) <= 0x10FFFF:
        return chr(int(seq[1:], 16))
    raise ValueError(f"\\{seq}")


def string_node(parts: list[str | Node], pos: Pos) -> Node:
    """A quoted string from its text (escapes undone) and interpolated expressions."""
    if sum(len(part) for part in parts if isinstance(part, str)) > MAX_STRING:
        return Invalid(_TOO_LONG, pos)
    return make_template(parts, pos)


def heredoc_node(token: str, trim: bool, pos: Pos) -> Node:
    """A heredoc is a plain string here; interpolation inside heredocs is not evaluated."""
    lines = token.splitlines()[1:-1]
    if trim:
        indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
        cut = min(indents, default=0)
        lines = [line[cut:] for line in lines]
    text = "".join(line + "\n" for line in lines)
    if "${" in text.replace("$${", "") or "%{" in text.replace("%%{", ""):
        return Invalid("interpolation inside a heredoc is not supported; use a quoted string", pos)
    return Scalar(text.replace("$${", "${").replace("%%{", "%{"), pos)


def number_node(text: str, pos: Pos) -> Scalar:
    """An integer or float literal as written (``-12``, ``2.5``, ``1e3``)."""
    if "." not in text and "e" not in text and "E" not in text:
        if len(text.lstrip("-")) > MAX_DIGITS:
            raise SourceError(integer_too_long(text), pos.line)
        return Scalar(int(text), pos)
    try:
        value = float(text)
    except ValueError:
        raise SourceError(f"syntax error: {excerpt(text)!r} is not a number", pos.line) from None
    if not math.isfinite(value):
        raise SourceError(not_finite(text), pos.line)
    return Scalar(value, pos)


def object_key(node: Node) -> str | None:
    """The key an object element's key expression names: a bare name, or a literal string or
    integer; None for anything else (a key must be known without evaluating)."""
    if isinstance(node, BareName):
        return node.name
    if isinstance(node, Scalar) and type(node.value) in (str, int):
        return shared(str(node.value))
    return None


def unary(operator: str, operand: Node, pos: Pos) -> Node:
    """``-3`` parses as unary minus applied to ``3``; fold it back into a literal."""
    value = operand.value if isinstance(operand, Scalar) else None
    if operator == "-" and type(value) in (int, float):
        return Scalar(-value, pos)  # type: ignore[operator]  # int or float, checked
    return Operation(operator, (operand,), pos)
