"""np's own HCL parser: the same nodes as python-hcl2 and ``hcl_adapter``'s walker, ten times
faster, or ``Unsupported``.

    body = parse_body(text, "main.hcl")     # text as prescan.prepare or sources leave it

python-hcl2 (a lark LALR grammar with a contextual lexer) defines what np accepts, and
``hcl_adapter`` what it means; this parser reads the HCL that configurations are written in
and gives exactly the same nodes, positions included. Anything it does not read the same way
— a syntax error, a construct np refuses anyway (splats, template directives, provider
functions), an unusual layout, nesting near the limit, text np refuses — raises
``Unsupported`` naming the construct, and the caller parses the file with python-hcl2
instead, which then also words every error. tests/unit/test_hcl_differential.py holds the two
to the same results on every example, the hostile corpus and generated files.

One regular expression finds every token (``re.finditer`` runs at C speed); a recursive
descent over the tokens builds the nodes directly. Where python-hcl2's lexer would read the
same characters differently depending on the parser's state, the parser here gives up rather
than guess: ``a -55``, ``x.1.5``, ``for`` or ``in`` glued to the next word.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from reconciler.config.syntax.hcl_literals import (
    BAD_KEY,
    heredoc_node,
    number_node,
    object_key,
    string_node,
    text_part,
    unary,
)
from reconciler.config.syntax.nodes import (
    MAX_DEPTH,
    MAX_STRING,
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
from reconciler.config.syntax.prescan import TOO_LONG
from reconciler.errors import Pos


class Unsupported(Exception):
    """This parser cannot promise python-hcl2's reading of the file; ``construct`` says why
    (one of ``CONSTRUCTS``)."""

    def __init__(self, construct: str) -> None:
        super().__init__(construct)
        self.construct = construct


CONSTRUCTS = {
    "syntax": "anything python-hcl2 refuses, and layouts it reads but this parser does not",
    "splat": "splat expressions (x[*].y, x.*.y), which np refuses",
    "directive": "template directives (%{if}, %{for}), which np refuses",
    "provider function": "provider::NAME::FUNCTION calls, which np refuses",
    "deep nesting": "values or blocks nested more than 32 levels, which np refuses",
    "string": "quoted strings over several lines, or whose interpolations hold braces, "
    "brackets, escapes or further interpolations",
    "newline": "a line break before an operator where python-hcl2 keeps one apart",
    "negative number": "a minus glued to a number of two digits or more after a value "
    "(a -55: python-hcl2 reads a number or a minus depending on its parser state), or -1-2.5",
    "refused text": "text np refuses (NUL, surrogates, overlong numbers), worded by the walker",
}

_TOKEN = re.compile(
    r"""[ \t\r]*(?:
    (?P<key>[A-Za-z_][A-Za-z0-9_-]*|"[^"\\$%\n]*")[ \t]*=(?![=>])[ \t]*
        (?:"(?P<pair>[^"\\$%\n]*)"|(?P<npair>[0-9]+(?:\.[0-9]+)?))
        (?=[ \t\r]*(?:[,}\])]|(?:\n|\#[^\n]*\n|//[^\n]*\n)(?![ \t\r]*[=!<>*/%&|+?])))
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)(?P<eq>[ \t]*=(?![=>]))?
  | "(?P<str>[^"\\$%\n]*)"
  | (?P<op>==|!=|<=|>=|&&|\|\||=>|\.\.\.|::|\.\*|\[\*\]|[+*%>!?=:,.(){}\[\]])
  | (?P<nl>(?:(?:\n|\#[^\n]*\n|//[^\n]*\n|/\*(?s:.)*?\*/)[ \t\r]*)+)
  | (?P<num>[0-9]+(?:\.[0-9]+(?:[eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+)?)
  | (?P<neg>-(?=[0-9]))
  | (?P<tstr>"(?:[^"\\$%\n]|\\.|\$(?!\{)|%(?!\{)
        |[$%]\{(?:[^"{}\n]|"[^"\\$%{}()\[\]\n]*")*\})*")
  | (?P<heredoc><<-?(?P<marker>[A-Za-z][A-Za-z0-9._-]*)\r?\n
        (?:(?:.|\n)*?\r?\n)??\s*(?P=marker)\r?\n)
  | (?P<op2>[-/<])
  | (?P<bad>[^ \t\r])
    )""",
    re.VERBOSE,
)
"""Every token python-hcl2 can see where np's configurations put them, the most frequent
first. ``pair``, ``npair``: ``KEY = "text"`` and ``KEY = 12``, whole (an attribute or an
object element: most of a configuration), unless an operator may continue the value on the
next line; ``eq``: a name and the ``=`` after it; ``nl``: a run of line ends and comments;
``str``: a string with nothing to unescape or interpolate (its text without quotes), ``tstr``
any other one-line string whose interpolations hold no braces (their extent is then known);
``neg``: a minus glued to a digit, which python-hcl2 may read as part of a number."""
# python-hcl2's terminals inside a quoted string, tried in its order (priority 2, then 1, 0).
_ESCAPED_INTERPOLATION = re.compile(r"\$\$\{[^}]*\}")
_ESCAPED_DIRECTIVE = re.compile(r"%%\{[^}]*\}")
_STRING_CHARS = re.compile(
    r"(?:(?!\$\$\{)(?!\$\{)(?!%%\{)(?!%\{)[^\"\\]|\\.|(?:\$(?!\$?\{))|(?:%(?!%?\{)))+"
)
_INTERPOLATION = re.compile(r'\$\{(?:[^"{}\n]|"[^"\\$%{}()\[\]\n]*")*\}')
_ONE_NL = re.compile(r"(?:\n|#[^\n]*\n|//[^\n]*\n|/\*(?s:.)*?\*/)")
"""One of python-hcl2's NL_OR_COMMENT tokens."""

_BINARY = {
    "||": 1,
    "&&": 2,
    "==": 3,
    "!=": 3,
    "<": 4,
    ">": 4,
    "<=": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "neg": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}
_MERGED = {"==", "!=", "<", ">", "<=", ">=", "*", "/", "%", "&&", "||", "+", "?"}
"""Operators that python-hcl2's post-lexer joins to a line break right before them."""
_LITERALS: dict[str, bool | None] = {"true": True, "false": False, "null": None}
_KEYWORDS = {"if", "in", "for", "for_each", "else", "endif", "endfor"}
_LOOKAHEAD = 3
_VALUE_END = {"nl", "}", "]", ",", ")", "eof"}
"""Tokens after which a string or number is a whole value (no operator, index or call)."""


def parse_body(text: str, file: str) -> Body:
    """A whole file, as ``hcl_adapter.parse_prepared`` reads it."""
    parser = _Parser(_tokens(text + "\n", 0, len(text) + 1, 1, Lines(file)))
    body = parser.body(0, parser.places[0])
    parser.expect("eof")
    return body


def parse_attribute(text: str, pos: Pos) -> Body:
    """``x = VALUE`` with every node at ``pos`` (an expression inside a YAML string or from the
    command line), as ``hcl_adapter`` reads it: attribute values start at depth 0."""
    parser = _Parser(_tokens(text + "\n", 0, len(text) + 1, pos.line, lambda _line: pos))
    body = parser.body(-1, pos)
    parser.expect("eof")
    return body


_Tokens = tuple[list[str], list[str], list[Pos], dict[int, str]]


def _tokens(text: str, start: int, end: int, line: int, at: Callable[[int], Pos]) -> _Tokens:
    """Kinds, texts and places of the tokens of ``text[start:end]``, then ``eof``s, and
    the value of each pair by its index. An operator's kind is its text; the text of ``attr``
    (a name followed by ``=``) is the name, of a pair its key, of ``str`` the string's."""
    kinds: list[str] = []
    texts: list[str] = []
    places: list[Pos] = []
    pairs: dict[int, str] = {}
    add_kind, add_text, add_place = kinds.append, texts.append, places.append
    place = at(line)
    for match in _TOKEN.finditer(text, start, end):
        kind = match.lastgroup
        if kind == "pair" or kind == "npair":
            pairs[len(kinds)] = match.group(kind)
            value = match.group("key")
        elif kind == "op" or kind == "op2":
            kind = value = match.group(kind)
        elif kind == "eq":
            kind = "attr"
            value = match.group("name")
        else:
            value = match.group(kind)  # type: ignore[arg-type]  # every alternative is named
        add_kind(kind)  # type: ignore[arg-type]
        add_text(value)
        add_place(place)
        if kind == "nl" or kind == "heredoc":
            line += value.count("\n")
            place = at(line)
    kinds.extend(("eof",) * _LOOKAHEAD)  # the parser looks up to two tokens ahead
    texts.extend(("",) * _LOOKAHEAD)
    places.extend((place,) * _LOOKAHEAD)
    return kinds, texts, places, pairs


class _Parser:
    """Recursive descent over the tokens of one file (or one interpolation).

    Depths follow the walker's: ``depth`` is where a node will be visited, and after each
    node ``self.h`` holds its height in the walker's steps, so that a value the walker would
    find nested deeper than ``MAX_DEPTH`` is given up on here too.
    """

    def __init__(self, tokens: _Tokens) -> None:
        self.kinds, self.texts, self.places, self.pairs = tokens
        self.i = 0
        self.h = 0

    # -- tokens ------------------------------------------------------------------------------

    def expect(self, kind: str) -> None:
        if self.kinds[self.i] != kind:
            raise Unsupported("syntax")
        self.i += 1

    def skip_nl(self) -> bool:
        if self.kinds[self.i] == "nl":
            self.i += 1
            return True
        return False

    def single_nl(self, at: int) -> bool:
        """Whether the ``nl`` token at ``at`` is one of python-hcl2's NL_OR_COMMENT tokens."""
        text = self.texts[at]
        one = _ONE_NL.match(text)
        return one is not None and not text[one.end() :].strip(" \t\r")

    def keyword_after_lines(self, words: Collection[str]) -> bool:
        """Whether the name at ``i`` is one of ``words`` and follows more line breaks than one:
        python-hcl2 then lexes it in a state where every keyword may come, as a keyword."""
        before = self.i - 1
        return (
            self.texts[self.i] in words
            and self.kinds[before] == "nl"
            and not self.single_nl(before)
        )

    def continued(self) -> str:
        """The operator after the next token, when that token is one line break python-hcl2
        joins to it (``a\n  + b``); else the next token."""
        kind = self.kinds[self.i]
        if kind != "nl":
            return kind
        following = self.kinds[self.i + 1]
        if following not in _MERGED:
            return kind
        if not self.single_nl(self.i):
            raise Unsupported("newline")
        self.i += 1
        return following

    # -- bodies ------------------------------------------------------------------------------

    def body(self, depth: int, pos: Pos) -> Body:
        if depth > MAX_DEPTH:
            raise Unsupported("deep nesting")
        kinds, texts, places = self.kinds, self.texts, self.places
        items: list[Attribute | Block] = []
        while True:
            kind = kinds[self.i]
            if kind == "nl":
                self.i += 1
                continue
            if kind == "pair" or kind == "npair":
                name = texts[self.i]
                if name[0] == '"' or depth >= MAX_DEPTH:
                    raise Unsupported("syntax" if name[0] == '"' else "deep nesting")
                place = places[self.i]
                items.append(Attribute(shared(name), self.pair(kind, place), place))
                self.i += 1
            elif kind == "attr" or (kind == "name" and kinds[self.i + 1] == "="):
                name = shared(texts[self.i])
                place = places[self.i]
                self.i += 1 if kind == "attr" else 2
                value = self.expression(depth + 1)
                if depth + 1 + self.h > MAX_DEPTH:
                    raise Unsupported("deep nesting")
                items.append(Attribute(name, value, place))
            elif kind == "name":
                items.append(self.block(depth))
            else:
                return Body(tuple(items), pos)

    def block(self, depth: int) -> Block:
        kind_name = shared(self.texts[self.i])
        place = self.places[self.i]
        self.i += 1
        labels: list[str] = []
        while True:
            kind = self.kinds[self.i]
            if kind == "name":
                labels.append(shared(self.texts[self.i]))
                self.i += 1
            elif kind == "str" or kind == "tstr":
                node = self.string(kind, 0)
                if not isinstance(node, Scalar) or not isinstance(node.value, str):
                    raise Unsupported("syntax")  # the walker refuses it, in its words
                labels.append(node.value)
            else:
                break
        self.skip_nl()
        self.expect("{")
        body = self.body(depth + 1, place)
        self.expect("}")
        return Block(kind_name, tuple(labels), body, place)

    # -- expressions -------------------------------------------------------------------------

    def expression(self, depth: int) -> Node:
        """``or_expr ? expression : expression`` or an ``or_expr``."""
        kinds = self.kinds
        i = self.i
        kind = kinds[i]
        following = kinds[i + 1]
        if (
            kind == "str"
            and following in _VALUE_END
            and (following != "nl" or kinds[i + 2] not in _MERGED)
        ):
            text = self.texts[i]
            self.i = i + 1
            self.h = 0
            if text == TOO_LONG:
                return self.quoted(text, self.places[i])
            return Scalar(shared(text), self.places[i])
        if depth > MAX_DEPTH:
            raise Unsupported("deep nesting")
        place = self.places[i]
        condition = self.binary(1, depth)
        if self.continued() != "?":
            return condition
        heights = [self.h]
        self.i += 1
        self.skip_nl()
        then = self.expression(depth + 1)
        heights.append(self.h)
        self.skip_nl()
        self.expect(":")
        self.skip_nl()
        otherwise = self.expression(depth + 1)
        self.h = 1 + max(self.h, *heights)
        return Conditional(condition, then, otherwise, place)

    def pair(self, kind: str, place: Pos) -> Node:
        """The value of the pair token at ``i``."""
        value = self.pairs[self.i]
        if kind == "npair":
            return self.number(value, place)
        if value == TOO_LONG:
            return self.quoted(value, place)
        return Scalar(shared(value), place)

    def number(self, text: str, pos: Pos) -> Scalar:
        try:
            return number_node(text, pos)
        except SourceError:
            raise Unsupported("refused text") from None

    def binary(self, least: int, depth: int) -> Node:
        """Left-associative operators of precedence ``least`` and above."""
        place = self.places[self.i]
        left = self.unary(depth)
        height = self.h
        while True:
            kind = self.continued()
            precedence = _BINARY.get(kind)
            if precedence is None or precedence < least:
                self.h = height
                return left
            if kind == "neg":
                if self.negative_literal():  # python-hcl2 may read -55 as a number here
                    raise Unsupported("negative number")
                kind = "-"
            self.i += 1
            self.skip_nl()
            right = self.binary(precedence + 1, depth + 1)
            left = Operation(kind, (left, right), place)
            height = 1 + max(height, self.h)

    def negative_literal(self) -> bool:
        """Whether python-hcl2 reads the ``neg`` token at ``i`` and the number after it as one
        negative number: ``-55`` and ``-5.5`` (``-5`` is a minus and 5)."""
        number = self.texts[self.i + 1]
        if len(number) == 1 and self.kinds[self.i + 2] == "neg":
            raise Unsupported("negative number")  # -1-2.5 is one float token to python-hcl2
        return len(number) > 1

    def unary(self, depth: int) -> Node:
        kind = self.kinds[self.i]
        if kind == "!" or kind == "-" or (kind == "neg" and not self.negative_literal()):
            pos = self.places[self.i]
            self.i += 1
            following = self.kinds[self.i]
            if following in ("-", "!", "neg") and (
                following != "neg" or not self.negative_literal()
            ):
                raise Unsupported("syntax")
            operand = self.term(depth + 1)
            self.h += 1
            return unary("-" if kind == "neg" else kind, operand, pos)
        return self.term(depth)

    def term(self, depth: int) -> Node:
        """A primary expression and its ``.name``, ``.0`` and ``[key]`` suffixes."""
        if depth > MAX_DEPTH:
            raise Unsupported("deep nesting")
        place = self.places[self.i]
        node = self.primary(depth)
        kinds = self.kinds
        while True:
            kind = kinds[self.i]
            if kind == ".":
                self.i += 1
                kind = kinds[self.i]
                text = self.texts[self.i]
                if kind == "name":
                    node = GetAttr(node, shared(text), place)
                elif kind == "num" and text.isdigit():
                    node = Index(node, self.number(text, place), place)
                else:
                    raise Unsupported("syntax")
                self.i += 1
                self.h += 1
            elif kind == "[":
                height = self.h
                self.i += 1
                self.skip_nl()
                key = self.expression(depth + 1)
                self.skip_nl()
                self.expect("]")
                node = Index(node, key, place)
                self.h = 1 + max(height, self.h)
            elif kind == ".*" or kind == "[*]":
                raise Unsupported("splat")
            else:
                return node

    def primary(self, depth: int) -> Node:
        kinds = self.kinds
        kind = kinds[self.i]
        text = self.texts[self.i]
        pos = self.places[self.i]
        self.h = 0
        if kind == "name":
            if text in _LITERALS:
                self.i += 1
                return Scalar(_LITERALS[text], pos)
            if self.keyword_after_lines(_KEYWORDS):
                raise Unsupported("syntax")
            following = kinds[self.i + 1]
            if following == "(":
                return self.call(shared(text), pos, depth)
            if following == "::":
                raise Unsupported("provider function")
            self.i += 1
            return BareName(shared(text), pos)
        if kind == "num":
            self.i += 1
            return self.number(text, pos)
        if kind == "str":
            self.i += 1
            return self.quoted(text, pos)
        if kind == "neg":
            self.i += 2
            return self.number("-" + self.texts[self.i - 1], pos)
        if kind == "tstr":
            return self.string(kind, depth)
        if kind == "heredoc":
            self.i += 1
            return heredoc_node(text, text[2] == "-", pos)
        if kind == "[":
            return self.tuple(pos, depth)
        if kind == "{":
            return self.object(pos, depth)
        if kind == "(":
            self.i += 1
            self.skip_nl()
            inner = self.expression(depth + 1)
            self.skip_nl()
            self.expect(")")
            self.h += 1
            return inner
        raise self.unexpected()

    def unexpected(self) -> Unsupported:
        """Giving up on the token at ``i``: a quote that starts no string this parser
        delimits is a string it does not read; anything else, python-hcl2's to judge."""
        text = self.texts[self.i]
        return Unsupported("string" if self.kinds[self.i] == "bad" and text == '"' else "syntax")

    def call(self, name: str, pos: Pos, depth: int) -> Node:
        self.i += 2
        self.skip_nl()
        args: list[Node] = []
        height = 0
        expand = False
        if self.kinds[self.i] != ")":
            while True:
                args.append(self.expression(depth + 1))
                height = max(height, self.h + 1)
                broke = self.skip_nl()
                kind = self.kinds[self.i]
                if kind == ",":
                    self.i += 1
                    self.skip_nl()
                    if self.kinds[self.i] != ")":
                        continue
                    if broke:
                        raise Unsupported("syntax")
                elif kind == "...":
                    if broke:
                        raise Unsupported("syntax")
                    expand = True
                    self.i += 1
                    self.skip_nl()
                break
        self.expect(")")
        self.h = height
        return Call(name, tuple(args), expand, pos)

    def tuple(self, pos: Pos, depth: int) -> Node:
        self.i += 1
        self.skip_nl()
        if self.kinds[self.i] == "name" and self.texts[self.i] == "for":
            return self.for_expr(pos, depth, "]")
        items: list[Node] = []
        height = 0
        while self.kinds[self.i] != "]":
            items.append(self.expression(depth + 1))
            height = max(height, self.h + 1)
            self.skip_nl()
            if self.kinds[self.i] != ",":
                break
            self.i += 1
            self.skip_nl()
        self.expect("]")
        self.h = height
        return Sequence(tuple(items), pos)

    def object(self, pos: Pos, depth: int) -> Node:
        kinds, texts = self.kinds, self.texts
        self.i += 1
        self.skip_nl()
        if kinds[self.i] == "name" and texts[self.i] == "for":
            following = kinds[self.i + 1]
            if following != "=" and following != ":":
                return self.for_expr(pos, depth, "}")
        entries: list[Entry] = []
        bad_key = False
        height = 0
        while kinds[self.i] != "}":
            place = self.places[self.i]
            kind = kinds[self.i]
            if kind == "pair" or kind == "npair":
                text = texts[self.i]
                if text[0] == '"':  # nothing to unescape: the text is the key
                    key = None if text == f'"{TOO_LONG}"' else shared(text[1:-1])
                else:
                    key = None if text in _LITERALS else shared(text)
                value = self.pair(kind, place)
                height = max(height, 1)
                self.i += 1
            elif kind == "attr":
                text = texts[self.i]
                self.i += 1
                key = None if text in _LITERALS else shared(text)
                value = self.expression(depth + 1)
                height = max(height, self.h + 1)
            else:
                key = object_key(self.key())
                if kinds[self.i] != "=" and kinds[self.i] != ":":
                    raise Unsupported("syntax")
                self.i += 1
                value = self.expression(depth + 1)
                height = max(height, self.h + 1)
            if key is None:
                bad_key = True
            else:
                entries.append(Entry(key, place, value))
            if kinds[self.i] == "nl":
                self.i += 1
            if kinds[self.i] == ",":
                self.i += 1
                if kinds[self.i] == "nl":
                    self.i += 1
        self.i += 1
        self.h = height
        return Invalid(BAD_KEY, pos) if bad_key else Mapping(tuple(entries), pos)

    def key(self) -> Node:
        """An object key as python-hcl2 reads it: a name (``true`` is a bool), a number or a
        string without interpolations; other keys (expressions) are given up on."""
        kind = self.kinds[self.i]
        text = self.texts[self.i]
        pos = self.places[self.i]
        if kind == "name":
            self.i += 1
            if text in _LITERALS:
                return Scalar(_LITERALS[text], pos)
            return BareName(shared(text), pos)
        if kind == "num" or kind == "str":
            self.i += 1
            return self.number(text, pos) if kind == "num" else self.quoted(text, pos)
        if kind == "tstr":
            node = self.string(kind, 0)
            if self.h:
                raise Unsupported("string")  # the walker visits key interpolations apart
            return node
        raise self.unexpected()

    def quoted(self, inner: str, pos: Pos) -> Node:
        """A string without interpolations from its characters as written."""
        part = self.text(inner, pos)
        if isinstance(part, Invalid):
            return part
        if len(part) <= MAX_STRING:
            return Scalar(shared(part), pos)
        return string_node([part], pos)

    def text(self, raw: str, pos: Pos) -> str | Invalid:
        try:
            return text_part(raw, pos)
        except SourceError:
            raise Unsupported("refused text") from None

    def for_expr(self, pos: Pos, depth: int, closer: str) -> Node:
        """``[for k, v in coll : value if cond]`` or ``{for k, v in coll : key => value...}``."""
        inner = depth + 1
        self.i += 1
        self.skip_nl()
        names = [self.name()]
        if self.kinds[self.i] == ",":
            self.i += 1
            names.append(self.name())
        self.skip_nl()
        if self.name() != "in":
            raise Unsupported("syntax")
        self.skip_nl()
        collection = self.expression(inner)
        heights = [self.h]
        self.skip_nl()
        self.expect(":")
        self.skip_nl()
        key = None
        if closer == "}":
            key = self.expression(inner)
            heights.append(self.h)
            self.expect("=>")
            self.skip_nl()
        value = self.expression(inner)
        heights.append(self.h)
        self.skip_nl()
        group = False
        if closer == "}" and self.kinds[self.i] == "...":
            group = True
            self.i += 1
            self.skip_nl()
        condition = None
        if self.kinds[self.i] == "name" and self.texts[self.i] == "if":
            self.i += 1
            self.skip_nl()
            condition = self.expression(inner)
            heights.append(self.h)
            self.skip_nl()
        self.expect(closer)
        self.h = 1 + max(heights)
        return ForExpr(
            key_var=names[0] if len(names) == 2 else None,
            value_var=names[-1],
            collection=collection,
            key=key,
            value=value,
            condition=condition,
            group=group,
            pos=pos,
        )

    def name(self) -> str:
        if self.kinds[self.i] != "name" or self.keyword_after_lines(_KEYWORDS | set(_LITERALS)):
            raise Unsupported("syntax")
        self.i += 1
        return shared(self.texts[self.i - 1])

    # -- strings -----------------------------------------------------------------------------

    def string(self, kind: str, depth: int) -> Node:
        """A quoted string, split as python-hcl2's lexer splits it, interpolations parsed."""
        text = self.texts[self.i]
        pos = self.places[self.i]
        self.i += 1
        self.h = 0
        if kind == "str":
            return self.quoted(text, pos)
        parts: list[str | Node] = []
        invalid: Invalid | None = None
        height = 0
        end = len(text) - 1
        at = 1
        while at < end:
            escaped = _ESCAPED_INTERPOLATION.match(text, at) or _ESCAPED_DIRECTIVE.match(text, at)
            if escaped:
                if escaped.end() > end:
                    raise Unsupported("string")
                parts.append(escaped.group()[1:])
                at = escaped.end()
                continue
            chars = _STRING_CHARS.match(text, at, end)
            if chars:
                part = self.text(chars.group(), pos)
                if isinstance(part, Invalid):
                    invalid = invalid or part
                else:
                    parts.append(part)
                at = chars.end()
                continue
            if text.startswith("%{", at):
                raise Unsupported("directive")
            interpolation = _INTERPOLATION.match(text, at, end)
            if interpolation is None:
                raise Unsupported("string")
            tokens = _tokens(text, at + 2, interpolation.end() - 1, pos.line, lambda _: pos)
            inner = _Parser(tokens)
            parts.append(inner.expression(depth + 1))
            inner.expect("eof")
            height = max(height, inner.h + 1)
            at = interpolation.end()
        self.h = height
        return invalid or string_node(parts, pos)
