"""``np fmt``'s canonical layout of an HCL file: text in, text out, the same meaning.

    formatted = format_hcl(text, "main.hcl")   # SourceError if np cannot read the file

The layout is ``terraform fmt``'s: two spaces per nesting level, the ``=`` of consecutive
one-line attributes aligned (a blank line, a comment line or a multi-line value ends the
group), trailing comments of consecutive lines aligned, one blank line between blocks and never
two anywhere (nor any at the start or end of a block's body), no trailing whitespace, one
newline at the end. Only the whitespace between
tokens changes: strings, heredocs and comments are written back as they were, and a run of
spaces between two tokens becomes one space (none stays none).

The file is parsed before (a file np cannot read is not formatted) and after: what np reads
from the result, positions aside, must equal what it read from the original, or the original
is kept and the difference reported, so that a bug here can never change a configuration.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from reconciler.config.syntax.nodes import Body, SourceError
from reconciler.config.syntax.sources import parse_hcl

INDENT = "  "

_TOKEN = re.compile(
    r"""[ \t\r]*+(?:
    (?P<word>[\w-]+)
  | (?P<string>"(?:[^"\\\n$%]++|\\.|\$\$\{|%%\{|\$(?!\{)|%(?!\{))*+")
  | (?P<nl>\n)
  | (?P<eq>=(?![=>]))
  | (?P<open>[{\[(])
  | (?P<close>[}\])])
  | (?P<comment>(?:\#|//)[^\n]*+)
  | (?P<block>/\*(?s:.)*?\*/)
  | (?P<unclosed>/\*)
  | (?P<quote>")
  | (?P<heredoc><<-?(?P<marker>[A-Za-z][A-Za-z0-9._-]*)[ \t\r]*\n)
  | (?P<op>==|!=|<=|>=|=>|&&|\|\||\.\.\.)
  | (?P<other>.))""",
    re.VERBOSE,
)
"""One token of HCL as far as layout goes, and the whitespace before it. ``string`` is a
quoted string without interpolation; ``quote`` starts one with ``${`` or ``%{``, which
``_quoted_end`` reads."""
_NAME = re.compile(r"[A-Za-z_][\w-]*")
_OPENS = {"}": "{", "]": "[", ")": "("}


class Token(NamedTuple):
    kind: str
    text: str
    spaced: bool
    """Whitespace stood before it on its line (written back as one space)."""
    start: int
    """Where it starts in the text (for the line of an error)."""


@dataclasses.dataclass
class Line:
    """One line of code, or of several physical lines when a token (a heredoc, a block
    comment) spans them."""

    tokens: list[Token]
    level: int = 0
    starts_block: bool = False
    ends_block: bool = False
    multiline: bool = False
    """A token of it (a heredoc, a comment, a string) goes on over several physical lines."""
    text: str = ""

    @property
    def blank(self) -> bool:
        return not self.tokens

    @property
    def comment_only(self) -> bool:
        return bool(self.tokens) and all(t.kind in ("comment", "block") for t in self.tokens)


def format_hcl(text: str, file: str) -> str:
    """``text`` laid out canonically; ``SourceError`` when np cannot read it, or (a bug) when
    the layout would change what it means."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    text = text.removeprefix("\ufeff")
    before = parse_hcl(text, file)
    formatted = layout(text)
    if formatted != text and not _same_meaning(before, formatted, file):
        raise SourceError("np fmt would change what this file means; it is left as it is", 0)
    return bom + formatted


def _same_meaning(before: Body, formatted: str, file: str) -> bool:
    """Whether np reads from ``formatted`` what it read from the original (a layout that
    it could not read at all would be a bug of the same kind)."""
    try:
        after = parse_hcl(formatted, file)
    except SourceError:
        return False
    return bool(_meaning(after) == _meaning(before))


def layout(text: str) -> str:
    """The canonical layout of ``text``, which must be well-formed HCL (unbalanced brackets,
    unterminated strings, heredocs and comments are a ``SourceError``)."""
    lines = _lines(text)
    _levels(lines, text)
    _align(lines)
    kept = _spaced_blocks(lines)
    return "".join(f"{line}\n" for line in kept)


# --- tokens and lines -----------------------------------------------------------------------


def _lines(text: str) -> list[Line]:
    """The tokens of each line; whitespace only sets the next token's ``spaced``. Tokens
    whose end a regular expression cannot find (a string with interpolations, a heredoc) are
    read by hand, and the scan resumes after them."""
    lines = [Line([])]
    position = 0
    while True:
        for match in _TOKEN.finditer(text, position):
            kind = match.lastgroup or "other"
            if kind == "nl":
                lines.append(Line([]))
                continue
            start, end = match.start(kind), match.end()
            if kind in _READ_BY_HAND:
                kind, end = _read_by_hand(text, kind, match)
            token_text = text[start:end]
            if kind == "comment":
                token_text = token_text.rstrip()
            elif kind != "word" and "\n" in token_text:
                if kind == "block":
                    token_text = "\n".join(part.rstrip() for part in token_text.split("\n"))
                lines[-1].multiline = True
            lines[-1].tokens.append(Token(kind, token_text, start > match.start(), start))
            if end != match.end():
                position = end
                break
        else:  # nothing but whitespace is left
            return lines


_READ_BY_HAND = {"quote", "heredoc", "unclosed"}


def _read_by_hand(text: str, kind: str, match: re.Match[str]) -> tuple[str, int]:
    """The kind and end of a token that starts with ``match``."""
    start = match.start(kind)
    if kind == "quote":
        return "string", _quoted_end(text, start)
    if kind == "heredoc":
        return kind, _heredoc_end(text, match)
    raise SourceError("unterminated /* comment", _line_at(text, start))


def _quoted_end(text: str, start: int) -> int:
    """The index after the quoted string that starts at ``start``, interpolations (which may
    hold strings of their own) included."""
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
        elif char == '"':
            return position + 1
        elif char == "\n":
            break
        elif text.startswith(("$${", "%%{"), position):
            position += 3
        elif text.startswith(("${", "%{"), position):
            position = _template_end(text, position + 2)
        else:
            position += 1
    raise SourceError("unterminated string", _line_at(text, start))


def _template_end(text: str, position: int) -> int:
    """The index after the ``}`` that closes an interpolation whose text starts at
    ``position``."""
    depth = 1
    while position < len(text):
        char = text[position]
        if char == '"':
            position = _quoted_end(text, position)
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return position + 1
        position += 1
    raise SourceError("unterminated interpolation", _line_at(text, position))


def _heredoc_end(text: str, opener: re.Match[str]) -> int:
    """The index after a heredoc's closing marker: the first line holding only the marker
    (after any indentation), as python-hcl2 reads it."""
    closer = re.compile(rf"\n[ \t]*{re.escape(opener['marker'])}(?=\r?\n|\Z)")
    found = closer.search(text, opener.end() - 1)
    if found is None:
        raise SourceError("unterminated heredoc", _line_at(text, opener.start()))
    return found.end()


def _line_at(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


# --- nesting ----------------------------------------------------------------------------------


def _levels(lines: list[Line], text: str) -> None:
    """Each line's nesting level, as hclwrite counts it: a line that opens brackets on balance
    indents the lines after it by one level, however many it opens, and the closing brackets
    a line starts with belong to the level outside. Also which lines start and end blocks."""
    open_brackets: list[tuple[Token, bool]] = []  # (bracket, opens a block body)
    indents: list[int] = []  # brackets still open at each level
    for line in lines:
        in_body = not open_brackets or open_brackets[-1][1]
        header = in_body and _is_block_header(line.tokens)
        leading = _leading_closers(line.tokens)
        net = 0
        for index, token in enumerate(line.tokens):
            if token.kind == "open":
                body = header and not line.starts_block and token.text == "{"
                open_brackets.append((token, body))
                line.starts_block = line.starts_block or body
                net += 1 if index >= leading else 0
            elif token.kind == "close":
                closed = _close(open_brackets, token, text)
                line.ends_block = line.ends_block or (closed and (index == 0 or line.starts_block))
                net -= 1 if index >= leading else 0
        partly = _close_levels(indents, leading)
        line.level = len(indents) - partly
        if net > 0 and partly:
            indents[-1] += net  # "}, {": the level goes on, the line sits outside it
        elif net > 0:
            indents.append(net)
        elif net < 0:
            _close_levels(indents, -net)
    if open_brackets:
        token = open_brackets[-1][0]
        raise SourceError(f"{token.text} is never closed", _line_at(text, token.start))


def _leading_closers(tokens: list[Token]) -> int:
    """How many closing brackets a line starts with."""
    count = 0
    while count < len(tokens) and tokens[count].kind == "close":
        count += 1
    return count


def _is_block_header(tokens: list[Token]) -> bool:
    """``TYPE LABEL... {``: a name, then names or quoted labels, then ``{``."""
    if not tokens or tokens[0].kind != "word" or not _NAME.fullmatch(tokens[0].text):
        return False
    for token in tokens[1:]:
        if token.kind == "open":
            return token.text == "{"
        if token.kind not in ("word", "string"):
            return False
    return False


def _close(open_brackets: list[tuple[Token, bool]], token: Token, text: str) -> bool:
    """Pop the bracket ``token`` closes; whether it was a block's body."""
    if not open_brackets or open_brackets[-1][0].text != _OPENS[token.text]:
        raise SourceError(f"{token.text} closes nothing", _line_at(text, token.start))
    return open_brackets.pop()[1]


def _close_levels(indents: list[int], closed: int) -> bool:
    """Take ``closed`` brackets off the levels, innermost first; whether the last level they
    reached stays open (some of its brackets closed, not all)."""
    while closed > 0 and indents:
        if closed >= indents[-1]:
            closed -= indents.pop()
        else:
            indents[-1] -= closed
            return True
    return False


# --- one line -------------------------------------------------------------------------------


def _split(line: Line) -> tuple[list[Token], list[Token], list[Token]]:
    """The line as hclwrite's cells: what comes before an attribute's ``=``, the ``=`` and
    its value (empty when the value goes on over more lines), and a trailing comment."""
    tokens = line.tokens
    comment: list[Token] = []
    if len(tokens) > 1 and tokens[-1].kind in ("comment", "block") and "\n" not in tokens[-1].text:
        tokens, comment = tokens[:-1], tokens[-1:]
    for index, token in enumerate(tokens):
        if token.kind == "eq" and index > 0:
            net = sum(_bracket(t) for t in tokens[index:])
            if net == 0:
                return tokens[:index], tokens[index:], comment
            break
    return tokens, [], comment


def _bracket(token: Token) -> int:
    return {"open": 1, "close": -1}.get(token.kind, 0)


def _joined(tokens: list[Token]) -> str:
    return "".join(
        (" " if token.spaced and index else "") + token.text for index, token in enumerate(tokens)
    )


# --- alignment --------------------------------------------------------------------------------


def _align(lines: list[Line]) -> None:
    """Write each line's text: indented, ``=`` aligned across each group of attributes, then
    trailing comments aligned across each group of lines that have one."""
    cells = [_split(line) for line in lines]
    leads = [
        INDENT * line.level + _header_spaced(line, lead)
        for line, (lead, _, _) in zip(lines, cells, strict=True)
    ]
    codes = list(leads)
    for group in _groups(lines, [bool(assign) for _, assign, _ in cells]):
        column = max(len(leads[i]) for i in group)
        for i in group:
            assign = cells[i][1]
            value = " " + _joined(assign[1:]).lstrip() if len(assign) > 1 else ""
            codes[i] = leads[i].ljust(column) + " =" + value
    for group in _groups(lines, [bool(comment) for _, _, comment in cells]):
        column = max(len(codes[i]) for i in group)
        for i in group:
            codes[i] = codes[i].ljust(column) + " " + cells[i][2][0].text
    for line, code in zip(lines, codes, strict=True):
        line.text = code.rstrip() if line.tokens else ""


def _header_spaced(line: Line, lead: list[Token]) -> str:
    """A block header's ``{`` one space after its last label."""
    if not line.starts_block:
        return _joined(lead)
    tokens = list(lead)
    for index, token in enumerate(tokens):
        if token.kind == "open" and index:
            tokens[index] = token._replace(spaced=True)
            break
    return _joined(tokens)


def _groups(lines: list[Line], member: list[bool]) -> Iterator[list[int]]:
    """Runs of consecutive member lines; a line over several physical lines ends its run."""
    group: list[int] = []
    for index, (line, wanted) in enumerate(zip(lines, member, strict=True)):
        if wanted:
            group.append(index)
        elif group:
            yield group
            group = []
        if line.multiline and group:
            yield group
            group = []
    if group:
        yield group


# --- blank lines ------------------------------------------------------------------------------


def _spaced_blocks(lines: list[Line]) -> list[str]:
    """The lines' texts with one blank line after a block that another block follows (its
    comments included), never two blank lines in a row, none at the start or the end of the
    file or of a block's body."""
    out: list[str] = []
    opened = False
    for index, line in enumerate(lines):
        if line.blank and (not out or out[-1] == "" or opened):
            continue
        if line.ends_block and not line.starts_block and out and out[-1] == "":
            out.pop()
        out.append(line.text)
        opened = line.starts_block and not line.ends_block
        if line.ends_block and _block_follows(lines, index + 1, line):
            out.append("")
    while out and out[-1] == "":
        out.pop()
    return out


def _block_follows(lines: list[Line], index: int, end: Line) -> bool:
    """Whether a block at the level of the block that ``end`` ends starts at ``index``, after
    any comment lines; one-line blocks in a row may stay together."""
    while index < len(lines) and lines[index].comment_only and lines[index].level == end.level:
        index += 1
    if index == len(lines) or lines[index].level != end.level:
        return False
    follower = lines[index]
    both_one_line = end.starts_block and follower.starts_block and follower.ends_block
    return follower.starts_block and not both_one_line


# --- meaning ----------------------------------------------------------------------------------


def _meaning(node: Any) -> Any:
    """What a parsed file says, its positions left out (they move when lines are added)."""
    kind = type(node)
    names = _FIELDS.get(kind)
    if names is None and dataclasses.is_dataclass(node):
        names = _FIELDS[kind] = tuple(
            f.name for f in dataclasses.fields(node) if f.name not in ("pos", "key_pos")
        )
    if names is not None:
        return (kind.__name__, *(_meaning(getattr(node, name)) for name in names))
    if kind is list or kind is tuple:
        return tuple(_meaning(item) for item in node)
    if kind is dict:
        return tuple((key, _meaning(value)) for key, value in node.items())
    return node


_FIELDS: dict[type, tuple[str, ...]] = {}
