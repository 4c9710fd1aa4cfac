"""Malformed and hostile files fail fast with one located message, never a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reconciler.config import load_config
from reconciler.errors import ConfigError

POOL = b'nodepool "a" {\n  pool = "p"\n'


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("bin.hcl", b"a = 1\n\xff\xfe\x00", "bin.hcl:2: file is not UTF-8 text (binary file?)"),
        ("nul.yaml", b"a: 1\nb: \x00\n", "nul.yaml:2: file is not text (it contains NUL bytes)"),
        ("big.hcl", b"#" * (64 * 1024 * 1024 + 1), "big.hcl:1: file is larger than 64 MiB"),
        (
            "deep.hcl",
            POOL + b"  labels = " + b"[" * 100_000 + b"]" * 100_000 + b"\n}\n",
            "deep.hcl:3: values are nested deeper than 32 levels",
        ),
        (
            "deep33.hcl",
            POOL + b"  labels = " + b"[" * 40 + b"]" * 40 + b"\n}\n",
            "deep33.hcl:3: values are nested deeper than 32 levels",
        ),
        (
            "parens.hcl",
            POOL + b"  count = " + b"(" * 5000 + b"1" + b")" * 5000 + b"\n}\n",
            "parens.hcl:3: values are nested deeper than 32 levels",
        ),
        (
            "blocks.hcl",
            POOL + b"  x {\n" * 40 + b"  }\n" * 40 + b"}\n",
            "blocks.hcl:34: blocks are nested deeper than 32 levels",
        ),
        (
            "deep.yaml",
            b"nodepools: " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
            "deep.yaml:1: YAML is nested deeper than 32 levels",
        ),
        (
            "bomb.yaml",
            b"a: &a [1, 2]\nb: &b [*a, *a]\nc: [*b, *b]\n",
            "bomb.yaml:1: YAML anchors and aliases (&name, *name) are not supported",
        ),
        (
            "alias.yaml",
            b"nodepools:\n  a:\n    pool: p\n    labels: *x\n",
            "alias.yaml:4: YAML anchors and aliases (&name, *name) are not supported",
        ),
        (
            "tabs.yaml",
            b"nodepools:\n\ta: {pool: p}\n",
            "tabs.yaml:2: syntax error: found character '\\t' that cannot start any token",
        ),
        (
            "python.yaml",
            b"nodepools:\n  a:\n    pool: !!python/object/apply:os.system ['true']\n",
            "python.yaml:3: nodepool.a: pool: the YAML tag !!python/object/apply:os.system is"
            " not allowed",
        ),
        (
            "docs.yaml",
            b"nodepools: {}\n---\nnodepools: {}\n",
            "docs.yaml:2: syntax error: expected a single document in the stream but found"
            " another document",
        ),
        ("ctl.yaml", b"a: 1\nb: \x07\n", "ctl.yaml:2: syntax error: invalid character U+0007"),
        (
            "key.yaml",
            b"nodepools:\n  a:\n    [x]: 1\n",
            "key.yaml:3: mapping keys must be plain names or strings",
        ),
        (
            "long.hcl",
            POOL + b'  flavor = "' + b"x" * 70_000 + b'"\n}\n',
            "long.hcl:3: nodepool.a: flavor: string is longer than 65536 characters",
        ),
        (
            "longkey.yaml",
            b"nodepools:\n  a:\n    pool: p\n    labels:\n      ? "
            + b"k" * 70_000
            + b"\n      : v\n",
            "longkey.yaml:5: nodepool.a: labels: a key is longer than 65536 characters",
        ),
        ("eof.hcl", POOL, "eof.hcl:3: syntax error: unexpected end of file"),
        ("eol.hcl", POOL + b"  count =\n}\n", "eol.hcl:3: syntax error: unexpected end of line"),
        ("char.hcl", POOL + b'  flavor = "f" @\n}\n', "char.hcl:3: syntax error: unexpected '@'"),
        ("two.hcl", POOL + b"  count = 1 2\n}\n", "two.hcl:3: syntax error: unexpected '2'"),
        (
            "yaml.yml",
            b"nodepools: [a\n",
            "yaml.yml:2: syntax error: expected ',' or ']', but got '<stream end>'",
        ),
        (
            "label.hcl",
            b'nodepool "${var.x}" {\n  pool = "p"\n}\n',
            "label.hcl:1: block labels must be plain strings",
        ),
    ],
)
def test_hostile_files(tmp_path: Path, name: str, data: bytes, expected: str) -> None:
    (tmp_path / name).write_bytes(data)
    started = time.process_time()  # CPU, not wall: a busy machine must not fail the test
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert str(info.value).splitlines() == [expected]
    assert time.process_time() - started < 2


def test_syntax_errors_do_not_echo_string_contents(tmp_path: Path) -> None:
    (tmp_path / "main.hcl").write_bytes(b'provider "modelarts" {\n  sk = "S3cr3tV4lue\n}\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert str(info.value) == "main.hcl:2: syntax error: unexpected end of file"


def test_a_broken_file_does_not_hide_problems_in_the_others(tmp_path: Path) -> None:
    (tmp_path / "a.hcl").write_bytes(b"\xff")
    (tmp_path / "b.yaml").write_text("nodepools:\n  b: {pool: p, count: x}\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert str(info.value).splitlines() == [
        "a.hcl:1: file is not UTF-8 text (binary file?)",
        'b.yaml:2: nodepool.b: count: expected an integer, got string "x"',
    ]
