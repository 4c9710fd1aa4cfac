"""Large and YAML-parser-specific inputs: no file-size limit below 64 MiB refuses a real
configuration, and libyaml and PyYAML's own parser give identical results."""

from __future__ import annotations

from pathlib import Path

import pytest
from large_configs import hcl_block, yaml_block

from reconciler.config import load_config
from reconciler.config.syntax import yaml_loader
from reconciler.config.syntax.nodes import SourceError

CORPUS = Path(__file__).parents[1] / "hostile"
CONFIGS = Path(__file__).parents[1] / "configs"


@pytest.mark.parametrize("language", ["hcl", "yaml"])
def test_a_5000_node_pool_file_loads(
    tmp_path: Path, language: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NP_CACHE_DIR", "off")
    if language == "hcl":
        text = "".join(hcl_block(i) for i in range(5000))
    else:
        text = "nodepools:\n" + "".join(yaml_block(i) for i in range(5000))
    (tmp_path / f"main.{language}").write_text(text)
    assert len(text) > 2_000_000  # twice the old 1 MiB limit
    config = load_config(tmp_path, environ={})
    assert len(config.nodepools) == 5000
    np4321 = next(p for p in config.nodepools if p.address == "nodepool.np4321")
    assert np4321.pool == "pool-21"
    assert np4321.fields["labels"]["tier"] == "gpu-4321"
    assert np4321.fields["network"]["security_groups"] == ["sg-1", "sg-2"]


def parse_both(text: str, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    results: list[object] = []
    for parser in (yaml_loader._C_PARSER, None):
        monkeypatch.setattr(yaml_loader, "_C_PARSER", parser)
        try:
            results.append(yaml_loader.parse_yaml(text, "f.yaml"))
        except SourceError as exc:
            results.append((exc.message, exc.line))
    return results


YAML_FILES = sorted(
    [*CORPUS.glob("*.yaml"), *CORPUS.glob("*.yml"), *CONFIGS.glob("*/*.yaml")],
    key=lambda p: p.name,
)


@pytest.mark.skipif(yaml_loader._C_PARSER is None, reason="PyYAML without libyaml")
@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name)
def test_libyaml_and_pyyaml_read_every_file_alike(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = path.read_bytes().decode("utf-8", errors="replace").replace("\x00", "")
    with_c, without = parse_both(text, monkeypatch)
    assert with_c == without


@pytest.mark.skipif(yaml_loader._C_PARSER is None, reason="PyYAML without libyaml")
@pytest.mark.parametrize(
    "text",
    [
        "a: 'quoted'\nb: \"dq\"\nc: plain\nd: 010\ne: 0x1f\nf: .inf\ng: ~\nh: yes\ni: 1:20\n",
        "a: !!str 1\nb: ! 2\nc: !!int '3'\nd: !custom x\ne: !!set {a}\nf: !!omap [a: 1]\n",
        "? complex\n: value\nlist:\n  - - nested\n  - {k: v}\n",
        "a: |\n  literal\n  block\nb: >\n  folded\n  text\n",
        "---\na: 1\n...\n",
        "---\n",
        "",
        "# only a comment\n",
        "a: 1\n---\nb: 2\n",
        "{a: [1, 2}\n",
        "a:\n\t- x\n",
        "a: &x 1\n",
        "[x]: 1\n",
        "a: \x07\n",
    ],
)
def test_libyaml_and_pyyaml_agree_on_corner_cases(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_c, without = parse_both(text, monkeypatch)
    assert with_c == without
