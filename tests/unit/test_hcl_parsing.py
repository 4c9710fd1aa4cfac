"""How np reads HCL beyond what the differential test compares: python-hcl2 (and lark) load only
when np's parser gives up, an operator after a line break is the operator, and numbers that
Python cannot read are one located error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.config import load_config
from reconciler.config.syntax import hcl_adapter
from reconciler.config.syntax.nodes import Attribute, Operation, Scalar, SourceError
from reconciler.config.syntax.sources import parse_hcl
from reconciler.errors import ConfigError, Pos

CONTINUED = 'nodepool "train" {\n  pool      = "pool-prod"\n  count     = 1\n    + 2\n}\n'


@pytest.mark.parametrize("parse", [parse_hcl, hcl_adapter.parse_hcl], ids=["np", "python-hcl2"])
def test_an_operator_after_a_line_break_is_the_operator(parse: object) -> None:
    """python-hcl2's post-lexer glues the line break to the operator's text; np reads the
    operator (this evaluated to false before)."""
    body = parse("x = a\n  + 2\ny = a # why\n  * 2\n", "f.hcl")  # type: ignore[operator]
    ops = [item.value for item in body.items if isinstance(item, Attribute)]
    assert [op.op for op in ops if isinstance(op, Operation)] == ["+", "*"]


def test_a_continued_sum_is_the_sum(tmp_path: Path) -> None:
    (tmp_path / "main.hcl").write_text(CONTINUED)
    [pool] = load_config(tmp_path, environ={}).nodepools
    assert pool.fields["count"] == 3


def test_a_number_python_cannot_read_is_a_syntax_error(tmp_path: Path) -> None:
    """python-hcl2 lexes -1-2.5 as one number; reading it raised ValueError (a traceback)."""
    (tmp_path / "main.hcl").write_text('nodepool "a" {\n  pool = "p"\n  count = -1-2.5\n}\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert str(info.value) == "main.hcl:3: syntax error: '-1-2.5' is not a number"


def test_literals_outside_what_np_handles_are_refused_where_written() -> None:
    for text, message in [
        ('x = "\\ud83d\\ude00"', "a string holds \\ud83d (half of a UTF-16 surrogate pair)"),
        ("x = 1.5e999", "1.5e999 is not a finite number"),
        ("x = [for v in y : v.0.1e5]", "syntax error"),
    ]:
        with pytest.raises(SourceError) as info:
            parse_hcl(text, "f.hcl")
        assert info.value.message.startswith(message)
        assert info.value.line == 1


def test_the_reference_loads_only_when_np_s_parser_gives_up() -> None:
    """lark takes ~0.1 s to import: a file np's parser reads never pays it."""
    script = (
        "import sys; from reconciler.config.syntax.sources import parse_hcl; "
        "parse_hcl(sys.argv[1], 'f.hcl'); print('lark' in sys.modules)"
    )
    for text, loaded in [(CONTINUED, "False"), ("x = a[*].b\n", "True")]:
        done = subprocess.run(
            [sys.executable, "-c", script, text], capture_output=True, text=True, check=True
        )
        assert done.stdout.strip() == loaded


def test_an_expression_in_yaml_is_read_by_np_s_parser_too() -> None:
    node = hcl_adapter.expression("1 +\n 2", Pos("f.yaml", 4))
    assert node == Operation(
        "+", (Scalar(1, Pos("f.yaml", 4)), Scalar(2, Pos("f.yaml", 4))), Pos("f.yaml", 4)
    )
