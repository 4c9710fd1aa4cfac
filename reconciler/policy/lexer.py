"""A Rego tokenizer, just precise enough for np's static checks.

np reads policies before rego-cpp does, to refuse builtins that reach outside the process, to
find rule heads (for attribution and ``np policy test``) and to see which parts of the input a
policy can read. Each of those must ignore comments and string contents, and must see the code
inside template strings (``$"... {expr} ..."``), where a call would otherwise hide.

    tokens = tokenize(source)   # [Token(kind="ident", text="package", line=1, ...), ...]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["ident", "string", "number", "punct", "newline"]

_PUNCT2 = (":=", "==", "!=", "<=", ">=")
_PUNCT1 = set("()[]{}.,;:=<>+-*/%|&!")
_IDENT_START = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT_REST = _IDENT_START | set("0123456789")
_DIGITS = set("0123456789")


class LexError(Exception):
    """A source that cannot be a Rego module: an unterminated string or an unknown character."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True, slots=True)
class Token:
    """One token: ``start``/``end`` are character offsets into the source, ``line`` is 1-based.

    For strings, ``text`` is the decoded value (escapes resolved), not the source text.
    ``in_template`` marks code from inside a template string's ``{...}``."""

    kind: Kind
    text: str
    line: int
    start: int
    end: int
    in_template: bool = False


def tokenize(source: str) -> list[Token]:
    """Every token of ``source`` except comments and whitespace; newlines are kept, since
    Rego separates top-level statements with them."""
    return _Lexer(source).run()


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/", "\\": "\\", '"': '"'}


class _Lexer:
    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.line = 1
        self.out: list[Token] = []

    def run(self) -> list[Token]:
        self._code(until_brace=False, in_template=False)
        return self.out

    def _add(self, kind: Kind, text: str, start: int, line: int, in_template: bool) -> None:
        self.out.append(Token(kind, text, line, start, self.pos, in_template))

    def _code(self, *, until_brace: bool, in_template: bool) -> None:
        """Lex code up to the end (or, inside a template, the ``}`` closing the expression)."""
        src, n = self.src, len(self.src)
        depth = 0
        while self.pos < n:
            c = src[self.pos]
            start, line = self.pos, self.line
            if c == "\n":
                self.pos += 1
                self.line += 1
                self._add("newline", "\n", start, line, in_template)
            elif c in " \t\r\f\v":
                self.pos += 1
            elif c == "#":
                while self.pos < n and src[self.pos] != "\n":
                    self.pos += 1
            elif c == '"':
                self._add("string", self._string(), start, line, in_template)
            elif c == "`":
                self._add("string", self._raw(), start, line, in_template)
            elif c == "$" and self.pos + 1 < n and src[self.pos + 1] in '"`':
                self._template(start, line)
            elif c in _IDENT_START:
                while self.pos < n and src[self.pos] in _IDENT_REST:
                    self.pos += 1
                self._add("ident", src[start : self.pos], start, line, in_template)
            elif c in _DIGITS:
                self._number()
                self._add("number", src[start : self.pos], start, line, in_template)
            elif src.startswith(_PUNCT2, self.pos):
                self.pos += 2
                self._add("punct", src[start : self.pos], start, line, in_template)
            elif c in _PUNCT1:
                if until_brace and c == "}" and depth == 0:
                    self.pos += 1
                    return
                depth += c in "([{"
                depth -= c in ")]}"
                self.pos += 1
                self._add("punct", c, start, line, in_template)
            else:
                raise LexError(f"unexpected character {c!r}", line)
        if until_brace:
            raise LexError("unterminated expression in a template string", self.line)

    def _number(self) -> None:
        src, n = self.src, len(self.src)
        while self.pos < n and (src[self.pos] in _DIGITS or src[self.pos] in ".eE"):
            if src[self.pos] in "eE" and self.pos + 1 < n and src[self.pos + 1] in "+-":
                self.pos += 1
            if src[self.pos] == "." and not (self.pos + 1 < n and src[self.pos + 1] in _DIGITS):
                break  # `x.y` after a number is a reference, not a fraction
            self.pos += 1

    def _string(self) -> str:
        """A double-quoted string (escapes resolved); it may not span lines."""
        src, n = self.src, len(self.src)
        self.pos += 1
        parts: list[str] = []
        while self.pos < n:
            c = src[self.pos]
            if c == '"':
                self.pos += 1
                return "".join(parts)
            if c == "\n":
                break
            if c == "\\" and self.pos + 1 < n:
                nxt = src[self.pos + 1]
                if nxt == "u" and self.pos + 6 <= n:
                    try:
                        parts.append(chr(int(src[self.pos + 2 : self.pos + 6], 16)))
                    except ValueError:
                        raise LexError("invalid \\u escape in a string", self.line) from None
                    self.pos += 6
                    continue
                parts.append(_ESCAPES.get(nxt, nxt))
                self.pos += 2
                continue
            parts.append(c)
            self.pos += 1
        raise LexError("unterminated string", self.line)

    def _raw(self) -> str:
        """A back-quoted raw string: no escapes, may span lines."""
        src = self.src
        end = src.find("`", self.pos + 1)
        if end < 0:
            raise LexError("unterminated raw string", self.line)
        text = src[self.pos + 1 : end]
        self.line += text.count("\n")
        self.pos = end + 1
        return text

    def _template(self, start: int, line: int) -> None:
        """``$"text {expr} text"`` or ``$`text {expr}```: the text is one string token, each
        ``{expr}`` is lexed as code (marked ``in_template``), so nothing hides inside."""
        src, n = self.src, len(self.src)
        quote = src[self.pos + 1]
        self.pos += 2
        parts: list[str] = []
        while self.pos < n:
            c = src[self.pos]
            if c == quote:
                self.pos += 1
                self.out.append(Token("string", "".join(parts), line, start, self.pos))
                return
            if c == "\n":
                if quote == '"':
                    break
                self.line += 1
            if c == "\\" and quote == '"' and self.pos + 1 < n:
                parts.append(src[self.pos + 1])
                self.pos += 2
                continue
            if c == "{":
                self.pos += 1
                self._code(until_brace=True, in_template=True)
                continue
            parts.append(c)
            self.pos += 1
        raise LexError("unterminated template string", line)
