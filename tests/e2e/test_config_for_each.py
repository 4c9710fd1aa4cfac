"""for_each on nodepool blocks: instances nodepool.NAME["KEY"], in HCL and YAML, and what a
user sees when one is added, removed or protected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support import PROVIDER, Workspace, pool_world

from reconciler.config import load_config
from reconciler.config.configuration import Configuration, Moved
from reconciler.errors import ConfigError, Pos

GPUS_HCL = """\
variable "gpus" {
  default = {
    a100 = { count = 4, zone = "cn-north-4a" }
    t4   = { count = 2, zone = "cn-north-4b" }
  }
}

nodepool "gpu" {
  for_each = var.gpus
  pool     = "pool-prod"
  name     = "gpu-${each.key}"
  flavor   = "modelarts.vm.gpu.${each.key}"
  count    = each.value.count
  azs      = [{ az = each.value.zone, count = each.value.count }]
  labels   = { gpu = each.key }
  lifecycle {
    prevent_destroy = each.key == "a100"
  }
}
"""

GPUS_YAML = """\
variables:
  gpus:
    default:
      a100: {count: 4, zone: cn-north-4a}
      t4: {count: 2, zone: cn-north-4b}
nodepools:
  gpu:
    for_each: ${var.gpus}
    pool: pool-prod
    name: gpu-${each.key}
    flavor: modelarts.vm.gpu.${each.key}
    count: ${each.value.count}
    azs: ['${{ az = each.value.zone, count = each.value.count }}']
    labels: {gpu: '${each.key}'}
    lifecycle:
      prevent_destroy: ${each.key == "a100"}
"""


def load(tmp_path: Path, files: dict[str, str], **options: Any) -> Configuration:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return load_config(tmp_path, environ={}, **options)


def problems(tmp_path: Path, files: dict[str, str], **options: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, files, **options)
    return str(info.value).splitlines()


def summary(config: Configuration) -> list[tuple[str, str, dict[str, Any], bool]]:
    return [(p.address, p.name, p.fields, p.lifecycle.prevent_destroy) for p in config.nodepools]


EXPECTED = [
    (
        'nodepool.gpu["a100"]',
        "gpu-a100",
        {
            "flavor": "modelarts.vm.gpu.a100",
            "count": 4,
            "azs": [{"az": "cn-north-4a", "count": 4}],
            "labels": {"gpu": "a100"},
        },
        True,
    ),
    (
        'nodepool.gpu["t4"]',
        "gpu-t4",
        {
            "flavor": "modelarts.vm.gpu.t4",
            "count": 2,
            "azs": [{"az": "cn-north-4b", "count": 2}],
            "labels": {"gpu": "t4"},
        },
        False,
    ),
]


@pytest.mark.parametrize(("name", "text"), [("main.hcl", GPUS_HCL), ("main.yaml", GPUS_YAML)])
def test_a_map_makes_one_node_pool_per_key(tmp_path: Path, name: str, text: str) -> None:
    config = load(tmp_path, {name: text})
    assert summary(config) == EXPECTED
    assert config.nodepools[0].pos == Pos(name, 8 if name == "main.hcl" else 7)


def test_a_set_of_strings_and_an_empty_map(tmp_path: Path) -> None:
    text = (
        'nodepool "cpu" {\n  for_each = toset(["small", "large", "small"])\n  pool = "p"\n'
        '  name = "cpu-${each.value}"\n}\n'
        'nodepool "none" {\n  for_each = {}\n  pool = "p"\n}\n'
    )
    config = load(tmp_path, {"main.hcl": text})
    assert [(p.address, p.name) for p in config.nodepools] == [
        ('nodepool.cpu["large"]', "cpu-large"),
        ('nodepool.cpu["small"]', "cpu-small"),
    ]


def test_keys_are_quoted_in_addresses(tmp_path: Path) -> None:
    text = 'nodepool "x" {\n  for_each = { "a b" = 1, "q\\"q" = 2 }\n  pool = "p"\n'
    text += '  name = "x${each.value}"\n}\n'
    assert [p.address for p in load(tmp_path, {"main.hcl": text}).nodepools] == [
        'nodepool.x["a b"]',
        'nodepool.x["q\\"q"]',
    ]


@pytest.mark.parametrize(
    ("for_each", "expected"),
    [
        (
            '["a", "b"]',
            "main.hcl:2: nodepool.x: for_each needs a map or a set of strings, got a "
            "list; use toset(...)",
        ),
        (
            "toset([1, 2])",
            "main.hcl:2: nodepool.x: for_each needs a set of strings; convert: "
            "toset([for x in X : tostring(x)])",
        ),
        ('"a"', 'main.hcl:2: nodepool.x: for_each needs a map or a set of strings, got string "a"'),
        ("var.nope", "main.hcl:2: nodepool.x: for_each: undeclared variable var.nope"),
        (
            "each.key",
            "main.hcl:2: nodepool.x: for_each: each.key and each.value exist only in a "
            "nodepool block with for_each",
        ),
        (
            "toset([for i in range(10001) : tostring(i)])",
            "main.hcl:2: nodepool.x: for_each makes 10,001 instances; at most 10,000 per block",
        ),
    ],
)
def test_for_each_mistakes(tmp_path: Path, for_each: str, expected: str) -> None:
    text = f'nodepool "x" {{\n  for_each = {for_each}\n  pool = "p"\n}}\n'
    assert problems(tmp_path, {"main.hcl": text}) == [expected]


def test_instance_names_must_be_unique_naming_both_addresses(tmp_path: Path) -> None:
    text = 'nodepool "same" {\n  for_each = toset(["a", "b"])\n  pool = "p"\n}\n'
    assert problems(tmp_path, {"main.hcl": text}) == [
        'main.hcl:1: nodepool.same["b"]: manages the same node pool p/same as '
        'nodepool.same["a"] (main.hcl:1); give each instance its own name, e.g. '
        'name = "same-${each.key}"'
    ]


def test_a_problem_in_every_instance_is_reported_once(tmp_path: Path) -> None:
    text = 'nodepool "x" {\n  for_each = toset(["a", "b", "c"])\n  pool = "p"\n'
    text += '  name = "x-${each.key}"\n  count = each.key == "c" ? 1 : "two"\n}\n'
    assert problems(tmp_path, {"main.hcl": text}) == [
        'main.hcl:5: nodepool.x["a"]: count: expected an integer, got string "two" '
        "(and in 1 more instance)"
    ]


def test_each_outside_for_each(tmp_path: Path) -> None:
    text = 'nodepool "x" {\n  pool = "p"\n  name = each.key\n}\n'
    assert problems(tmp_path, {"main.hcl": text}) == [
        "main.hcl:3: nodepool.x: name: each.key and each.value exist only in a nodepool block "
        "with for_each"
    ]


def test_moved_blocks_into_and_between_instances(tmp_path: Path) -> None:
    moves = (
        "moved {\n  from = nodepool.old\n  to = nodepool.gpu\n}\n"
        'moved {\n  from = nodepool.single\n  to = nodepool.gpu2["t4"]\n}\n'
    )
    gpu2 = GPUS_HCL.replace('nodepool "gpu"', 'nodepool "gpu2"').replace("gpu-${", "gpu2-${")
    gpu2 = gpu2[gpu2.index('nodepool "gpu2"') :]
    config = load(tmp_path, {"main.hcl": GPUS_HCL, "gpu2.hcl": gpu2, "moves.hcl": moves})
    assert config.moved == (
        Moved('nodepool.old["a100"]', 'nodepool.gpu["a100"]', Pos("moves.hcl", 1)),
        Moved('nodepool.old["t4"]', 'nodepool.gpu["t4"]', Pos("moves.hcl", 1)),
        Moved("nodepool.single", 'nodepool.gpu2["t4"]', Pos("moves.hcl", 5)),
    )


def test_a_block_that_gains_for_each_moves_its_old_address(tmp_path: Path) -> None:
    moves = 'moved {\n  from = nodepool.gpu\n  to = nodepool.gpu["a100"]\n}\n'
    assert load(tmp_path, {"main.hcl": GPUS_HCL, "m.hcl": moves}).moved == (
        Moved("nodepool.gpu", 'nodepool.gpu["a100"]', Pos("m.hcl", 1)),
    )


@pytest.mark.parametrize(
    ("moves", "expected"),
    [
        (
            'moved {\n  from = nodepool.old["x"]\n  to = nodepool.gpu\n}\n',
            "m.hcl:1: moved: to: nodepool.gpu uses for_each: name one of its instances, e.g. "
            'nodepool.gpu["a100"]',
        ),
        (
            'moved {\n  from = nodepool.old\n  to = nodepool.gpu["h100"]\n}\n',
            'm.hcl:1: moved: to: nodepool.gpu["h100"] is not declared in the configuration; '
            'nodepool.gpu has keys "a100", "t4"',
        ),
        (
            'moved {\n  from = nodepool.gpu["t4"]\n  to = nodepool.other\n}\n',
            'm.hcl:1: moved: from: nodepool.gpu["t4"] is still declared: from names the old '
            "address, which no block may declare any more",
        ),
    ],
)
def test_move_mistakes_with_instances(tmp_path: Path, moves: str, expected: str) -> None:
    other = 'nodepool "other" {\n  pool = "p"\n}\n'
    found = problems(tmp_path, {"main.hcl": GPUS_HCL, "o.hcl": other, "m.hcl": moves})
    assert found == [expected]


def test_moves_involving_a_broken_for_each_stay_quiet(tmp_path: Path) -> None:
    broken = GPUS_HCL.replace("for_each = var.gpus", "for_each = var.gpuz")
    moves = 'moved {\n  from = nodepool.old\n  to = nodepool.gpu["a100"]\n}\n'
    assert problems(tmp_path, {"main.hcl": broken, "m.hcl": moves}) == [
        "main.hcl:9: nodepool.gpu: for_each: undeclared variable var.gpuz; did you mean var.gpus?"
    ]


# -- end to end: the plan a user sees --------------------------------------------------------


def fleet(ws: Workspace, keys: list[str], protect: str = "false") -> None:
    specs = ", ".join(f"{key} = {{ count = {ord(key) - 96} }}" for key in keys)
    ws.write(
        "main.hcl",
        PROVIDER
        + f"""
nodepool "gpu" {{
  for_each = {{ {specs} }}
  pool     = "pool-prod"
  name     = "gpu-${{each.key}}"
  flavor   = "f"
  count    = each.value.count
  lifecycle {{
    prevent_destroy = {protect}
  }}
}}
""",
    )


def actions(ws: Workspace) -> dict[str, list[str]]:
    doc = ws.np("plan", "--json").json()
    return {change["address"]: change["actions"] for change in doc["resource_changes"]}


def test_adding_and_removing_keys_creates_and_deletes_exactly_those(ws: Workspace) -> None:
    ws.world(pool_world({"keep": {"flavor": "f", "count": 1, "maxCount": 1}}))
    fleet(ws, ["a", "b"])
    assert actions(ws) == {'nodepool.gpu["a"]': ["create"], 'nodepool.gpu["b"]': ["create"]}
    assert ws.np("apply", "--auto-approve").code == 0
    assert sorted(ws.state()["resources"]) == ['nodepool.gpu["a"]', 'nodepool.gpu["b"]']
    assert ws.nodepool("pool-prod", "gpu-b")["count"] == 2

    fleet(ws, ["a", "b", "c"])
    assert actions(ws) == {
        'nodepool.gpu["a"]': ["no-op"],
        'nodepool.gpu["b"]': ["no-op"],
        'nodepool.gpu["c"]': ["create"],
    }
    assert ws.np("apply", "--auto-approve").code == 0

    fleet(ws, ["a", "c"])
    assert actions(ws) == {
        'nodepool.gpu["a"]': ["no-op"],
        'nodepool.gpu["b"]': ["delete"],
        'nodepool.gpu["c"]': ["no-op"],
    }
    assert ws.np("apply", "--auto-approve").code == 0
    live = set(ws.world()["pools"]["pool-prod"]["nodepools"])
    assert live == {"keep", "gpu-a", "gpu-c"}
    assert ws.np("plan", "--detailed-exitcode").code == 0


def test_prevent_destroy_protects_each_instance(ws: Workspace) -> None:
    ws.world(pool_world({"keep": {"flavor": "f", "count": 1, "maxCount": 1}}))
    fleet(ws, ["a", "b"], protect='each.key == "b"')
    assert ws.np("apply", "--auto-approve").code == 0
    fleet(ws, ["b"], protect='each.key == "b"')
    assert actions(ws) == {'nodepool.gpu["a"]': ["delete"], 'nodepool.gpu["b"]': ["no-op"]}
    fleet(ws, ["a"], protect='each.key == "b"')
    run = ws.np("plan")
    assert run.code == 1
    assert 'nodepool.gpu["b"]' in run.stderr and "prevent_destroy" in run.stderr
    assert 'nodepool.gpu["a"]' not in run.stderr


def test_target_takes_an_instance_address(ws: Workspace) -> None:
    ws.world(pool_world({"keep": {"flavor": "f", "count": 1, "maxCount": 1}}))
    fleet(ws, ["a", "b"])
    doc = ws.np("plan", "--json", "--target", 'nodepool.gpu["b"]').json()
    assert [c["address"] for c in doc["resource_changes"]] == ['nodepool.gpu["b"]']


def test_the_step_budget_grows_with_the_instances(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big fleet may need more steps than a configuration without instances is allowed."""
    from reconciler.config.evaluation import limits

    monkeypatch.setattr(limits, "MAX_STEPS", 3_000)
    text = 'nodepool "x" {\n  for_each = toset([for i in range(200) : "n${i}"])\n'
    text += '  pool = "p"\n  name = "x-${each.key}"\n  count = length(each.key) * 2 + 1\n}\n'
    assert len(load(tmp_path, {"main.hcl": text}).nodepools) == 200
    bomb = "locals {\n  l = [for i in range(5000) : i]\n}\n"
    assert problems(tmp_path, {"main.hcl": bomb}) == [
        "main.hcl:2: local.l: evaluation needs more than 3,000 steps; simplify the expressions"
    ]


def test_all_for_each_blocks_together_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.config.blocks import nodepools

    monkeypatch.setattr(nodepools, "MAX_ALL_INSTANCES", 5)
    block = 'nodepool "{0}" {{\n  for_each = toset(["a", "b", "c"])\n  pool = "p"\n'
    block += '  name = "{0}-${{each.key}}"\n}}\n'
    text = block.format("one") + block.format("two")
    assert problems(tmp_path, {"main.hcl": text}) == [
        "main.hcl:7: nodepool.two: for_each blocks make more than 5 node pools in all"
    ]
