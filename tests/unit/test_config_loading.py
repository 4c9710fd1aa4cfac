"""Happy paths: what a valid configuration directory turns into, in either language."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.config import config_json_schema, load_config
from reconciler.config.configuration import Lifecycle, Provider
from reconciler.errors import ConfigError, Pos

CONFIGS = Path(__file__).parents[1] / "configs"

TRAIN_FIELDS = {
    "flavor": "modelarts.vm.gpu.t4u8",
    "count": 4,
    "max_count": 8,
    "azs": [{"az": "cn-north-4a", "count": 4}],
    "labels": {"team": "ml", "tier": "prod-gpu", "app.kubernetes.io/name": "trainer"},
    "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
    "tags": {"owner": "ml-platform"},
    "extend_params": {"dockerBaseSize": "0"},
    "network": {"vpc": "vpc-1", "subnet": "subnet-1", "security_groups": ["sg-1", "sg-2"]},
    "creating_step": {"step": 1, "type": "rack"},
    "os": {
        "name": "EulerOS 2.10",
        "image_id": "img-1",
        "image_type": "private",
        "auto_match": False,
    },
}


def test_hcl_twin_loads_to_the_expected_node_pools() -> None:
    config = load_config(CONFIGS / "twin_hcl", environ={})
    assert config.files == ("main.hcl",)
    assert config.provider == Provider(
        "cn-north-4",
        "0a1b2c3d",
        "sim://world.json",
        Pos("main.hcl", 5),  # where endpoint is written
    )
    infer, train = config.nodepools
    assert (train.address, train.pool, train.name) == ("nodepool.train", "pool-prod", "train")
    assert train.fields == TRAIN_FIELDS
    assert train.lifecycle == Lifecycle(("count",), True)
    assert train.pos == Pos("main.hcl", 19)
    assert train.field_pos["count"] == Pos("main.hcl", 23)
    assert train.field_pos["network"] == Pos("main.hcl", 30)
    assert (infer.address, infer.name) == ("nodepool.infer", "infer")
    assert infer.fields == {
        "flavor": "modelarts.vm.cpu.8u",
        "count": 0,
        "taints": [
            {"key": "spot", "effect": "PreferNoSchedule"},
            {"key": "role", "value": "inference", "effect": "NoExecute"},
        ],
    }
    assert infer.lifecycle == Lifecycle()
    assert infer.field_pos["taints"] == Pos("main.hcl", 45)


def test_hcl_and_yaml_twins_are_equal_except_positions() -> None:
    hcl = load_config(CONFIGS / "twin_hcl", environ={})
    yaml = load_config(CONFIGS / "twin_yaml", environ={})
    strip = [(p.address, p.pool, p.name, p.fields, p.lifecycle) for p in hcl.nodepools]
    assert strip == [(p.address, p.pool, p.name, p.fields, p.lifecycle) for p in yaml.nodepools]
    assert [set(p.field_pos) for p in hcl.nodepools] == [set(p.field_pos) for p in yaml.nodepools]
    assert yaml.provider == Provider(
        "cn-north-4", "0a1b2c3d", "sim://world.json", Pos("main.yaml", 2)
    )
    assert yaml.nodepools[1].field_pos["count"] == Pos("main.yaml", 13)


def test_twins_follow_variables_the_same_way() -> None:
    for twin in ("twin_hcl", "twin_yaml"):
        config = load_config(
            CONFIGS / twin, environ={"NP_VAR_tier": "dev"}, var_args=["train_nodes=2"]
        )
        train = config.nodepools[1]
        assert (train.fields["count"], train.fields["labels"]["tier"]) == (2, "dev-gpu")


BLOCK_FORM = """\
nodepool "a" {
  pool = "p"
  network {
    vpc             = "v"
    security_groups = ["s"]
  }
  creating_step {
    step = 2
    type = "hyperinstance"
  }
  os {
    auto_match = true
  }
  labels {
    team = "ml"
  }
  tags {
    owner = "me"
  }
  extend_params {
    runtime = "docker"
  }
  azs {
    az    = "z1"
    count = 2
  }
  azs {
    az    = "z2"
    count = 0
  }
  taints {
    key    = "k"
    effect = "NoSchedule"
  }
  lifecycle {
    ignore_changes = ["labels"]
  }
}
"""

ATTRIBUTE_FORM = """\
nodepool "a" {
  pool          = "p"
  network       = { vpc = "v", security_groups = ["s"] }
  creating_step = { step = 2, type = "hyperinstance" }
  os            = { auto_match = true }
  labels        = { team = "ml" }
  tags          = { "owner" : "me" }
  extend_params = { runtime = "docker" }
  azs           = [{ az = "z1", count = 2 }, { az = "z2", count = 0 }]
  taints        = [{ key = "k", effect = "NoSchedule" }]
  lifecycle     = { ignore_changes = ["labels"] }
}
"""


def test_block_and_attribute_forms_are_equal(tmp_path: Path) -> None:
    (tmp_path / "block").mkdir()
    (tmp_path / "attr").mkdir()
    (tmp_path / "block" / "main.hcl").write_text(BLOCK_FORM)
    (tmp_path / "attr" / "main.hcl").write_text(ATTRIBUTE_FORM)
    block = load_config(tmp_path / "block", environ={}).nodepools[0]
    attr = load_config(tmp_path / "attr", environ={}).nodepools[0]
    assert block.fields == attr.fields
    assert block.lifecycle == attr.lifecycle == Lifecycle(("labels",), False)
    assert block.fields["azs"] == [{"az": "z1", "count": 2}, {"az": "z2", "count": 0}]
    assert block.field_pos["azs"] == Pos("main.hcl", 23)


def test_mixed_languages_form_one_configuration_sorted_by_address(tmp_path: Path) -> None:
    (tmp_path / "b.hcl").write_text(
        'variable "p" {\n  default = "pool-x"\n}\nnodepool "zz" {\n  pool = var.p\n}\n'
    )
    (tmp_path / "a.yml").write_text("nodepools:\n  mm: {pool: '${var.p}', name: other}\n")
    (tmp_path / "c.yaml").write_text("# only a comment\n")
    (tmp_path / "notes.txt").write_text("not configuration")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.hcl").write_text("this is not read")
    config = load_config(tmp_path, environ={})
    assert config.files == ("a.yml", "b.hcl", "c.yaml")
    assert [(p.address, p.pool, p.name, p.fields) for p in config.nodepools] == [
        ("nodepool.mm", "pool-x", "other", {}),
        ("nodepool.zz", "pool-x", "zz", {}),
    ]
    assert config.provider == Provider()


def test_hcl_literal_forms(tmp_path: Path) -> None:
    (tmp_path / "main.hcl").write_text(
        "# comment\n"
        "nodepool train { // unquoted label\n"
        '  pool = ("p") /* parenthesized */\n'
        "  count = -0\n"
        "  flavor = <<-EOT\n"
        "    a\n"
        "      b $${x}\n"
        "    EOT\n"
        '  extend_params = { in = "1", "for" : "2", 3 = "4", e = "\\\\ \\" %%{x}" }\n'
        "}\n"
    )
    pool = load_config(tmp_path, environ={}).nodepools[0]
    assert (pool.address, pool.pool) == ("nodepool.train", "p")
    assert pool.fields == {
        "count": 0,
        "flavor": "a\n  b ${x}\n",
        "extend_params": {"in": "1", "for": "2", "3": "4", "e": '\\ " %{x}'},
    }


def test_max_count_is_not_defaulted_here(tmp_path: Path) -> None:
    (tmp_path / "main.yaml").write_text("nodepools:\n  a: {pool: p, count: 3}\n")
    assert load_config(tmp_path, environ={}).nodepools[0].fields == {"count": 3}


def test_environ_defaults_to_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NP_VAR_p", "from-env")
    (tmp_path / "main.hcl").write_text('variable "p" {}\nnodepool "a" {\n  pool = var.p\n}\n')
    assert load_config(tmp_path).nodepools[0].pool == "from-env"


def test_no_configuration_files(tmp_path: Path) -> None:
    (tmp_path / "readme.md").write_text("x")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert str(info.value) == f"no configuration files (*.hcl, *.yaml, *.yml) found in {tmp_path}"
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope", environ={})
    assert str(info.value) == f"configuration directory {tmp_path / 'nope'} does not exist"


def test_json_schema_comes_from_the_validating_models() -> None:
    schema = config_json_schema()
    json.dumps(schema)
    assert set(schema["properties"]) == {
        "provider",
        "providers",
        "backend",
        "variables",
        "locals",
        "nodepools",
        "moved",
    }
    assert schema["additionalProperties"] is False
    pool = schema["$defs"]["NodePoolSpec"]
    assert pool["required"] == ["pool"]
    assert pool["additionalProperties"] is False
    assert set(pool["properties"]) == {
        "for_each",
        "provider",
        "pool",
        "name",
        *TRAIN_FIELDS,
        "lifecycle",
    }
    count = pool["properties"]["count"]
    assert count["anyOf"][0] == {"minimum": 0, "maximum": 2147483647, "type": "integer"}
    assert count["anyOf"][1]["pattern"] == "^\\$\\{[\\s\\S]*\\}$"
    assert schema["$defs"]["Taint"]["properties"]["effect"]["anyOf"][0]["enum"] == [
        "NoSchedule",
        "PreferNoSchedule",
        "NoExecute",
    ]
    assert "null" not in json.dumps(schema)
