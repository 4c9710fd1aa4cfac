"""``np fmt``'s layout (reconciler.config.syntax.hcl_format): each rule on a small input, the
rules together kept idempotent, and what a file means never changed by them."""

from __future__ import annotations

import random
import textwrap
from collections.abc import Callable
from pathlib import Path

import hcl2
import pytest

from reconciler.config.syntax import hcl_format
from reconciler.config.syntax.hcl_format import format_hcl, layout
from reconciler.config.syntax.nodes import SourceError

ROOT = Path(__file__).resolve().parents[2]


def fmt(text: str) -> str:
    """Format dedented ``text``, checking on the way that the result means the same to
    python-hcl2 and is its own layout."""
    source = textwrap.dedent(text).lstrip("\n")
    out = format_hcl(source, "main.hcl")
    assert hcl2.loads(out) == hcl2.loads(source)
    assert format_hcl(out, "main.hcl") == out
    return out


def lines(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_a_formatted_file_is_left_as_it_is() -> None:
    text = lines(
        """
        nodepool "train" {
          pool   = "pool-prod"
          count  = 2
          labels = { team = "ml" }
        }
        """
    )
    assert fmt(text) == text


def test_equals_signs_align_within_a_group_of_one_line_attributes() -> None:
    out = fmt(
        """
        nodepool "train" {
        pool="pool-prod"
              max_count   =   4
        count = 2
        }
        """
    )
    assert out == lines(
        """
        nodepool "train" {
          pool      = "pool-prod"
          max_count = 4
          count     = 2
        }
        """
    )


@pytest.mark.parametrize(
    "breaker",
    ["", "# a comment line", 'labels = {\n    team = "ml"\n  }'],
    ids=["blank line", "comment line", "multi-line value"],
)
def test_a_blank_line_a_comment_or_a_multi_line_value_ends_the_group(breaker: str) -> None:
    out = fmt(f'nodepool "a" {{\n  count = 1\n  {breaker}\n  max_count = 2\n}}\n')
    assert "  count = 1\n" in out
    assert "  max_count = 2\n" in out


def test_a_heredoc_attribute_ends_its_group_and_its_text_is_untouched() -> None:
    source = (
        "locals {\n a = 1\n    script = <<EOT\n  keep   this  \n\tand this\n  EOT\n bb = 2\n}\n"
    )
    out = fmt(source)
    assert out == (
        "locals {\n  a      = 1\n  script = <<EOT\n  keep   this  \n\tand this\n  EOT\n"
        "  bb = 2\n}\n"
    )


def test_an_indented_heredoc_keeps_its_text_and_its_closing_marker() -> None:
    source = 'x = [<<-EOT\n      one\n    EOT\n  , "b"]\n'
    out = fmt(source)
    assert "<<-EOT\n      one\n    EOT\n" in out


def test_nested_blocks_and_multi_line_values_are_indented_two_spaces_a_level() -> None:
    out = fmt(
        """
        nodepool "train" {
        lifecycle {
        ignore_changes = [
        count,
            labels,
        ]
        }
        azs = [
        {
        az = "a"
        count = 1
        }, {
        az = "b"
        count = 1
        },
        ]
        }
        """
    )
    assert out == lines(
        """
        nodepool "train" {
          lifecycle {
            ignore_changes = [
              count,
              labels,
            ]
          }
          azs = [
            {
              az    = "a"
              count = 1
            }, {
              az    = "b"
              count = 1
            },
          ]
        }
        """
    )


def test_brackets_opened_on_one_line_indent_one_level() -> None:
    out = fmt("x = merge({\na = 1\n}, {\nb = 2\n})\ny = [{\na = 1\n}, {\na = 2\n}]\n")
    assert out == "x = merge({\n  a = 1\n}, {\n  b = 2\n})\ny = [{\n  a = 1\n}, {\n  a = 2\n}]\n"


def test_comments_stay_where_they_were_and_trailing_ones_align() -> None:
    out = fmt(
        """
        # file comment
        // another
        nodepool "a" {
        /* a block
              comment */
        count = 1 # one
        max_count = 10    // ten
        pool = "p"  /* p */
        }
        """
    )
    assert out == lines(
        """
        # file comment
        // another
        nodepool "a" {
          /* a block
              comment */
          count     = 1   # one
          max_count = 10  // ten
          pool      = "p" /* p */
        }
        """
    )


def test_one_blank_line_between_blocks_and_never_two() -> None:
    out = fmt(
        """


        variable "a" {
        }
        variable "b" {
          default = 1



          type = number
        }
        # about c
        variable "c" {}


        variable "d" {}
        """
    )
    assert out == lines(
        """
        variable "a" {
        }

        variable "b" {
          default = 1

          type = number
        }

        # about c
        variable "c" {}

        variable "d" {}
        """
    )


def test_nested_blocks_are_separated_but_one_line_blocks_may_stay_together() -> None:
    out = fmt(
        """
        nodepool "a" {
          taints {
            key = "x"
          }
          taints {
            key = "y"
          }
          network { vpc = "v" }
          os { name = "n" }
        }
        """
    )
    assert "  }\n\n  taints {\n" in out
    assert '  network { vpc = "v" }\n  os { name = "n" }\n' in out


def test_trailing_whitespace_tabs_and_crlf_go_and_the_file_ends_with_one_newline() -> None:
    assert fmt('a =\t1   \r\nb = "x"\r\n\r\n\r\n') == 'a = 1\nb = "x"\n'
    assert fmt("a = 1") == "a = 1\n"
    assert fmt("") == ""
    assert fmt("\n\n# only a comment   \n\n") == "# only a comment\n"


def test_strings_are_never_changed() -> None:
    source = (
        'a  =  "  spaced   # not a comment // nor this  "\n'
        'b = "${  var.x  }   ${ "{" }  $${literal}  \\"quoted\\"  "\n'
        'c = ["x  ,  y",   "z"]\n'
    )
    out = fmt(source)
    assert '"  spaced   # not a comment // nor this  "' in out
    assert '"${  var.x  }   ${ "{" }  $${literal}  \\"quoted\\"  "' in out
    assert 'c = ["x  ,  y", "z"]' in out


def test_a_block_header_gets_one_space_before_its_brace() -> None:
    assert fmt('nodepool   "a"{\ncount = 1\n}\n') == 'nodepool "a" {\n  count = 1\n}\n'


def test_a_byte_order_mark_is_kept() -> None:
    assert format_hcl("\ufeffa   = 1\n", "main.hcl") == "\ufeffa = 1\n"


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ('nodepool "a" {\n  count = 1\n', 3),
        ('a = "unterminated\n', 1),
        ("a = 1\nb = <<EOT\nnever closed\n", 2),
        ("a = 1\n}\n", 2),
        ("a = 1\n/* open\n", 2),
    ],
)
def test_a_file_np_cannot_read_is_a_source_error_with_its_line(source: str, line: int) -> None:
    with pytest.raises(SourceError) as caught:
        format_hcl(source, "main.hcl")
    assert caught.value.line == line


@pytest.mark.parametrize(
    "source",
    ["x = {\n", 'x = "a\n', "x = <<EOT\na\n", "}\n", "/*\n", "x = (]\n", 'x = "${a\n'],
)
def test_the_layout_alone_refuses_what_it_cannot_read(source: str) -> None:
    """Bracket and token errors are the layout's own, should the parse ever let one through."""
    with pytest.raises(SourceError):
        layout(source)


def example_files() -> list[Path]:
    examples = sorted((ROOT / "examples").rglob("*.hcl"))
    assert examples, "the repository's examples have HCL files"
    return [*examples, *sorted((ROOT / "tests" / "configs").rglob("*.hcl"))]


@pytest.mark.parametrize("path", example_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_mean_the_same_after_formatting_and_format_once(path: Path) -> None:
    text = path.read_text()
    out = format_hcl(text, path.name)
    assert hcl2.loads(out) == hcl2.loads(text)
    assert format_hcl(out, path.name) == out


def test_the_shipped_examples_are_formatted_already() -> None:
    for path in sorted((ROOT / "examples").rglob("*.hcl")):
        assert format_hcl(path.read_text(), path.name) == path.read_text(), path


def messy(line: str) -> str:
    """A line without its indentation, its ``=`` spaced out, three blank lines after a ``}``."""
    stripped = line.strip()
    if '"' not in stripped:
        stripped = stripped.replace(" = ", "   =  ")
    return stripped + ("\n\n\n" if stripped == "}" else "")


def test_a_messy_copy_of_each_example_formats_back_to_the_same_meaning() -> None:
    """Indentation removed, spaces doubled, blank lines added: the meaning survives, and
    formatting the mess twice changes nothing the second time."""
    for path in example_files():
        text = path.read_text()
        mess = "\n".join(messy(line) for line in text.splitlines())
        assert hcl2.loads(mess) == hcl2.loads(text), path
        out = format_hcl(mess, path.name)
        assert hcl2.loads(out) == hcl2.loads(text), path
        assert format_hcl(out, path.name) == out, path
        if path.is_relative_to(ROOT / "examples"):
            assert out == text, path


def test_no_blank_line_at_the_start_or_the_end_of_a_block_body() -> None:
    out = fmt('nodepool "a" {\n\n  count = 1\n\n  taints {\n\n    key = "k"\n\n  }\n\n}\n')
    assert out == 'nodepool "a" {\n  count = 1\n\n  taints {\n    key = "k"\n  }\n}\n'


def shaken(text: str, rng: random.Random) -> str:
    """``text`` with its layout shaken: indentation lost or changed, spaces doubled outside
    strings, trailing spaces, blank lines after closing braces, sometimes CRLF."""
    out = []
    for line in text.split("\n"):
        moved = line.strip() if rng.random() < 0.5 else " " * rng.randint(0, 6) + line.lstrip()
        if '"' not in moved and "<<" not in moved and rng.random() < 0.3:
            moved = moved.replace(" ", "  ")
        out.append(moved + " " * rng.choice((0, 0, 0, 1, 3)))
        if moved.strip() == "}" and rng.random() < 0.5:
            out.append("")
    return ("\r\n" if rng.random() < 0.2 else "\n").join(out)


@pytest.mark.parametrize("path", example_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_any_shaking_of_a_file_formats_to_the_same_text_and_meaning(path: Path) -> None:
    """Whatever the layout was, np fmt gives one text, which means what the file meant."""
    text = path.read_text()
    canonical = format_hcl(text, path.name)
    meaning = hcl2.loads(text)
    rng = random.Random(path.name)
    for _ in range(20):
        shook = shaken(text, rng)
        if hcl2.loads(shook) != meaning:
            continue  # the shaking reached into a heredoc: not the same file any more
        assert format_hcl(shook, path.name) == canonical, shook


@pytest.mark.parametrize(
    "broken",
    [lambda text: text.replace("1", "2"), lambda text: text + "}\n"],
    ids=["a value changed", "text np cannot read"],
)
def test_a_layout_that_would_change_the_meaning_is_refused(
    monkeypatch: pytest.MonkeyPatch, broken: Callable[[str], str]
) -> None:
    """The check after formatting catches a bug of the layout itself."""
    monkeypatch.setattr(hcl_format, "layout", broken)
    with pytest.raises(SourceError, match="would change what this file means"):
        format_hcl("a   = 1\n", "main.hcl")
