"""Evaluated entries: a literal block's node pool is kept for the next run of the same file.

They change speed only. Every configuration loads the same with them as without them; the
provider a block names is looked up again in every run; an entry made by other code, or
damaged, is never used; np validate never uses them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.config import load_config
from reconciler.config import loader as loader_module
from reconciler.config.blocks.nodepools import NodePoolBuilder
from reconciler.config.syntax.sources import Reuse
from reconciler.errors import ConfigError

PROVIDERS = """
provider "modelarts" {
  endpoint = "sim://world.json"
}

provider "modelarts" {
  alias    = "hk"
  region   = "ap-southeast-1"
  endpoint = "sim://world-hk.json"
}

variable "big" {
  default = 7
}
"""


def literal_block(i: int) -> str:
    provider = "  provider = modelarts.hk\n" if i % 3 == 0 else ""
    name = f'  name   = "np-{i}"\n' if i % 2 else ""
    lifecycle = (
        '  lifecycle {\n    ignore_changes  = [labels["team"], count]\n'
        "    prevent_destroy = true\n  }\n"
        if i % 4 == 0
        else ""
    )
    return (
        f'nodepool "np{i}" {{\n{provider}{name}'
        f'  pool   = "pool-{i % 5}"\n  flavor = "f"\n  count  = {i % 6}\n  max_count = 9\n'
        f'  labels = {{ team = "ml", n = "{i}" }}\n  tags = {{ owner = "me" }}\n'
        f'  azs    = [{{ az = "cn-north-4a", count = {i % 6} }}]\n'
        f'  taints {{\n    key    = "k{i}"\n    effect = "NoSchedule"\n  }}\n'
        '  network { security_groups = ["a", "b"] }\n'
        f"{lifecycle}}}\n"
    )


EXPRESSIONS = """
nodepool "computed" {
  pool   = "pool-x"
  flavor = "f"
  count  = var.big
}

nodepool "each" {
  for_each = toset(["a", "b"])
  name     = "each-${each.key}"
  pool     = "pool-y"
  flavor   = "f"
  count    = 1
}
"""


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NP_CACHE_DIR", str(tmp_path / "cache"))
    directory = tmp_path / "fleet"
    directory.mkdir()
    (directory / "main.hcl").write_text(PROVIDERS)
    blocks = "".join(literal_block(i) for i in range(40))
    (directory / "pools.hcl").write_text(blocks + EXPRESSIONS)
    return directory


def reused(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The addresses the next loads build from records instead of evaluating."""
    seen: list[str] = []
    original = NodePoolBuilder.reuse

    def spy(self: NodePoolBuilder, decl: object, provider: object) -> object:
        seen.append(decl.label)  # type: ignore[attr-defined]
        return original(self, decl, provider)  # type: ignore[arg-type]

    monkeypatch.setattr(NodePoolBuilder, "reuse", spy)
    return seen


def test_literal_blocks_are_reused_and_load_exactly_as_evaluated(
    fleet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NP_CACHE_DIR", "off")
    plain = load_config(fleet, environ={})
    monkeypatch.setenv("NP_CACHE_DIR", str(fleet.parent / "cache"))
    seen = reused(monkeypatch)
    runs = [load_config(fleet, environ={}) for _ in range(3)]  # cold (keeps them), reused twice
    assert runs == [plain] * 3
    assert sorted(seen) == sorted(f"np{i}" for i in range(40) for _ in range(2))
    hk = next(pool for pool in runs[2].nodepools if pool.address == "nodepool.np0")
    assert hk.provider == "modelarts.hk"
    assert hk.lifecycle.ignore_keys == (("labels", "team"),)
    assert "computed" not in seen and "each" not in seen  # expressions: evaluated every run


def test_a_changed_provider_is_looked_up_again(
    fleet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(2):
        load_config(fleet, environ={})
    seen = reused(monkeypatch)
    (fleet / "main.hcl").write_text(PROVIDERS.replace('alias    = "hk"', 'alias    = "sg"'))
    with pytest.raises(ConfigError) as reused_error:
        load_config(fleet, environ={})
    assert seen  # pools.hcl did not change: its blocks came from records
    monkeypatch.setenv("NP_CACHE_DIR", "off")
    with pytest.raises(ConfigError) as plain_error:
        load_config(fleet, environ={})
    assert "modelarts.hk" in str(plain_error.value)
    assert str(reused_error.value) == str(plain_error.value)


def evaluated_entry(fleet: Path) -> Path:
    entries = [
        path
        for path in (fleet.parent / "cache").iterdir()
        if len(json.loads(path.read_text())) == 3
    ]
    assert len(entries) == 1  # pools.hcl (main.hcl holds no node pool)
    return entries[0]


FORGERIES = {
    "not the fields": lambda record: record.__setitem__(2, "not the fields"),
    "a count the schema refuses": lambda record: record[2].__setitem__("count", "many"),
    "max_count below count": lambda record: record[2].__setitem__("count", 20),
    "a field np does not know": lambda record: record[2].__setitem__("spec", {}),
    "the name as a field": lambda record: record[2].__setitem__("name", "other"),
    "a name that is not a path segment": lambda record: record.__setitem__(1, ".."),
    "an unknown field ignored": lambda record: record.__setitem__(4, ["spec"]),
    "a key of a field that has none": lambda record: record.__setitem__(6, [["count", "x"]]),
    "a line that is not a number": lambda record: record[3].__setitem__("pool", "1"),
}


@pytest.mark.parametrize("forgery", FORGERIES, ids=list(FORGERIES))
def test_a_damaged_or_forged_entry_is_a_miss(
    fleet: Path, monkeypatch: pytest.MonkeyPatch, forgery: str
) -> None:
    """A record is used only if the schema accepts what it says, so a forged cache can neither
    crash the planner nor hand it a value validation refuses."""
    expected = load_config(fleet, environ={})
    load_config(fleet, environ={})
    entry = evaluated_entry(fleet)
    stored, data, records = json.loads(entry.read_text())
    FORGERIES[forgery](records["0"])
    entry.write_text(json.dumps([stored, data, records]))
    seen = reused(monkeypatch)
    assert load_config(fleet, environ={}) == expected
    assert not seen


def test_another_code_s_entry_is_a_miss(fleet: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = load_config(fleet, environ={})
    load_config(fleet, environ={})
    seen = reused(monkeypatch)
    other = Reuse("other code", loader_module._reuse().accept)
    monkeypatch.setattr(loader_module, "_reuse", lambda: other)
    assert load_config(fleet, environ={}) == expected  # and it keeps its own entry
    assert not seen
    assert load_config(fleet, environ={}) == expected
    assert len(seen) == 40


def test_np_validate_never_reads_them(fleet: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(2):
        load_config(fleet, environ={})
    seen = reused(monkeypatch)
    monkeypatch.setenv("NP_CACHE_DIR", "off")
    plain = load_config(fleet, environ={}, new_names=True)
    monkeypatch.setenv("NP_CACHE_DIR", str(fleet.parent / "cache"))
    assert load_config(fleet, environ={}, new_names=True) == plain
    assert not seen
