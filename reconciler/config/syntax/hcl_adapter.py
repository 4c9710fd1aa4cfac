"""HCL text → neutral nodes: python-hcl2's reading (the reference for what np accepts), and
the expressions of YAML strings and ``--var`` values, read by np's fast parser first.

The reference walks python-hcl2's raw lark tree (not ``hcl2.loads``) because the dict output
drops duplicate attributes and blocks, loses line numbers, and cannot tell ``"${var.x}"`` from
``var.x``. Files are read fast-parser-first by ``sources.parse_file``; what a literal means is
``hcl_literals``'s, shared with the fast parser. lark is imported only when it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.config.syntax.hcl_literals import (
    BAD_KEY,
    DIRECTIVE,
    SPLAT,
    heredoc_node,
    number_node,
    object_key,
    string_node,
    text_part,
    unary,
)
from reconciler.config.syntax.hcl_parser import Unsupported, parse_attribute
from reconciler.config.syntax.hcltext import escaped
from reconciler.config.syntax.nodes import (
    MAX_DEPTH,
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
    SourceError,
    shared,
)
from reconciler.config.syntax.prescan import limits, needs_structure, prepare, structure
from reconciler.errors import Pos

if TYPE_CHECKING:
    from lark import Token, Tree
    from lark.exceptions import UnexpectedInput

_UNSUPPORTED = {
    "attr_splat_expr_term": SPLAT,
    "full_splat_expr_term": SPLAT,
    "template_string": DIRECTIVE,
}
_DIRECTIVES = {"template_if_start", "template_else", "template_endif"}
_DIRECTIVES |= {"template_for_start", "template_endfor"}
_TOKEN_NAMES = {"$END": "end of file", "NL_OR_COMMENT": "end of line", "DBLQUOTE": "'\"'"}
_OPERATORS = {
    "DOUBLE_EQ": "==",
    "NEQ": "!=",
    "LT": "<",
    "GT": ">",
    "LEQ": "<=",
    "GEQ": ">=",
    "PLUS": "+",
    "MINUS": "-",
    "ASTERISK": "*",
    "SLASH": "/",
    "PERCENT": "%",
    "DOUBLE_AMP": "&&",
    "DOUBLE_PIPE": "||",
}
"""An operator by its token's type: python-hcl2's post-lexer joins a line break (or comment)
before an operator to the operator's text."""


def parse_hcl(text: str, file: str) -> Body:
    """Parse one HCL file as python-hcl2 reads it; raise ``SourceError`` for anything that is
    not well-formed HCL or that np refuses before parsing (``prescan``)."""
    return parse_prepared(prepare(text), file)


def parse_prepared(text: str, file: str) -> Body:
    """``parse_hcl`` of a text ``prescan.prepare`` already checked and prepared."""
    from hcl2.api import parses_to_tree
    from lark.exceptions import LarkError, UnexpectedInput

    try:
        tree = parses_to_tree(text)
    except UnexpectedInput as exc:
        raise SourceError(f"syntax error: {_reason(exc)}", max(exc.line, 1)) from None
    except LarkError:
        raise SourceError("syntax error", 1) from None
    return _Walker(file).body(_children(tree)[0], 1, 0)


def yaml_expression(text: str, pos: Pos) -> Node:
    """A YAML string holding ``${...}``: exactly one ``${expr}`` is that expression (its value
    keeps its type); anything else is a template, read as the same text in an HCL string."""
    try:
        source, whole = _as_hcl_string(text)
    except ValueError as exc:
        return Invalid(str(exc), pos)
    return expression(whole, pos) if whole is not None else _parse_value(source, text, pos)


def expression(text: str, pos: Pos) -> Node:
    """One HCL expression written as text (a YAML ``${...}``, a type, a ``--var`` value)."""
    return _parse_value(f"(\n{text}\n)", text, pos)


def _parse_value(source: str, text: str, pos: Pos) -> Node:
    """``source`` as the value of an attribute; every node is placed at ``pos``. np's parser
    reads it unless it gives up; then python-hcl2 does (``reference_value``)."""
    shown = _shown(text)
    hcl = f"x = {source}\n"
    try:
        limits(hcl)
        body = parse_attribute(structure(hcl) if needs_structure(hcl) else hcl, pos)
    except SourceError:
        return Invalid(f"syntax error in {shown!r}", pos)
    except Unsupported:
        return reference_value(source, text, pos)
    if len(body.items) != 1 or not isinstance(body.items[0], Attribute):
        return Invalid(f"{shown!r} is not a single expression", pos)
    return body.items[0].value


def reference_value(source: str, text: str, pos: Pos) -> Node:
    """``_parse_value`` as python-hcl2 reads it."""
    from hcl2.api import parses_to_tree
    from lark.exceptions import LarkError, UnexpectedInput

    shown = _shown(text)
    try:
        tree = parses_to_tree(prepare(f"x = {source}\n"))
    except UnexpectedInput as exc:
        return Invalid(f"syntax error in {shown!r}: {_reason(exc)}", pos)
    except (LarkError, SourceError, RecursionError):
        return Invalid(f"syntax error in {shown!r}", pos)
    attributes = _children(_children(tree)[0])
    if len(attributes) != 1 or attributes[0].data != "attribute":
        return Invalid(f"{shown!r} is not a single expression", pos)
    try:
        return _Walker(pos.file, pos.line).expr(_children(attributes[0])[1], pos.line, 0)
    except SourceError as exc:
        return Invalid(exc.message, pos)


def _shown(text: str) -> str:
    """An expression as messages quote it."""
    return text if len(text) <= 40 else text[:37] + "..."


_LITERAL = {"%": "\\u0025", "$": "\\u0024"}
"""Text around an interpolation writes ``$`` and ``%`` escaped: never a directive, and never a
``$${`` made of the text's last ``$`` and the interpolation that follows it."""


def _as_hcl_string(text: str) -> tuple[str, str | None]:
    """The HCL string literal that means what ``text`` means in YAML (where ``$${`` is a
    literal ``${`` and ``%{`` is plain text), and the expression when ``text`` is one whole
    ``${expr}``. ValueError for an interpolation without its closing brace."""
    out = ['"']
    spans = 0
    whole = None
    i = 0
    while i < len(text):
        if text.startswith("$${", i):
            out.append("\\u0024{")
            i += 3
        elif text.startswith("${", i):
            end = _interpolation_end(text, i + 2, 0)
            if end is None:
                shown = text[i : i + 40]
                raise ValueError(f"the interpolation {shown} has no closing }}")
            spans += 1
            whole = text[i + 2 : end] if i == 0 and end == len(text) - 1 else None
            out.append(text[i : end + 1])
            i = end + 1
        else:
            out.append(_LITERAL.get(text[i]) or escaped(text[i]))
            i += 1
    out.append('"')
    return "".join(out), whole if spans == 1 else None


def _interpolation_end(text: str, i: int, depth: int) -> int | None:
    """Index of the ``}`` that closes an interpolation whose body starts at ``i``: nested
    braces and quoted strings (with their own interpolations) are skipped."""
    if depth > MAX_DEPTH:
        return None
    braces = 0
    while i < len(text):
        char = text[i]
        if char == '"':
            end = _string_end(text, i + 1, depth + 1)
            if end is None:
                return None
            i = end
        elif char == "{":
            braces += 1
        elif char == "}":
            if braces == 0:
                return i
            braces -= 1
        i += 1
    return None


def _string_end(text: str, i: int, depth: int) -> int | None:
    """Index of the quote that closes a string whose text starts at ``i``."""
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i
        elif text.startswith("${", i):
            end = _interpolation_end(text, i + 2, depth)
            if end is None:
                return None
            i = end + 1
        else:
            i += 1
    return None


def _reason(exc: UnexpectedInput) -> str:
    """A one-line reason that never echoes string contents (they might hold secrets)."""
    from lark import Token
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF

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
    """Sub-trees only: drops punctuation tokens (lark's tokens are strings) and
    newline/comment runs."""
    return [c for c in tree.children if not isinstance(c, str) and c.data != "new_line_or_comment"]


def _line(tree: Tree[Token], default: int) -> int:
    return default if tree.meta.empty else int(tree.meta.line)


def _name(tree: Tree[Token]) -> str:
    """The text of an ``identifier``/``keyword``/``literal_value`` tree."""
    return shared(str(tree.children[0]))


class _Walker:
    """Turns the lark tree of one file into neutral nodes, tracking nesting depth.

    ``fixed_line``: every node gets this line (an expression inside a YAML string).
    """

    def __init__(self, file: str, fixed_line: int | None = None) -> None:
        self.lines = Lines(file)
        self.fixed_line = fixed_line

    def pos(self, line: int) -> Pos:
        return self.lines(self.fixed_line or line)

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
            nested = isinstance(tree.children[0], str)  # a parenthesized expression
            return self.expr(_children(tree)[0], line, depth + nested)
        if kind == "int_lit" or kind == "float_lit":
            return number_node(str(tree.children[0]), pos)
        if kind == "literal_value":
            return Scalar({"true": True, "false": False}.get(_name(tree)), pos)
        if kind == "identifier":
            return BareName(_name(tree), pos)
        if kind == "string":
            return self.string(tree, line, depth)
        if kind in ("heredoc_template", "heredoc_template_trim"):
            return heredoc_node(str(tree.children[0]), kind.endswith("_trim"), pos)
        if kind == "tuple":
            return Sequence(tuple(self.expr(c, line, depth + 1) for c in _children(tree)), pos)
        if kind == "object":
            return self.object(tree, pos, depth)
        if kind in _UNSUPPORTED:
            return Invalid(_UNSUPPORTED[kind], pos)
        parts = _children(tree)
        inner = depth + 1
        if kind == "get_attr_expr_term":
            target, attr = parts
            return GetAttr(self.expr(target, line, inner), _name(_children(attr)[0]), pos)
        if kind == "index_expr_term":
            return Index(self.expr(parts[0], line, inner), self.index(parts[1], line, inner), pos)
        if kind == "unary_op":
            return self.unary(tree, pos, inner)
        if kind == "binary_op":
            left, term = parts
            operator, right = _children(term)
            operands = (self.expr(left, line, inner), self.expr(right, line, inner))
            return Operation(_OPERATORS[operator.children[0].type], operands, pos)  # type: ignore[union-attr]
        if kind == "conditional":
            condition, then, otherwise = (self.expr(part, line, inner) for part in parts)
            return Conditional(condition, then, otherwise, pos)
        if kind == "function_call":
            return self.call(tree, pos, inner)
        if kind in ("for_tuple_expr", "for_object_expr"):
            return self.for_expr(tree, pos, inner)
        return Invalid(f"the expression {kind!r} is not supported", pos)

    def index(self, tree: Tree[Token], line: int, depth: int) -> Node:
        if tree.data == "short_index":  # the legacy list.0
            return number_node(str(tree.children[-1]), self.pos(line))
        return self.expr(_children(tree)[0], line, depth)

    def unary(self, tree: Tree[Token], pos: Pos, depth: int) -> Node:
        operator, operand = tree.children
        return unary(str(operator), self.expr(operand, pos.line, depth), pos)  # type: ignore[arg-type]

    def call(self, tree: Tree[Token], pos: Pos, depth: int) -> Node:
        parts = _children(tree)
        names = [part for part in parts if part.data == "identifier"]
        if len(names) > 1:
            return Invalid("provider functions (provider::NAME::FUNCTION) are not supported", pos)
        arguments = parts[-1] if parts[-1].data == "arguments" else None
        if arguments is None:
            return Call(_name(names[0]), (), False, pos)
        args = tuple(self.expr(arg, pos.line, depth) for arg in _children(arguments))
        expand = any(getattr(t, "type", None) == "ELLIPSIS" for t in arguments.children)
        return Call(_name(names[0]), args, expand, pos)

    def for_expr(self, tree: Tree[Token], pos: Pos, depth: int) -> Node:
        intro, *rest = _children(tree)
        *variables, collection = _children(intro)
        condition = None
        if rest and rest[-1].data == "for_cond":
            condition = self.expr(_children(rest.pop())[0], pos.line, depth)
        values = [self.expr(part, pos.line, depth) for part in rest]
        key_var = _name(variables[0]) if len(variables) == 2 else None
        group = any(getattr(t, "type", None) == "ELLIPSIS" for t in tree.children)
        return ForExpr(
            key_var=key_var,
            value_var=_name(variables[-1]),
            collection=self.expr(collection, pos.line, depth),
            key=values[0] if len(values) == 2 else None,
            value=values[-1],
            condition=condition,
            group=group,
            pos=pos,
        )

    def object(self, tree: Tree[Token], pos: Pos, depth: int) -> Node:
        entries: list[Entry] = []
        for elem in _children(tree):
            key_tree, value_tree = _children(elem)
            elem_line = _line(elem, pos.line)
            key = self.key(_children(key_tree)[0], elem_line)
            if key is None:
                return Invalid(BAD_KEY, pos)
            value = self.expr(value_tree, elem_line, depth + 1)
            entries.append(Entry(key, self.pos(elem_line), value))
        return Mapping(tuple(entries), pos)

    def key(self, tree: Tree[Token], line: int) -> str | None:
        if tree.data == "keyword":
            return _name(tree)
        return object_key(self.expr(tree, line, 0))

    def string(self, tree: Tree[Token], line: int, depth: int = 0) -> Node:
        pos = self.pos(line)
        parts: list[str | Node] = []
        for part in _children(tree):
            piece = part.children[0]
            if isinstance(piece, str):
                text = str(piece)
                if piece.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
                    parts.append(text[1:])
                    continue
                unescaped = text_part(text, pos)
                if isinstance(unescaped, Invalid):
                    return unescaped
                parts.append(unescaped)
            elif piece.data in _DIRECTIVES:
                return Invalid(DIRECTIVE, pos)
            else:
                parts.append(self.expr(_children(piece)[0], _line(piece, line), depth + 1))
        return string_node(parts, pos)
