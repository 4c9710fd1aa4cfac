"""np fmt [-check] [-diff] [-recursive] [FILE|DIR|-]...: the configuration directory's HCL files
rewritten in the canonical layout, never through a symbolic link, never changing what a file
means (generate's output and the examples parse the same before and after)."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import hcl2
import pytest
import yaml
from procs import NP, clean_env
from support import EVERY_FIELD, PROVIDER, Workspace

ROOT = Path(__file__).resolve().parents[2]
MESSY = 'nodepool "train" {\n    pool="pool-prod"\n  count   =   2   \n}\nvariable "x" {}\n'
TIDY = 'nodepool "train" {\n  pool  = "pool-prod"\n  count = 2\n}\n\nvariable "x" {}\n'
WORLD = {
    "pools": {
        "pool-prod": {
            "type": "Logical",
            "privileged": True,
            "nodepools": {
                "train": EVERY_FIELD,
                "infer": {"flavor": "modelarts.vm.cpu.8u", "count": 1, "maxCount": 1},
            },
        },
        "pool-dev": {
            "type": "Dedicate",
            "privileged": True,
            "nodepools": {"train": {"flavor": "modelarts.vm.cpu.8u", "count": 1, "maxCount": 1}},
        },
    }
}


def put(ws: Workspace, name: str, text: str) -> Path:
    """Write ``text`` exactly (``Workspace.write`` dedents, which would hide the mess)."""
    path = ws.root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_formats_the_directory_in_place_and_names_each_changed_file(ws: Workspace) -> None:
    put(ws, "main.hcl", MESSY)
    put(ws, "tidy.hcl", TIDY)
    put(ws, "np.npvars", "x   = 1\n")
    put(ws, "prod.auto.npvars", "x=2\n")
    put(ws, "other.yaml", "nodepools:   {}\n")
    put(ws, ".hidden.hcl", MESSY)
    put(ws, "main.hcl~", MESSY)
    put(ws, "sub/deep.hcl", MESSY)
    run = ws.np("fmt")
    assert (run.code, run.stderr) == (0, "")
    assert run.stdout.splitlines() == ["main.hcl", "np.npvars", "prod.auto.npvars"]
    assert (ws.root / "main.hcl").read_text() == TIDY
    assert (ws.root / "np.npvars").read_text() == "x = 1\n"
    for untouched in ("other.yaml", ".hidden.hcl", "main.hcl~", "sub/deep.hcl"):
        assert (ws.root / untouched).read_text() != TIDY, untouched
    again = ws.np("fmt")
    assert (again.code, again.stdout, again.stderr) == (0, "", "")


def test_check_changes_nothing_lists_the_files_and_exits_3(ws: Workspace) -> None:
    put(ws, "main.hcl", MESSY)
    put(ws, "tidy.hcl", TIDY)
    run = ws.np("fmt", "-check")
    assert (run.code, run.stdout, run.stderr) == (3, "main.hcl\n", "")
    assert (ws.root / "main.hcl").read_text() == MESSY
    put(ws, "main.hcl", TIDY)
    assert ws.np("fmt", "-check").code == 0


def test_diff_prints_a_unified_diff(ws: Workspace) -> None:
    put(ws, "main.hcl", MESSY)
    checked = ws.np("fmt", "-check", "-diff")
    assert checked.code == 3
    assert "--- old/main.hcl\n+++ new/main.hcl\n" in checked.stdout
    assert '-    pool="pool-prod"\n-  count   =   2   \n+  pool  = "pool-prod"\n' in checked.stdout
    assert (ws.root / "main.hcl").read_text() == MESSY
    written = ws.np("fmt", "-diff")
    assert written.code == 0
    assert written.stdout == checked.stdout
    assert (ws.root / "main.hcl").read_text() == TIDY


def test_recursive_formats_sub_directories_but_not_dot_ones(ws: Workspace) -> None:
    put(ws, "main.hcl", MESSY)
    put(ws, "b/one.hcl", MESSY)
    put(ws, "a/z/two.hcl", MESSY)
    put(ws, ".terraform/three.hcl", MESSY)
    run = ws.np("fmt", "-recursive")
    assert (run.code, run.stderr) == (0, "")
    assert run.stdout.splitlines() == ["main.hcl", "a/z/two.hcl", "b/one.hcl"]
    assert (ws.root / ".terraform/three.hcl").read_text() == MESSY


def test_files_and_directories_named_are_read_from_the_configuration_directory(
    ws: Workspace, tmp_path: Path
) -> None:
    put(ws, "main.hcl", MESSY)
    put(ws, "other.hcl", MESSY)
    put(ws, "modules/net.hcl", MESSY)
    run = ws.np("fmt", "other.hcl", "modules")
    assert (run.code, run.stderr) == (0, "")
    assert run.stdout.splitlines() == ["other.hcl", "modules/net.hcl"]
    assert (ws.root / "main.hcl").read_text() == MESSY
    put(ws, "world.json", "{}")
    wrong = ws.np("fmt", "world.json", "missing.hcl")
    assert wrong.code == 1
    assert wrong.stderr.splitlines() == [
        "Error: world.json: np fmt formats HCL files only (*.hcl, *.npvars)",
        "Error: missing.hcl: does not exist",
    ]


def test_standard_input_is_formatted_to_standard_output(ws: Workspace) -> None:
    run = ws.np("fmt", "-", input=MESSY)
    assert (run.code, run.stdout, run.stderr) == (0, TIDY, "")
    assert ws.np("fmt", "-check", "-", input=MESSY).code == 3
    assert ws.np("fmt", "-check", "-", input=TIDY).code == 0
    diff = ws.np("fmt", "-diff", "-", input=MESSY)
    assert diff.stdout.startswith("--- old/<stdin>\n+++ new/<stdin>\n")
    broken = ws.np("fmt", "-", input="x = {\n")
    assert broken.code == 1
    assert broken.stderr.startswith("Error: <stdin>:2: ")
    mixed = ws.np("fmt", "-", "main.hcl")
    assert mixed.stderr == "Error: - (standard input) cannot be combined with other files\n"


def test_a_file_with_a_syntax_error_is_one_error_and_stays_untouched(ws: Workspace) -> None:
    broken = 'nodepool "a" {\n  count = = 1\n}\n'
    put(ws, "bad.hcl", broken)
    put(ws, "main.hcl", MESSY)
    run = ws.np("fmt")
    assert run.code == 1
    [error] = run.stderr.splitlines()
    assert error.startswith("Error: bad.hcl:2: syntax error")
    assert (ws.root / "bad.hcl").read_text() == broken
    assert (ws.root / "main.hcl").read_text() == TIDY  # the other files are still formatted
    checked = ws.np("fmt", "-check")
    assert checked.code == 1


def test_the_file_keeps_its_mode_and_is_replaced_not_rewritten(ws: Workspace) -> None:
    path = put(ws, "main.hcl", MESSY)
    path.chmod(0o640)
    inode = path.stat().st_ino
    assert ws.np("fmt").code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != inode
    assert [p.name for p in ws.root.iterdir() if p.name.endswith(".tmp")] == []


def test_symbolic_links_are_never_followed(
    make_ws: Callable[[str], Workspace], tmp_path: Path
) -> None:
    ws = make_ws("config")
    outside = tmp_path / "outside"
    outside.mkdir()
    target = put(Workspace(outside), "secret.hcl", MESSY)
    put(ws, "main.hcl", TIDY)
    (ws.root / "link.hcl").symlink_to(target)
    (ws.root / "linked").symlink_to(outside, target_is_directory=True)
    assert ws.np("fmt", "-recursive").code == 0
    named = ws.np("fmt", "link.hcl", "linked", "linked/secret.hcl")
    assert named.code == 1
    assert named.stderr.splitlines() == [
        "Error: link.hcl: is a symbolic link; np fmt does not follow it",
        "Error: linked: is a symbolic link; np fmt does not follow it",
        f"Error: linked/secret.hcl: leads out of {ws.root} (to {outside}) through a symbolic "
        "link; np fmt does not follow it out",
    ]
    assert target.read_text() == MESSY


def test_a_file_np_cannot_write_is_one_error(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = put(ws, "main.hcl", MESSY)

    def refused(*_args: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("reconciler.fsutil.write_new", refused)
    run = ws.np("fmt")
    assert (run.code, run.stderr) == (1, "Error: main.hcl: Permission denied\n")
    assert path.read_text() == MESSY


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write any file")
def test_a_read_only_file_is_refused(ws: Workspace) -> None:
    path = put(ws, "main.hcl", MESSY)
    path.chmod(0o444)
    run = ws.np("fmt")
    assert (run.code, run.stderr) == (
        1,
        "Error: main.hcl: cannot write the file: permission denied\n",
    )
    assert path.read_text() == MESSY


def test_input_is_bounded_as_the_configuration_loader_bounds_it(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(ws, "main.hcl", MESSY)
    (ws.root / "binary.hcl").write_bytes(b"a = 1\n\xff\n")
    monkeypatch.setattr("reconciler.config.syntax.nodes.MAX_FILE_BYTES", 100)
    put(ws, "big.hcl", "a = 1\n" * 20)
    run = ws.np("fmt", "-check")
    assert (run.code, run.stdout) == (1, "main.hcl\n")
    assert run.stderr.splitlines() == [
        "Error: big.hcl: file is larger than 100 bytes",
        "Error: binary.hcl:2: file is not UTF-8 text (binary file?)",
    ]


def test_a_missing_configuration_directory_is_one_error(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "nowhere")
    run = ws.np("fmt")
    assert run.code == 1
    assert "does not exist" in run.stderr


def test_generated_configuration_means_the_same_formatted(ws: Workspace) -> None:
    """generate's output, formatted, parses the same, formats to itself, and still plans no
    changes: fmt is safe to run over what generate writes."""
    ws.world(WORLD)
    put(ws, "main.hcl", PROVIDER)
    generated = ws.np("generate", "--format", "hcl")
    assert generated.code == 0, generated.stderr
    text = generated.stdout
    put(ws, "generated.hcl", text)
    assert ws.np("fmt").code == 0
    formatted = (ws.root / "generated.hcl").read_text()
    assert hcl2.loads(formatted) == hcl2.loads(text)
    assert ws.np("fmt", "-check").code == 0
    plan = ws.np("plan")
    assert plan.code == 0, plan.stderr
    assert "No changes." in plan.stdout


def test_a_messy_copy_of_generated_configuration_formats_back(ws: Workspace) -> None:
    ws.world(WORLD)
    put(ws, "main.hcl", PROVIDER)
    text = ws.np("generate").stdout
    mess = "\n".join(line.strip().replace(" = ", "   =   ") for line in text.splitlines())
    put(ws, "generated.hcl", mess)
    assert ws.np("fmt").code == 0
    formatted = (ws.root / "generated.hcl").read_text()
    assert hcl2.loads(formatted) == hcl2.loads(text)
    assert ws.np("fmt", "generated.hcl").stdout == ""


@pytest.mark.parametrize(
    "path", sorted((ROOT / "examples").rglob("*.hcl")), ids=lambda p: p.parent.parent.name
)
def test_every_example_is_formatted_already(path: Path) -> None:
    done = subprocess.run(
        [str(NP), "fmt", "-check", "-diff", path.name],
        cwd=path.parent,
        env=clean_env({}),
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_the_installed_command_exits_3_then_0_and_never_shows_a_traceback(ws: Workspace) -> None:
    put(ws, "main.hcl", MESSY)

    def np(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(NP), *args],
            cwd=ws.root,
            input=stdin,
            env=clean_env({}),
            capture_output=True,
            text=True,
            check=False,
        )

    assert np("fmt", "-check").returncode == 3
    assert np("fmt").stdout == "main.hcl\n"
    assert np("fmt", "-check").returncode == 0
    assert np("fmt", "-", stdin=MESSY).stdout == TIDY
    put(ws, "main.hcl", "x = [\n")
    broken = np("-C", str(ws.root), "fmt", "-check")
    assert (broken.returncode, broken.stdout) == (1, "")
    assert broken.stderr.startswith("Error: main.hcl:2: ")
    assert "Traceback" not in broken.stderr


def test_the_pre_commit_hook_runs_np_fmt_check() -> None:
    hooks = {
        hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    }
    hook = hooks["np-fmt"]
    assert hook["entry"] == "np fmt -check"
    assert hook["pass_filenames"] is False
    assert hook["language"] == "python"
    import re

    files = re.compile(hook["files"])
    assert files.search("infra/main.hcl") and files.search("MAIN.HCL")
    assert files.search("np.npvars") and not files.search("main.yaml")
