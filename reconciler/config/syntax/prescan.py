"""Bounds on an HCL file, checked before either parser reads it.

    text = prepare(text)    # SourceError, or the text both parsers read

python-hcl2 needs about 1 KB of memory per token and far more inside a long heredoc (a 5 MB
heredoc took 1.1 GB, a 4 MB line of ``1 + 1 + ...`` 1.9 GB), so what a file may hold is
bounded first, by scans that run at the regular-expression engine's speed: heredocs longer
than ``MAX_STRING``, lines longer than ``MAX_LINE``, more than ``MAX_TOKENS`` tokens. Then
``structure`` refuses deep bracket nesting and puts ``TOO_LONG`` in place of each quoted
string longer than ``MAX_STRING``; np's own parser reads a file the same way without that
pass unless the file holds a heredoc or a line longer than any string may be
(``needs_structure``), which the differential test of the two parsers relies on.
"""

from __future__ import annotations

import re
from itertools import islice

from reconciler.config.syntax.nodes import (
    MAX_DEPTH,
    MAX_LINE,
    MAX_STRING,
    MAX_TOKENS,
    SourceError,
)

TOO_LONG = "\x00"
"""Stands in for an overlong string: no NUL survives reading a file, so it is never the user's."""

_HEREDOC = re.compile(r"<<-?([A-Za-z][A-Za-z0-9._-]*)\r?\n")
_LONG_LINE = re.compile(f"^[^\\n]{{{MAX_LINE + 1}}}", re.MULTILINE)
_STRING_LINE = re.compile(f"^[^\\n]{{{MAX_STRING + 3}}}", re.MULTILINE)
"""A line that may hold a quoted string longer than ``MAX_STRING`` (quotes included)."""
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*+"|#[^\n]*+|//[^\n]*+|/\*(?s:.)*?\*/|[A-Za-z0-9_-]++|\n|\S')
"""What counts as one token: a one-line string, a comment, a name or number, a line end, or
any other visible character."""
# Possessive quantifiers: a 10 MB string is scanned in milliseconds, not seconds.
_STRUCTURE = re.compile(
    r'"(?:[^"\\\n]++|\\.)*+"|#[^\n]*+|//[^\n]*+|/\*.*?\*/|[\[\](){}]', re.DOTALL
)
_ESCAPES = re.compile(r"\\(?:u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)|\$\$\{|%%\{", re.DOTALL)
"""What a string writes with more characters than it means: ``\\u0041`` is one character."""


def prepare(text: str) -> str:
    """``limits``, then ``structure``: what python-hcl2 reads."""
    limits(text)
    return structure(text)


def limits(text: str) -> None:
    """Refuse (``SourceError`` with the line) a heredoc longer than ``MAX_STRING``, a line
    longer than ``MAX_LINE`` and a file of more than ``MAX_TOKENS`` tokens."""
    if "<<" in text:
        _heredocs(text)
    long_line = _LONG_LINE.search(text)
    if long_line:
        raise SourceError(
            f"line is longer than {MAX_LINE:,} characters", _line_at(text, long_line.start())
        )
    if len(text) > MAX_TOKENS and _TOKEN.subn("", text)[1] > MAX_TOKENS:
        last = next(islice(_TOKEN.finditer(text), MAX_TOKENS, None))
        raise SourceError(
            f"the file holds more than {MAX_TOKENS:,} tokens; split it into several files",
            _line_at(text, last.start()),
        )


def needs_structure(text: str) -> bool:
    """Whether ``structure`` can change or refuse ``text`` where np's parser would not: it
    reads a heredoc's text as if it were code, and marks strings only on long lines."""
    return "<<" in text or _STRING_LINE.search(text) is not None


def structure(text: str) -> str:
    """Refuse deep bracket nesting before python-hcl2 spends time on it (strings and comments
    skipped; the walker enforces the exact limit on what survives), and put ``TOO_LONG`` in
    place of each quoted string longer than ``MAX_STRING`` once unescaped: python-hcl2 takes
    seconds to lex a 10 MB string, the marker no time, and it is reported where it is used."""
    depth = 0
    pieces: list[str] = []
    start = 0
    for match in _STRUCTURE.finditer(text):
        token = match.group(0)
        if token in "{[(":
            depth += 1
            if depth > 2 * MAX_DEPTH:
                line = _line_at(text, match.start())
                raise SourceError(f"values are nested deeper than {MAX_DEPTH} levels", line)
        elif token in "}])":
            depth -= 1
        elif token[0] == '"' and len(token) > MAX_STRING + 2 and _meant(token) > MAX_STRING:
            pieces += [text[start : match.start()], f'"{TOO_LONG}"']
            start = match.end()
    return "".join([*pieces, text[start:]]) if pieces else text


def _meant(quoted: str) -> int:
    """How many characters a quoted string stands for (interpolations counted as written)."""
    return len(quoted) - 2 - sum(len(escape) - 1 for escape in _ESCAPES.findall(quoted))


def _heredocs(text: str) -> None:
    """Each heredoc's body, as python-hcl2 delimits it (up to the first line holding only
    its marker), is at most ``MAX_STRING`` characters; an unterminated one is left to the
    parser's error."""
    resume = 0
    for opener in _HEREDOC.finditer(text):
        if opener.start() < resume:
            continue
        closer = re.compile(rf"\n[^\S\n]*{re.escape(opener[1])}\r?\n")
        end = closer.search(text, opener.end() - 1)
        if end is None:
            continue
        if end.start() + 1 - opener.end() > MAX_STRING:
            line = _line_at(text, opener.start())
            raise SourceError(f"heredoc is longer than {MAX_STRING} characters", line)
        resume = end.end()


def _line_at(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1
