"""HCL text → neutral nodes. The only module that knows python-hcl2's lark grammar.

It walks the raw lark tree (not ``hcl2.loads``) because the dict output drops duplicate
attributes and blocks, loses line numbers, and cannot tell ``"${var.x}"`` from ``var.x``.
"""

from __future__ import annotations

import re

from hcl2.api import parses_to_tree
from lark import Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from reconciler.config.nodes import (
    MAX_DEPTH,
    MAX_STRING,
    Attribute,
    BareName,
    Block,
    Body,
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

_UNSUPPORTED = {
    "binary_op": "an operator expression (+, -, *, ==, && ...)",
    "unary_op": "an operator expression (!, -)",
    "conditional": "a conditional expression (a ? b : c)",
    "function_call": "a function call",
    "index_expr_term": "an index expression (x[i])",
    "attr_splat_expr_term": "a splat expression (x.*)",
    "full_splat_expr_term": "a splat expression (x[*])",
    "for_tuple_expr": "a for expression",
    "for_object_expr": "a for expression",
    "template_string": "a template directive (%{...})",
}
_DIRECTIVES = {"template_if_start", "template_else", "template_endif"}
_DIRECTIVES |= {"template_for_start", "template_endfor"}
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.DOTALL)
# Possessive quantifiers: a 10 MB string is scanned in milliseconds, not seconds.
_STRUCTURE = re.compile(
    r'"(?:[^"\\\n]++|\\.)*+"|#[^\n]*+|//[^\n]*+|/\*.*?\*/|[\[\](){}]', re.DOTALL
)
_TOO_LONG = "\x00"
"""Stands in for an overlong string: no NUL survives reading a file, so it is never the user's."""
_TOKEN_NAMES = {"$END": "end of file", "NL_OR_COMMENT": "end of line", "DBLQUOTE": "'\"'"}


def parse_hcl(text: str, file: str) -> Body:
    """Parse one HCL file; raise ``SourceError`` for anything that is not well-formed HCL."""
    text = _prepare(text)
    try:
        tree = parses_to_tree(text)
    except UnexpectedInput as exc:
        raise SourceError(f"syntax error: {_reason(exc)}", max(exc.line, 1)) from None
    except LarkError:
        raise SourceError("syntax error", 1) from None
    return _Walker(file).body(_children(tree)[0], 1, 0)


def _prepare(text: str) -> str:
    """Refuse deep bracket nesting before lark spends time on it (strings and comments
    skipped; the walker enforces the exact limit on what survives), and put a marker in place
    of each string longer than ``MAX_STRING``: lark takes seconds to lex a 10 MB string, the
    marker no time, and the walker reports it as too long where it is used."""
    depth = 0
    pieces: list[str] = []
    start = 0
    for match in _STRUCTURE.finditer(text):
        token = match.group(0)
        if token in "{[(":
            depth += 1
            if depth > 2 * MAX_DEPTH:
                line = text.count("\n", 0, match.start()) + 1
                raise SourceError(f"values are nested deeper than {MAX_DEPTH} levels", line)
        elif token in "}])":
            depth -= 1
        elif token[0] == '"' and len(token) > MAX_STRING + 2:
            pieces += [text[start : match.start()], f'"{_TOO_LONG}"']
            start = match.end()
    return "".join([*pieces, text[start:]]) if pieces else text


def _reason(exc: UnexpectedInput) -> str:
    """A one-line reason that never echoes string contents (they might hold secrets)."""
    if isinstance(exc, UnexpectedCharacters):
        return f"unexpected character {exc.char!r}"
    if isinstance(exc, UnexpectedEOF):
        return "unexpected end of file"
    token = getattr(exc, "token", None)
    if not isinstance(token, Token):
        return "unexpected input"
    if token.type in _TOKEN_NAMES:
        return f"unexpected {_TOKEN_NAMES[token.type]}"
    if token.type == "STRING_CHARS":
        # The lexer's fallback outside quotes: name the first character only (no echo).
        first = str(token)[:1]
        return "unexpected end of line" if first in ("\n", "") else f"unexpected {first!r}"
    return f"unexpected {str(token).strip()[:20]!r}"


def _children(tree: Tree[Token]) -> list[Tree[Token]]:
    """Sub-trees only: drops punctuation tokens and newline/comment runs."""
    return [c for c in tree.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]


def _line(tree: Tree[Token], default: int) -> int:
    return default if tree.meta.empty else int(tree.meta.line)


def _name(tree: Tree[Token]) -> str:
    """The text of an ``identifier``/``keyword``/``literal_value`` tree."""
    return str(tree.children[0])


def _unescape(raw: str) -> str:
    def replace(match: re.Match[str]) -> str:
        seq = match.group(1)
        if seq in _ESCAPES:
            return _ESCAPES[seq]
        if len(seq) > 1:
            return chr(int(seq[1:], 16))
        raise ValueError(f"\\{seq}")

    return _ESCAPE.sub(replace, raw)


class _Walker:
    """Turns the lark tree of one file into neutral nodes, tracking nesting depth."""

    def __init__(self, file: str) -> None:
        self.file = file

    def pos(self, line: int) -> Pos:
        return Pos(self.file, line)

    def body(self, tree: Tree[Token], line: int, depth: int) -> Body:
        if depth > MAX_DEPTH:
            raise SourceError(f"blocks are nested deeper than {MAX_DEPTH} levels", line)
        items: list[Attribute | Block] = []
        for child in _children(tree):
            child_line = _line(child, line)
            parts = _children(child)
            if child.data == "attribute":
                value = self.expr(parts[1], child_line, depth + 1)
                items.append(Attribute(_name(parts[0]), value, self.pos(child_line)))
            else:
                labels = tuple(self.label(part, child_line) for part in parts[1:-1])
                inner = self.body(parts[-1], child_line, depth + 1)
                items.append(Block(_name(parts[0]), labels, inner, self.pos(child_line)))
        return Body(tuple(items), self.pos(line))

    def label(self, tree: Tree[Token], line: int) -> str:
        if tree.data != "string":
            return _name(tree)
        node = self.string(tree, line)
        if not isinstance(node, Scalar) or not isinstance(node.value, str):
            raise SourceError("block labels must be plain strings", line)
        return node.value

    def expr(self, tree: Tree[Token], line: int, depth: int) -> Node:
        line = _line(tree, line)
        pos = self.pos(line)
        if depth > MAX_DEPTH:
            raise SourceError(f"values are nested deeper than {MAX_DEPTH} levels", line)
        kind = tree.data
        if kind == "expr_term":
            nested = isinstance(tree.children[0], Token)  # a parenthesized expression
            return self.expr(_children(tree)[0], line, depth + nested)
        if kind == "int_lit":
            return Scalar(int(str(tree.children[0])), pos)
        if kind == "float_lit":
            return Scalar(float(str(tree.children[0])), pos)
        if kind == "literal_value":
            return Scalar({"true": True, "false": False}.get(_name(tree)), pos)
        if kind == "identifier":
            return BareName(_name(tree), pos)
        if kind == "string":
            return self.string(tree, line, depth)
        if kind in ("heredoc_template", "heredoc_template_trim"):
            return _heredoc(str(tree.children[0]), kind.endswith("_trim"), pos)
        if kind == "tuple":
            return Sequence(tuple(self.expr(c, line, depth + 1) for c in _children(tree)), pos)
        if kind == "object":
            return self.object(tree, pos, depth)
        if kind == "get_attr_expr_term":
            return self.reference(tree, pos)
        if kind == "unary_op":
            return self.negative(tree, pos, depth)
        return unsupported(_UNSUPPORTED.get(kind, f"the expression {kind!r}"), pos)

    def object(self, tree: Tree[Token], pos: Pos, depth: int) -> Node:
        entries: list[Entry] = []
        for elem in _children(tree):
            key_tree, value_tree = _children(elem)
            elem_line = _line(elem, pos.line)
            key = self.key(_children(key_tree)[0], elem_line)
            if key is None:
                return Invalid("object keys must be names or literal strings", pos)
            value = self.expr(value_tree, elem_line, depth + 1)
            entries.append(Entry(key, self.pos(elem_line), value))
        return Mapping(tuple(entries), pos)

    def key(self, tree: Tree[Token], line: int) -> str | None:
        if tree.data == "keyword":
            return _name(tree)
        node = self.expr(tree, line, 0)
        if isinstance(node, BareName):
            return node.name
        if isinstance(node, Scalar) and type(node.value) in (str, int):
            return str(node.value)
        return None

    def reference(self, tree: Tree[Token], pos: Pos) -> Node:
        """``var.NAME``; any other traversal (``local.x``, ``var.x.y``) is unsupported."""
        target, attr = tree.children
        assert isinstance(target, Tree) and isinstance(attr, Tree)
        inner = _children(target)
        attr_name = _children(attr)[0]
        if inner and inner[0].data == "identifier" and _name(inner[0]) == "var":
            return VarRef(_name(attr_name), pos)
        return unsupported("a reference other than var.NAME", pos)

    def negative(self, tree: Tree[Token], pos: Pos, depth: int) -> Node:
        """``-3`` parses as unary minus applied to ``3``; fold it back into a literal."""
        operator, operand = tree.children
        if str(operator) == "-" and isinstance(operand, Tree):
            inner = self.expr(operand, pos.line, depth)
            value = inner.value if isinstance(inner, Scalar) else None
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return Scalar(-value, pos)
        return unsupported(_UNSUPPORTED["unary_op"], pos)

    def string(self, tree: Tree[Token], line: int, depth: int = 0) -> Node:
        pos = self.pos(line)
        if _is_too_long(tree):
            return Invalid(f"string is longer than {MAX_STRING} characters", pos)
        parts: list[str | VarRef] = []
        for part in _children(tree):
            piece = part.children[0]
            if isinstance(piece, Token):
                text = str(piece)
                if piece.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
                    parts.append(text[1:])
                    continue
                try:
                    parts.append(_unescape(text))
                except ValueError as exc:
                    return Invalid(f"invalid escape sequence {exc} in a string", pos)
            elif piece.data in _DIRECTIVES:
                return unsupported(_UNSUPPORTED["template_string"], pos)
            else:
                inner = self.expr(_children(piece)[0], _line(piece, line), depth + 1)
                if not isinstance(inner, VarRef):
                    return unsupported("an interpolation other than ${var.NAME}", pos)
                parts.append(inner)
        return make_template(parts, pos)


def _is_too_long(tree: Tree[Token]) -> bool:
    parts = tree.children[1:-1]
    return len(parts) == 1 and isinstance(parts[0], Tree) and parts[0].children == [_TOO_LONG]


def _heredoc(token: str, trim: bool, pos: Pos) -> Node:
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
