"""Parser bombs (issue 26, item 9) end in one located error, in bounded memory and time.

Each case is `np validate` of a generated file in a child process whose address space and CPU
time are capped (resource limits, not wall time: a busy machine slows a run down without
making it compute more). Before the limits, python-hcl2 took 1.1 GB for a 5 MB heredoc, 1.9 GB
for a 4 MB line and a MemoryError after 52 s for 100,000 blocks.
"""

from __future__ import annotations

import resource
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from large_configs import hcl_block
from procs import NP, clean_env

from reconciler.config import load_config
from reconciler.config.syntax.nodes import Attribute, Block, Scalar
from reconciler.config.syntax.sources import parse_hcl
from reconciler.errors import ConfigError, Pos

MEMORY = 400 * 1024 * 1024
"""Address space of the child: np's interpreter and imports take about 150 MB of it."""
CPU_SECONDS = 60
HEREDOC = 'nodepool "train" {{\n  pool = "pool-prod"\n  flavor = <<EOT\n{body}EOT\n}}\n'
TOO_LONG_HEREDOC = "3: heredoc is longer than 65536 characters"


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))


def validate_capped(root: Path) -> subprocess.CompletedProcess[str]:
    assert NP is not None
    return subprocess.run(
        [NP, "validate"],
        cwd=root,
        env=clean_env({"NP_CACHE_DIR": "off"}),
        preexec_fn=_limits,
        capture_output=True,
        text=True,
        check=False,
    )


def _plain_blocks(count: int) -> str:
    """Blocks of 15 tokens (names, strings, braces, =, line ends) on 5 lines each."""
    return "".join(
        f'nodepool "n{i:06d}" {{\n  pool = "pool-prod"\n  flavor = "x"\n}}\n\n'
        for i in range(count)
    )


BOMBS: dict[str, tuple[Callable[[], str], str]] = {
    "heredoc-101k": (lambda: HEREDOC.format(body="x" * 100_999 + "\n"), TOO_LONG_HEREDOC),
    "heredoc-5mb": (lambda: HEREDOC.format(body=("y" * 99 + "\n") * 50_000), TOO_LONG_HEREDOC),
    "heredoc-20mb": (lambda: HEREDOC.format(body="z" * 20_000_000 + "\n"), TOO_LONG_HEREDOC),
    "line-4mb": (
        lambda: (
            'nodepool "train" {\n  pool = "pool-prod"\n  count = 1' + " + 1" * 1_000_000 + "\n}\n"
        ),
        "3: line is longer than 1,048,576 characters",
    ),
    "blocks-100k": (
        # token 1,000,001 is the 11th of block 66,667: its "x", on line 66,666 * 5 + 3
        lambda: _plain_blocks(100_000),
        "333333: the file holds more than 1,000,000 tokens; split it into several files",
    ),
    "blank-lines-4mb": (
        lambda: "\n" * 4_000_000,
        "1000001: the file holds more than 1,000,000 tokens; split it into several files",
    ),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_a_parser_bomb_is_one_error_in_bounded_memory(tmp_path: Path, name: str) -> None:
    make, expected = BOMBS[name]
    (tmp_path / "main.hcl").write_text(make())
    done = validate_capped(tmp_path)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [f"Error: main.hcl:{expected}"]


def test_a_5000_node_pool_file_loads_under_the_same_cap(tmp_path: Path) -> None:
    """The limits leave room for a real configuration: np's parser reads it in the cap."""
    (tmp_path / "main.hcl").write_text(
        'provider "modelarts" {\n  region = "cn-north-4"\n}\n'
        + "".join(hcl_block(i).replace(f'"np{i}"', f'"np-{i}"') for i in range(5000))
    )
    done = validate_capped(tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert "(5000 node pools in 1 file)" in done.stdout


def test_a_string_is_as_long_as_what_it_means(tmp_path: Path) -> None:
    """Each \\u0041 is one character: 40,000 of them (240,000 written) are within the limit,
    65,537 are not."""
    text = 'variable "text" {{\n  type    = string\n  default = "{}"\n}}\n'
    block = parse_hcl(text.format("\\u0041" * 40_000), "main.hcl").items[0]
    assert isinstance(block, Block) and isinstance(block.body.items[1], Attribute)
    assert block.body.items[1].value == Scalar("A" * 40_000, Pos("main.hcl", 3))
    (tmp_path / "main.hcl").write_text(text.format("\\u0041" * 65_537))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    too_long = "string is longer than 65536 characters"
    assert str(info.value) == f"main.hcl:3: variable.text: default: {too_long}"
