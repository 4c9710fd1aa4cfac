"""The parse cache changes speed only: configurations and error positions are identical."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.config import load_config
from reconciler.config.syntax import cache as cache_module
from reconciler.config.syntax.cache import ParseCache, code_digest
from reconciler.config.syntax.nodes import SourceError
from reconciler.config.syntax.sources import parse_file
from reconciler.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [
    ROOT / "examples/quickstart/hcl",
    ROOT / "examples/quickstart/yaml",
    ROOT / "tests/configs/twin_hcl",
    ROOT / "tests/configs/twin_yaml",
    ROOT / "examples/fleet/hcl",  # expressions of every kind, for_each, locals
    ROOT / "examples/fleet/yaml",
]


def generated(directory: Path, blocks: int = 300) -> Path:
    directory.mkdir()
    text = "".join(
        f'nodepool "np{i}" {{\n'
        f'  pool   = "pool-{i % 7}"\n'
        f'  flavor = "f"\n'
        f"  count  = {i % 5}\n"
        f'  labels = {{ team = "ml", n = "${{var.tier}}-{i}" }}\n'
        f'  taints {{\n    key = "k{i}"\n    effect = "NoSchedule"\n  }}\n'
        f'  network {{ security_groups = ["a", "b"] }}\n'
        "}\n"
        for i in range(blocks)
    )
    (directory / "main.hcl").write_text('variable "tier" {\n  default = "gpu"\n}\n' + text)
    return directory


def load_four_ways(directory: Path, monkeypatch: pytest.MonkeyPatch, cache: Path) -> list[object]:
    """Plain, cold cache (fills it), warm cache (reads it, keeps what it evaluated), warm with
    evaluated entries (reads those): each result or error text."""
    results: list[object] = []
    for setting in ("off", str(cache), str(cache), str(cache)):
        monkeypatch.setenv("NP_CACHE_DIR", setting)
        try:
            results.append(load_config(directory, environ={}))
        except ConfigError as exc:
            results.append(str(exc))
    return results


@pytest.mark.parametrize("directory", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_examples_load_identically_with_and_without_the_cache(
    directory: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plain, cold, warm, evaluated = load_four_ways(directory, monkeypatch, tmp_path / "cache")
    assert plain == cold == warm == evaluated
    assert any((tmp_path / "cache").iterdir())


def test_a_large_generated_config_loads_identically(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    directory = generated(tmp_path / "big")
    plain, cold, warm, evaluated = load_four_ways(directory, monkeypatch, tmp_path / "cache")
    assert plain == cold == warm == evaluated


def test_error_positions_are_identical_from_the_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    directory = generated(tmp_path / "bad", blocks=20)
    broken = (directory / "main.hcl").read_text().replace("count  = 3", 'count  = "3"')
    broken = broken.replace(
        'effect = "NoSchedule"\n  }\n  network', 'effect = "Never"\n  }\n  network'
    )
    (directory / "main.hcl").write_text(broken + 'nodepool "np1" {\n  pool = "p"\n}\n')
    plain, cold, warm, evaluated = load_four_ways(directory, monkeypatch, tmp_path / "cache")
    assert isinstance(plain, str) and "main.hcl:" in plain
    assert plain == cold == warm == evaluated


SOURCES = sorted(
    path
    for root in (*EXAMPLES, ROOT / "tests/hostile", ROOT / "examples")
    for path in root.rglob("*")
    if path.suffix in (".hcl", ".yaml", ".yml")
)


def test_every_tree_comes_back_from_the_cache_node_for_node_and_line_for_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Literals are stored bare when written on their key's line: those on other lines (a
    list over several lines, a value below its key) must keep their own line."""
    monkeypatch.setenv("NP_CACHE_DIR", "off")
    multiline = tmp_path / "multiline.hcl"
    multiline.write_text(
        'nodepool "a" {\n  pool = "p"\n  network {\n    security_groups = [\n'
        '      "a",\n      "b",\n    ]\n  }\n}\n'
    )
    below = tmp_path / "below.yaml"
    below.write_text("nodepools:\n  a:\n    pool:\n      p\n")
    cache = ParseCache(tmp_path / "cache")
    compared = 0
    for path in [*SOURCES, multiline, below]:
        try:
            tree = parse_file(path, path.name)
        except SourceError:
            continue
        text = path.read_text(encoding="utf-8")
        language = "yaml" if path.suffix in (".yaml", ".yml") else "hcl"
        cache.put(text, language, tree)
        if tree is not None:
            assert cache.get(text, language, path.name) == tree, path
            compared += 1
    assert compared > 50
    assert "line=5" in repr(cache.get(multiline.read_text(), "hcl", "m.hcl"))  # "a"
    assert "line=4" in repr(cache.get(below.read_text(), "yaml", "b.yaml"))  # p, below pool


def test_an_edited_file_misses_and_a_corrupt_entry_is_a_miss(tmp_path: Path) -> None:
    cache = ParseCache(tmp_path / "cache")
    source = tmp_path / "main.hcl"
    source.write_text('nodepool "a" {\n  pool = "p"\n}\n')
    tree = parse_file(source, "main.hcl")
    text = source.read_text()
    cache.put(text, "hcl", tree)
    assert cache.get(text, "hcl", "main.hcl") == tree
    assert cache.get(text.replace('"p"', '"q"'), "hcl", "main.hcl") is None
    assert cache.get(text, "yaml", "main.hcl") is None
    for entry in (tmp_path / "cache").iterdir():
        entry.write_text('["B", [["x"]]')
    assert cache.get(text, "hcl", "main.hcl") is None


def test_an_entry_nested_too_deeply_or_too_large_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cache entries are read as hostile files: bounded, and never a traceback."""
    cache = ParseCache(tmp_path / "cache")
    source = tmp_path / "main.hcl"
    source.write_text('nodepool "a" {\n  pool = "p"\n}\n')
    text = source.read_text()
    cache.put(text, "hcl", parse_file(source, "main.hcl"))
    (entry,) = (tmp_path / "cache").iterdir()
    key = entry.stem
    entry.write_text(f'["{key}", ' + '["q", [' * 100_000 + "]]" * 100_000 + "]")
    assert cache.get(text, "hcl", "main.hcl") is None
    entry.write_text(f'["{key}", ["B", [], 1]]' + " " * 2000)
    monkeypatch.setattr(cache_module, "MAX_ENTRY_BYTES", 1000)
    assert cache.get(text, "hcl", "main.hcl") is None


def test_an_unwritable_cache_is_silently_skipped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("NP_CACHE_DIR", str(blocker / "cache"))
    shutil.copytree(EXAMPLES[0], tmp_path / "cfg")
    assert load_config(tmp_path / "cfg", environ={}).nodepools


def test_the_key_changes_with_the_parsers_code_not_only_with_np_s_version(tmp_path: Path) -> None:
    """A parser fixed without a new version number must not be shown a tree an older parser
    cached: the key holds a digest of the parsing package's code."""
    package = ROOT / "reconciler/config/syntax"
    copy = tmp_path / "syntax"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert code_digest(copy) == code_digest(package)
    parser = copy / "hcl_parser.py"
    parser.write_text(parser.read_text() + "# fixed\n")
    assert code_digest(copy) != code_digest(package)
