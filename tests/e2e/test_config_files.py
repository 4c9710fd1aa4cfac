"""Which files np reads: configuration suffixes in any case, Terraform's rule for files that are
never configuration, and the variable files that load by themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import Workspace

from reconciler.config import load_config
from reconciler.errors import ConfigError

NODEPOOL = 'nodepool "{0}" {{\n  pool = "p"\n}}\n'
USES_N = 'variable "n" {\n  type = number\n  default = 1\n}\n' + (
    'nodepool "train" {\n  pool = "p"\n  count = var.n\n}\n'
)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize("name", ["gpu.YAML", "gpu.Yml", "gpu.HCL", "gpu.Hcl"])
def test_suffixes_are_read_in_any_case(tmp_path: Path, name: str) -> None:
    text = "nodepools: {gpu: {pool: p}}\n" if "y" in name.lower() else NODEPOOL.format("gpu")
    config = load_config(write(tmp_path, {name: text, "main.hcl": NODEPOOL.format("a")}))
    assert config.files == tuple(sorted([name, "main.hcl"]))
    assert [p.address for p in config.nodepools] == ["nodepool.a", "nodepool.gpu"]


NOT_CONFIGURATION = {
    ".pre-commit-config.yaml": "repos:\n  - repo: local\n",
    ".pre-commit-hooks.yaml": "- id: np-validate\n",
    ".gitlab-ci.yml": "stages: [plan]\nvariables: {A: b}\n",
    ".hidden.hcl": "this is { not hcl",
    "main.hcl~": "this is { not hcl",
    "#main.hcl#": "this is { not hcl",
    "notes.txt": "not configuration",
    "vars.auto.npvars": "n = 2\n",
}


def test_hidden_files_backups_and_var_files_are_never_configuration(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {**NOT_CONFIGURATION, "main.hcl": USES_N}), environ={})
    assert config.files == ("main.hcl",)
    assert config.var_files == ("vars.auto.npvars",)
    assert config.nodepools[0].fields == {"count": 2}


def test_a_directory_of_only_hidden_files_has_no_configuration(tmp_path: Path) -> None:
    write(tmp_path, {".np.hcl": NODEPOOL.format("a")})
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert str(info.value) == f"no configuration files (*.hcl, *.yaml, *.yml) found in {tmp_path}"


def test_the_pre_commit_hook_works_at_a_repository_root(ws: Workspace) -> None:
    """Every repository that uses the hook has a .pre-commit-config.yaml at its root."""
    write(ws.root, {k: v for k, v in NOT_CONFIGURATION.items() if "npvars" not in k})
    ws.write("main.hcl", NODEPOOL.format("train"))
    run = ws.np("validate")
    assert (run.code, run.stderr) == (0, "")
    assert run.stdout == "Success! The configuration is valid (1 node pool in 1 file).\n"


def test_auto_var_files_apply_in_order_between_environment_and_var_file(tmp_path: Path) -> None:
    root = tmp_path / "config"
    root.mkdir()
    write(root, {"main.hcl": USES_N})

    def count(**options: object) -> object:
        return load_config(root, **options).nodepools[0].fields["count"]  # type: ignore[arg-type]

    assert count(environ={"NP_VAR_n": "2"}) == 2
    write(root, {"np.npvars": "n = 3\n"})
    assert count(environ={"NP_VAR_n": "2"}) == 3
    write(root, {"np.npvars.json": '{"n": 4}'})
    assert count(environ={}) == 4
    write(root, {"b.auto.npvars.json": '{"n": 6}', "a.auto.npvars": "n = 5\n"})
    assert count(environ={}) == 6
    (tmp_path / "cli.json").write_text('{"n": 7}')
    assert count(environ={}, var_files=[tmp_path / "cli.json"]) == 7
    assert count(environ={}, var_files=[tmp_path / "cli.json"], var_args=["n=8"]) == 8
    config = load_config(root, environ={})
    assert config.var_files == (
        "np.npvars",
        "np.npvars.json",
        "a.auto.npvars",
        "b.auto.npvars.json",
    )


def test_an_undeclared_variable_in_a_file_is_a_warning(ws: Workspace, tmp_path: Path) -> None:
    ws.write("main.hcl", USES_N)
    ws.write("np.npvars", "n = 2\nzones = 3\nnn = 4\n")
    config = load_config(ws.root, environ={})
    assert config.nodepools[0].fields == {"count": 2}
    assert tuple(str(w) for w in config.warnings) == (
        "np.npvars:2: variable zones is not declared, so this value is ignored",
        "np.npvars:3: variable nn is not declared, so this value is ignored; did you mean n?",
    )
    run = ws.np("validate")
    assert run.code == 0
    assert run.stderr.splitlines() == [f"Warning: {line}" for line in config.warnings]


def test_an_undeclared_variable_on_the_command_line_is_an_error(ws: Workspace) -> None:
    ws.write("main.hcl", USES_N)
    run = ws.np("validate", "--var", "nn=4")
    assert (run.code, run.stdout) == (1, "")
    assert (
        run.stderr == "Error: variable.nn: --var nn: variable nn is not declared; did you mean n?\n"
    )


def test_spaces_around_the_equals_sign_of_var_are_trimmed(ws: Workspace) -> None:
    ws.write("main.hcl", USES_N)
    assert load_config(ws.root, environ={}, var_args=["n = 5"]).nodepools[0].fields == {"count": 5}
    assert ws.np("validate", "--var", " n =5 ").code == 0


def test_a_broken_auto_var_file_is_located_by_its_name(tmp_path: Path) -> None:
    write(tmp_path, {"main.hcl": USES_N, "x.auto.npvars": 'n = "two"\n'})
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert str(info.value) == "x.auto.npvars:1: variable.n: expected a number, got a string"


def test_hidden_var_files_do_not_load(tmp_path: Path) -> None:
    write(tmp_path, {"main.hcl": USES_N, ".np.npvars": "n = 9\n", "#np.npvars#": "n = 9\n"})
    config = load_config(tmp_path, environ={})
    assert (config.var_files, config.nodepools[0].fields) == ((), {"count": 1})


def test_a_variable_file_named_like_configuration_says_how_to_name_it(tmp_path: Path) -> None:
    write(tmp_path, {"main.hcl": USES_N, "v.hcl": "n = 5\nm = 6\n"})
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert str(info.value) == (
        "v.hcl:1: unexpected attribute 'n' at top level; expected blocks provider, backend, "
        "variable, locals, nodepool or moved; a file of name = value lines is a variable file: "
        "name it np.npvars or NAME.auto.npvars, or pass it with --var-file"
    )
