"""np generate: configuration for the live node pools np does not manage yet, which then
plans no changes and is recorded by apply without a request."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from support import EVERY_FIELD, PROVIDER, Workspace

from reconciler.config import load_config
from reconciler.config.configuration import Configuration, Provider
from reconciler.generate import generate, unmanaged
from reconciler.live import LivePool, LiveWorld
from reconciler.model import wire_to_config
from reconciler.state.document import ResourceState, State

TRAIN = EVERY_FIELD
WORLD = {
    "pools": {
        "pool-prod": {
            "type": "Logical",
            "privileged": True,
            "nodepools": {
                "train": TRAIN,
                "infer": {"flavor": "modelarts.vm.cpu.8u", "count": 1, "maxCount": 1},
                "modelarts.vm.2u4g.dcc-Default": {
                    "flavor": "modelarts.vm.cpu.2u",
                    "count": 1,
                    "maxCount": 1,
                },
            },
        },
        "pool-dev": {
            "type": "Dedicate",
            "privileged": True,
            "nodepools": {"train": {"flavor": "modelarts.vm.gpu.t4u8", "count": 1, "maxCount": 1}},
        },
    }
}


def world(nodepools: dict[str, dict[str, dict[str, Any]]]) -> LiveWorld:
    return LiveWorld({pool: LivePool(pool, "Logical", specs) for pool, specs in nodepools.items()})


def config_of(*blocks: tuple[str, str, str]) -> Configuration:
    from reconciler.config.configuration import DesiredNodePool

    return Configuration(
        Provider(),
        tuple(DesiredNodePool(address, pool, name, {}) for address, pool, name in blocks),
    )


def state_of(*entries: tuple[str, str, str]) -> State:
    resources = {a: ResourceState(p, n, {}, {}, "2026-01-01T00:00:00Z") for a, p, n in entries}
    return State("lineage", 1, resources)


SMALL = {"flavor": "f", "count": 1, "maxCount": 1}


def test_labels_are_unique_valid_and_never_taken() -> None:
    live = world(
        {
            "a": {"train": SMALL, "infer": SMALL, "declared": SMALL, "x.y": SMALL},
            "b": {"train": SMALL, "kept": SMALL},
        }
    )
    config = config_of(("nodepool.infer_2", "other", "o"), ("nodepool.declared", "a", "declared"))
    state = state_of(('nodepool.infer["k"]', "zz", "infer"), ("nodepool.kept", "b", "kept"))
    found = unmanaged(live, config, state, ["a", "b"])
    assert [(g.label, g.pool, g.name) for g in found] == [
        ("infer_3", "a", "infer"),
        ("a_train", "a", "train"),
        ("x_y", "a", "x.y"),
        ("b_train", "b", "train"),
    ]


def test_a_name_another_pool_holds_is_qualified_even_when_that_one_is_managed() -> None:
    live = world({"a": {"train": SMALL}, "b": {"train": SMALL}})
    found = unmanaged(live, config_of(("nodepool.train", "a", "train")), state_of(), ["a", "b"])
    assert [(g.label, g.pool) for g in found] == [("b_train", "b")]


def test_only_the_named_pools() -> None:
    live = world({"a": {"one": SMALL}, "b": {"two": SMALL}})
    assert [g.label for g in unmanaged(live, config_of(), state_of(), ["b"])] == ["two"]


def test_what_the_configuration_cannot_express_is_left_out_and_named() -> None:
    spec = {
        **SMALL,
        "labels": {"ok": "v", "Bad Key": "v"},
        "tags": [{"key": "CCE-x", "value": "1"}, {"key": "t", "value": "2"}],
        "extendParams": {"a": "1", "n": 5},
        "nodePool": "unknown-to-np",
    }
    [found] = unmanaged(world({"p": {"np1": spec}}), config_of(), state_of(), ["p"])
    assert found.fields == {
        "flavor": "f",
        "count": 1,
        "max_count": 1,
        "labels": {"ok": "v"},
        "tags": {"t": "2"},
        "extend_params": {"a": "1"},
    }
    assert found.left_out == (
        'tags["CCE-x"]: reserved by the service',
        "labels[\"Bad Key\"]: label key 'Bad Key' must consist of letters, digits, '-', '_' "
        "or '.', starting and ending with a letter or digit",
        "extend_params.n: expected a string, got integer 5",
    )
    text = generate(world({"p": {"np1": spec}}), config_of(), state_of(), ["p"], "hcl")
    assert '  # not generated: tags["CCE-x"]: reserved by the service\n' in text


TRICKY = 'quote " back \\ dollar ${x} percent %{y} $${z} tab\t nl\n bell\x07 é 中'


@pytest.mark.parametrize("language", ["hcl", "yaml"])
def test_output_reads_back_as_exactly_what_is_live(tmp_path: Path, language: str) -> None:
    specs = {
        "train": TRAIN,
        "odd": {
            **SMALL,
            "labels": {"k": "010", "y": "yes", "n": "null", "o": "0o17"},
            "os": {"name": TRICKY},
            "extendParams": {"for": "in", "a.b/c": "true", "": "empty-key?"},
        },
    }
    live = world({"pool-prod": specs})
    text = generate(live, config_of(), state_of(), ["pool-prod"], language)
    (tmp_path / f"gen.{language}").write_text(text)
    config = load_config(tmp_path, environ={})
    found = {p.name: p.fields for p in config.nodepools}
    expected_train = wire_to_config(TRAIN)
    expected_train["tags"] = {"owner": "ml"}
    assert found["train"] == expected_train
    assert found["odd"]["labels"] == {"k": "010", "y": "yes", "n": "null", "o": "0o17"}
    assert found["odd"]["os"] == {"name": TRICKY}
    assert found["odd"]["extend_params"] == {"for": "in", "a.b/c": "true"}


# -- end to end ------------------------------------------------------------------------------


def requests(stderr: str) -> list[str]:
    return re.findall(r"^-> (GET|POST|PATCH|PUT|DELETE) ", stderr, re.MULTILINE)


@pytest.mark.parametrize(("language", "name"), [("hcl", "generated.hcl"), ("yaml", "gen.yaml")])
def test_generated_configuration_plans_no_changes_and_applies_without_a_request(
    ws: Workspace, language: str, name: str
) -> None:
    ws.world(WORLD)
    ws.write("main.hcl", PROVIDER + 'nodepool "infer" {\n  pool = "pool-prod"\n}\n')
    run = ws.np("generate", "--format", language)
    assert (run.code, run.stderr) == (0, "")
    ws.write(name, run.stdout)
    plan = ws.np("plan", "--detailed-exitcode")
    # no request, but apply records the adopted node pools: a change for -detailed-exitcode
    assert plan.code == 2, plan.stdout + plan.stderr
    assert "No changes." in plan.stdout
    before = ws.world()
    applied = ws.np("-v", "apply", "--auto-approve")
    assert applied.code == 0, applied.stderr
    assert set(requests(applied.stderr)) == {"GET"}
    assert ws.world()["pools"] == before["pools"]
    assert sorted(ws.state()["resources"]) == [
        "nodepool.infer",
        "nodepool.modelarts_vm_2u4g_dcc-Default",
        "nodepool.pool-dev_train",
        "nodepool.pool-prod_train",
    ]
    again = ws.np("generate")
    assert (again.code, again.stdout) == (0, "")
    assert again.stderr == (
        "Every live node pool is declared or in state already: nothing to generate.\n"
    )


def test_generate_for_named_pools_and_an_unknown_pool(ws: Workspace) -> None:
    ws.world(WORLD)
    ws.write("main.hcl", PROVIDER)
    run = ws.np("generate", "--pool", "pool-dev")
    assert run.code == 0
    assert run.stdout == (
        'nodepool "train" {\n'
        '  pool      = "pool-dev"\n'
        '  name      = "train"\n'  # always: renaming the label then moves the address
        '  flavor    = "modelarts.vm.gpu.t4u8"\n'
        "  count     = 1\n"
        "  max_count = 1\n"
        "}\n"
    )
    run = ws.np("generate", "--pool", "pool-nope")
    assert (run.code, run.stdout) == (1, "")
    assert run.stderr == 'Error: resource pool "pool-nope" does not exist\n'
