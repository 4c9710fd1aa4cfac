"""moved blocks: what the configuration alone decides about renamed addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config import load_config
from reconciler.config.configuration import Moved
from reconciler.errors import ConfigError, Pos

BLOCKS = 'nodepool "train" {\n  pool = "p"\n}\nnodepool "infer" {\n  pool = "p"\n}\n'


def moved(from_: str, to: str) -> str:
    return f"moved {{\n  from = {from_}\n  to   = {to}\n}}\n"


def load(tmp_path: Path, files: dict[str, str]) -> tuple[Moved, ...]:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return load_config(tmp_path, environ={}).moved


def problems(tmp_path: Path, files: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, files)
    return str(info.value).splitlines()


def test_a_move_in_hcl(tmp_path: Path) -> None:
    files = {"main.hcl": BLOCKS, "moves.hcl": moved("nodepool.batch", "nodepool.train")}
    assert load(tmp_path, files) == (
        Moved("nodepool.batch", "nodepool.train", Pos("moves.hcl", 1)),
    )


def test_moves_in_yaml_and_from_an_instance(tmp_path: Path) -> None:
    files = {
        "main.hcl": BLOCKS,
        "moves.yaml": "moved:\n  - {from: nodepool.batch, to: nodepool.train}\n"
        "  - from: 'nodepool.gpu[\"a100\"]'\n    to: nodepool.infer\n",
    }
    assert load(tmp_path, files) == (
        Moved("nodepool.batch", "nodepool.train", Pos("moves.yaml", 2)),
        Moved('nodepool.gpu["a100"]', "nodepool.infer", Pos("moves.yaml", 3)),
    )


def test_hcl_accepts_quoted_addresses_and_writes_them_one_way(tmp_path: Path) -> None:
    files = {"main.hcl": BLOCKS + moved('"nodepool.gpu[\\"x\\"]"', '"nodepool.train"')}
    assert [(m.from_address, m.to_address) for m in load(tmp_path, files)] == [
        ('nodepool.gpu["x"]', "nodepool.train")
    ]


@pytest.mark.parametrize(
    ("moves", "expected"),
    [
        (
            moved("nodepool.batch", "nodepool.trian"),
            [
                "moves.hcl:1: moved: to: nodepool.trian is not declared in the configuration; "
                "did you mean nodepool.train?"
            ],
        ),
        (
            moved("nodepool.infer", "nodepool.train"),
            [
                "moves.hcl:1: moved: from: nodepool.infer is still declared: from names the old "
                "address, which no block may declare any more"
            ],
        ),
        (
            moved("nodepool.a", "nodepool.b") + moved("nodepool.b", "nodepool.train"),
            [
                "moves.hcl:1: moved: moved blocks chain nodepool.a -> nodepool.b -> "
                "nodepool.train; write from = nodepool.a  to = nodepool.train"
            ],
        ),
        (
            moved("nodepool.a", "nodepool.b") + moved("nodepool.b", "nodepool.a"),
            [
                "moves.hcl:1: moved: moved blocks form a cycle nodepool.a -> nodepool.b -> "
                "nodepool.a"
            ],
        ),
        (
            moved("nodepool.a", "nodepool.train") + moved("nodepool.a", "nodepool.infer"),
            ["moves.hcl:5: moved: nodepool.a is moved twice (first at moves.hcl:1)"],
        ),
        (
            moved("nodepool.a", "nodepool.train") + moved("nodepool.b", "nodepool.train"),
            ["moves.hcl:5: moved: two moved blocks move to nodepool.train (first at moves.hcl:1)"],
        ),
        (
            moved("nodepool.train", "nodepool.train"),
            ["moves.hcl:1: moved: from and to are the same address, nodepool.train"],
        ),
        (
            moved("local.x", "nodepool.train[0]"),
            [
                "moves.hcl:2: moved: from: expected a node pool address (nodepool.NAME or "
                'nodepool.NAME["KEY"])',
                "moves.hcl:3: moved: to: an instance key must be a quoted string: "
                'nodepool.NAME or nodepool.NAME["KEY"]',
            ],
        ),
        (
            "moved {\n  from = nodepool.a\n  too = nodepool.train\n}\n",
            [
                "moves.hcl:1: moved: to: required field is missing",
                "moves.hcl:3: moved: too: unknown field 'too'; did you mean to?",
            ],
        ),
        (
            'moved "x" {\n  from = nodepool.a\n  to = nodepool.train\n}\n',
            [
                "moves.hcl:1: a moved block needs no label: "
                "moved { from = nodepool.OLD  to = nodepool.NEW }"
            ],
        ),
    ],
)
def test_move_mistakes(tmp_path: Path, moves: str, expected: list[str]) -> None:
    found = problems(tmp_path, {"main.hcl": BLOCKS, "moves.hcl": moves})
    assert sorted(found) == sorted(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("moved: {from: nodepool.a}\n", "main.yaml:1: moved must be a list of {from, to} mappings"),
        ("moved: [nodepool.a]\n", "main.yaml:1: moved: expected a mapping with from and to"),
        (
            "moved: [{from: 'nodepool.a[x y]', to: nodepool.train}]\n",
            "main.yaml:1: moved: from: 'nodepool.a[x y]' is not a node pool address "
            '(nodepool.NAME or nodepool.NAME["KEY"])',
        ),
    ],
)
def test_yaml_move_mistakes(tmp_path: Path, text: str, expected: str) -> None:
    assert problems(tmp_path, {"main.hcl": BLOCKS, "main.yaml": text}) == [expected]
