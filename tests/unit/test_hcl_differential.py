"""np's HCL parser against python-hcl2 (the reference for what np accepts): the same accept or
refuse, the same nodes (values and positions) and the same error and line, for every example,
every file of the hostile corpus, the large-file tests' and the benchmark's inputs, and a
generated corpus; where np's parser gives up, the construct it names is one of
``CONSTRUCTS``, and each construct that falls back is shown doing so.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from large_configs import hcl_block

from reconciler.config.syntax import hcl_adapter, sources
from reconciler.config.syntax.hcl_parser import CONSTRUCTS, Unsupported
from reconciler.config.syntax.nodes import Body, Node, SourceError
from reconciler.errors import Pos
from testkit.workload import Fleet

ROOT = Path(__file__).parents[2]


Outcome = Body | Node | tuple[str, ...]


class _Fallback(Exception):
    def __init__(self, construct: str) -> None:
        self.construct = construct


@contextmanager
def _fast_only() -> Iterator[None]:
    """``sources.parse_hcl`` and ``hcl_adapter.expression`` with the reference taken away: a
    fallback becomes ``_Fallback`` naming the construct."""

    def refuse(*_args: object) -> Node:
        raise _Fallback(str(sys.exc_info()[1]))

    with (
        mock.patch.object(hcl_adapter, "parse_prepared", refuse),
        mock.patch.object(hcl_adapter, "reference_value", refuse),
    ):
        yield


def outcome(read: object, *args: object) -> Outcome:
    try:
        return read(*args)  # type: ignore[operator, no-any-return]
    except SourceError as exc:
        return ("error", exc.message, str(exc.line))


def fast(text: str) -> Outcome:
    with _fast_only():
        try:
            return outcome(sources.parse_hcl, text, "f.hcl")
        except _Fallback as exc:
            return ("fallback", exc.construct)


def compare(text: str) -> str | None:
    """Assert np's parser reads ``text`` as python-hcl2 does; the construct it gave up on."""
    reference = outcome(hcl_adapter.parse_hcl, text, "f.hcl")
    mine = fast(text)
    if isinstance(mine, tuple) and mine[0] == "fallback":
        assert mine[1] in CONSTRUCTS, mine
        return mine[1]
    assert mine == reference, text
    return None


def compare_expression(text: str) -> None:
    """The same for an expression read alone (YAML ``${...}``, ``--var``, a type)."""
    pos = Pos("f.yaml", 7)
    reference = hcl_adapter.reference_value(f"(\n{text}\n)", text, pos)
    with _fast_only():
        try:
            mine = hcl_adapter.expression(text, pos)
        except _Fallback as exc:
            assert exc.construct in CONSTRUCTS
            return
    assert mine == reference, text


# -- files --------------------------------------------------------------------------------------

FILES = sorted(
    [
        *ROOT.glob("examples/**/*.hcl"),
        *ROOT.glob("examples/**/*.npvars"),
        *ROOT.glob("tests/configs/**/*.hcl"),
        *ROOT.glob("tests/hostile/*.hcl"),
    ]
)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_and_hostile_file_reads_alike(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", errors="replace").replace("\x00", "")
    construct = compare(text)
    if path.parts[-3:-1] != ("tests", "hostile") and "examples" in path.parts:
        assert construct is None, f"np's parser gave up on an example: {construct}"


def test_a_large_file_and_the_benchmark_fleet_read_alike() -> None:
    """A slice of the large-file test's 5,000 node pools (all of it: the slow test below) and
    the benchmark's blocks, every field of a node pool: np's parser reads them itself."""
    assert compare("".join(hcl_block(i) for i in range(100))) is None
    fleet = Fleet(3, 20)
    files = fleet.hcl_files(endpoint="sim://world.json", changed_every=7)
    for text in files.values():
        assert compare(text) is None


LARGE_BLOCKS = int(os.environ.get("NP_TEST_LARGE_BLOCKS", "500"))
"""Blocks of the large-file test's input compared whole: 500 in the suite (python-hcl2 takes
about 6 s per 1,000); NP_TEST_LARGE_BLOCKS=5000 compares the whole file."""


@pytest.mark.slow
def test_the_large_file_test_input_reads_alike() -> None:
    assert compare("".join(hcl_block(i) for i in range(LARGE_BLOCKS))) is None


# -- one example of each construct that falls back ----------------------------------------------

FALLS_BACK = {
    "syntax": 'nodepool "a" {\n  count = 1 2\n}\n',
    "splat": "x = var.list[*].id\n",
    "directive": 'x = "%{if true}a%{endif}"\n',
    "provider function": "x = provider::aws::arn(1)\n",
    "deep nesting": "x = " + "[" * 33 + "]" * 33 + "\n",
    "string": 'x = "${ {a = 1}["a"] }"\n',
    "newline": "x = a\n\n  + 2\n",
    "negative number": "x = { a = b -55 }\n",
    "refused text": 'x = "a\\ud800b"\n',
}


def test_every_construct_that_falls_back_is_shown() -> None:
    assert set(FALLS_BACK) == set(CONSTRUCTS)


@pytest.mark.parametrize("construct", sorted(FALLS_BACK))
def test_a_construct_falls_back_to_python_hcl2(construct: str) -> None:
    assert compare(FALLS_BACK[construct]) == construct
    assert outcome(sources.parse_hcl, FALLS_BACK[construct], "f.hcl") == outcome(
        hcl_adapter.parse_hcl, FALLS_BACK[construct], "f.hcl"
    )


def test_the_fallback_signal_names_its_construct() -> None:
    with pytest.raises(Unsupported) as info:
        from reconciler.config.syntax.hcl_parser import parse_body

        parse_body("x = a[*]\n", "f.hcl")
    assert info.value.construct == "splat"


# -- a generated corpus -------------------------------------------------------------------------

NAMES = ["a", "b", "pool", "x_y", "x-y", "_u", "in", "for", "if", "for_each", "var", "each"]
NAMES += ["true", "false", "null", "True", "k", "v", "endif"]
NUMBERS = ["0", "1", "7", "42", "007", "2.5", "0.25", "1e3", "1E-2", "5e+2", "1e400"]
NUMBERS += ["9" * 30, "12.5e3", "1" * 4301]
TEXT = ["a", " ", "é", "中", "\U0001f600", "$", "%", "{", "}", "/", "#", "'", "x y", "-", "\t"]
ESCAPES = ["\\n", "\\t", '\\"', "\\\\", "\\r", "\\u00e9", "\\U0001F600", "\\u0041" * 3]
ESCAPES += ["\\ud800", "\\u0000", "\\q", "\\u12", "$${x}", "%%{y}", "$$", "%%", "%{if a}x%{endif}"]
SPACES = ["", " ", " ", "  ", "\t"]
BREAKS = ["\n", "\n  ", "\n\n", " # c\n", " // c\n", " /* c */\n", "\r\n", " /* a\nb */ "]
BREAKS += [" # é中😀\n"]
OPERATORS = ["+", "-", "*", "/", "%", "==", "!=", "<", ">", "<=", ">=", "&&", "||"]
SUFFIXES = [".a", ".b.c", ".0", ".12", "[0]", '["k"]', "[*]", ".*.a", ".1.5", ".true", "[\n0]"]
EDITS = ["", "{", "}", "[", "]", '"', "=", ",", "\n", "$", "\\", "-", "(", "#", "?", ":"]


class Generator:
    """HCL text from python-hcl2's grammar, mostly well-formed, with layouts, comments,
    unicode, escapes, heredocs, templates, operators, conditionals and for expressions,
    and sometimes one edit that makes it a near miss. A plain generator from a seed that
    hypothesis draws: hypothesis's own strategies take ~30 ms to build one such file, this
    well under one."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, options: list[str]) -> str:
        return options[self.rng.randrange(len(options))]

    def gap(self) -> str:
        """Between tokens: mostly blanks, sometimes a line break (not always allowed)."""
        return self.pick(BREAKS) if self.rng.random() < 0.15 else self.pick(SPACES)

    def file(self) -> str:
        text = self.body(0)
        if text and self.rng.random() < 0.2:
            at = self.rng.randrange(len(text))
            text = text[:at] + self.pick(EDITS) + text[at + self.rng.randrange(2) :]
        return text

    def body(self, depth: int) -> str:
        items = []
        for _ in range(self.rng.randrange(4)):
            if depth < 2 and self.rng.random() < 0.35:
                labels = self.pick(["", ' "x"', ' "a" "b"', " lbl", ' "${a}"', ' "\\u00e9"'])
                gap = self.pick([" ", "", "\n"])
                items.append(f"{self.pick(NAMES)}{labels}{gap}{{\n{self.body(depth + 1)}}}")
            else:
                eq = self.pick([" = ", "=", "  =  "])
                items.append(f"{self.pick(NAMES)}{eq}{self.expr(3)}")
            items.append(self.pick(BREAKS))
        return "".join(items)

    def expr(self, budget: int) -> str:
        rng = self.rng
        if budget <= 0 or rng.random() < 0.3:
            return self.leaf()
        inner = budget - 1
        choice = rng.randrange(14)
        if choice == 0:
            return f"({self.gap()}{self.expr(inner)}{self.gap()})"
        if choice == 1:
            items = [self.expr(inner) + self.gap() for _ in range(rng.randrange(4))]
            return "[" + ",".join(items) + self.pick(["", ",", "\n"]) + "]"
        if choice == 2:
            entries = []
            for _ in range(rng.randrange(4)):
                key = self.pick([*NAMES, '"k"', '"a/b"', "1", '"${a}"', "-1", "(a)"])
                entries.append(key + self.pick([" = ", "=", ": "]) + self.expr(inner))
                entries.append(self.pick([", ", "\n", " ", ",\n", "\n,"]))
            return "{" + "".join(entries) + "}"
        if choice == 3:
            args = ", ".join(self.expr(inner) for _ in range(rng.randrange(4)))
            return f"{self.pick(NAMES)}({args}{self.pick(['', '', '...', ',', chr(10)])})"
        if choice == 4:
            return self.expr(inner) + self.pick(SUFFIXES)
        if choice == 5:
            return f"{self.expr(inner)}[{self.expr(inner)}]"
        if choice == 6:
            return self.pick(["-", "!", "- ", "!!", "-"]) + self.expr(inner)
        if choice in (7, 8):
            before = self.pick([*SPACES, *SPACES, "\n", " # c\n"])
            op = self.pick(OPERATORS)
            return f"{self.expr(inner)}{before}{op}{self.pick(SPACES)}{self.expr(inner)}"
        if choice == 9:
            return (
                f"{self.expr(inner)}{self.gap()}?{self.gap()}{self.expr(inner)}"
                f"{self.gap()}:{self.gap()}{self.expr(inner)}"
            )
        if choice == 10:
            var = self.pick(["x", "in", "k", "true", "x, v", "k,v"])
            cond = self.pick(["", " if x", "\nif a > 1"])
            return f"[for {var} in {self.expr(inner)} : {self.expr(inner)}{cond}]"
        if choice == 11:
            group = self.pick(["", "...", " ..."])
            cond = self.pick(["", " if v", "\n"])
            key, value = self.expr(inner), self.expr(inner)
            return f"{{for k, v in {self.expr(inner)} : {key} => {value}{group}{cond}}}"
        return self.string(inner)

    def leaf(self) -> str:
        choice = self.rng.randrange(6)
        if choice == 0:
            return self.pick(NUMBERS[:-1] if self.rng.random() < 0.98 else NUMBERS)
        if choice == 1:
            return "-" + self.pick(NUMBERS[:-1])
        if choice == 2:
            return self.string(0)
        if choice == 3 and self.rng.random() < 0.3:
            return self.heredoc()
        return self.pick(NAMES)

    def string(self, budget: int) -> str:
        parts = []
        for _ in range(self.rng.randrange(5)):
            kind = self.rng.random()
            if kind < 0.55:
                parts.append(self.pick(TEXT))
            elif kind < 0.75:
                parts.append(self.pick(ESCAPES))
            else:
                parts.append("${" + self.expr(budget) + "}")
        return '"' + "".join(parts) + '"'

    def heredoc(self) -> str:
        marker = self.pick(["EOT", "E", "END_1"])
        trim = self.rng.random() < 0.5
        indent = "  " if trim else ""
        lines = [self.pick(["x", "  y", "", "${a}", "$${a}", 'a"b', "[[["]) for _ in range(3)]
        body = "".join(f"{indent}{line}\n" for line in lines[: self.rng.randrange(4)])
        return f"<<{'-' if trim else ''}{marker}\n{body}{indent}{marker}\n"


SEEDS = st.integers(0, 2**64 - 1)
"""A generator's seed: a failure names the file to reproduce it, and drawing one number per
file keeps hypothesis's own cost out of the budget (3,000 files in about 10 s)."""


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(SEEDS)
def test_generated_files_read_alike(seed: int) -> None:
    compare(Generator(random.Random(seed)).file())


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(SEEDS)
def test_generated_expressions_read_alike(seed: int) -> None:
    compare_expression(Generator(random.Random(seed)).expr(3))


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.integers(0, 2),
    st.integers(26, 36),
    st.sampled_from(["[{}]", "({})", "{{a = {}}}", "f({})", "-{}", "{}.a", "{}[0]", '"${{{}}}"']),
    st.sampled_from(["1 + {}", "{} + 1", "a ? {} : 1", "a ? 1 : {}", "{}"]),
)
def test_nesting_around_the_limit_reads_alike(
    blocks: int, levels: int, wrap: str, around: str
) -> None:
    """Depth is counted as the walker counts it, including chains (``1 + 1 + ...``)."""
    value = "1"
    for _ in range(levels):
        value = around.format(wrap.format(value)) if levels % 3 == 0 else wrap.format(value)
    text = "b {\n" * blocks + f"x = {value}\n" + "}\n" * blocks
    compare(text)
    compare("x = " + " + ".join(["1"] * levels) + "\n")
