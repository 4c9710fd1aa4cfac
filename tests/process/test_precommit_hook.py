"""np's pre-commit hook in configuration repositories that the tests make, run by the real
pre-commit: the `.pre-commit-config.yaml` blocks that examples/ci/README.md tells users to
write (at the root, beside the repository's own hooks and CI file, and for a sub-directory).
pre-commit clones np and installs it with pip into a virtualenv of its own; here pip takes np's
dependencies from the wheels `make install` downloaded, and the network is closed. Each
installation takes tens of seconds, hence `slow`."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from outside import ROOT, WHEELHOUSE, Done, git, offline_env, run, tool

pytestmark = pytest.mark.slow

QUICKSTART = ROOT / "examples" / "quickstart" / "yaml"
PASSED = re.compile(r"^np validate\.+Passed$", re.MULTILINE)
FAILED = re.compile(r"^np validate\.+Failed$", re.MULTILINE)
# A configuration repository's own pre-commit configuration, as every user of the hook has.
OWN_HOOKS = """\
repos:
  - repo: local
    hooks:
      - id: no-merge-conflicts
        name: no merge conflict markers
        entry: "^<<<<<<< "
        language: pygrep
"""


def pre_commit(repo: Path, home: Path, *args: str) -> Done:
    assert WHEELHOUSE.is_dir(), f"{WHEELHOUSE} is missing: run make install"
    env = offline_env(
        {
            "PRE_COMMIT_HOME": str(home),
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(WHEELHOUSE),
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
    )
    done = run([tool("pre-commit"), *args], repo, env)
    assert "Traceback" not in done.output, done.output
    return done


def configuration_repository(root: Path, layout: dict[str, str | Path]) -> Path:
    """A git repository holding `layout` (file name -> text, or a file to copy)."""
    root.mkdir()
    git(root, "init", "--quiet")
    for name, content in layout.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, path)
        else:
            path.write_text(content)
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--message", "configuration")
    return root


def release_of_np(root: Path) -> str:
    """This working tree's tracked files committed as a repository of their own: what a user's
    `rev:` names. Returns the commit."""
    listed = run(["git", "ls-files", "-z"], ROOT).output.split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    git(root, "init", "--quiet")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--message", "np")
    return run(["git", "rev-parse", "HEAD"], root).output.strip()


def documented_configs() -> list[str]:
    """The `.pre-commit-config.yaml` blocks of examples/ci/README.md: at the root, then for a
    sub-directory."""
    readme = (ROOT / "examples" / "ci" / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(repos:\n.*?)```", readme, re.DOTALL)
    return sorted((block for block in blocks if "np-validate" in block), key=lambda b: "args" in b)


def test_the_documented_configurations_at_the_root_and_in_a_sub_directory(
    tmp_path: Path,
) -> None:
    np_release = tmp_path / "np"
    np_release.mkdir()
    rev = release_of_np(np_release)
    home = tmp_path / "home"

    def hooked(block: str) -> str:
        block = block.replace("https://github.com/your-org/np", str(np_release))
        return block.replace("rev: v0.1.0", f"rev: {rev}")

    [at_root, in_infra] = documented_configs()
    assert "args: [-C, infra]" in in_infra

    repo = configuration_repository(
        tmp_path / "root-layout",
        {
            # np's files beside the repository's own YAML that np must not read.
            ".pre-commit-config.yaml": hooked(at_root) + OWN_HOOKS.removeprefix("repos:\n"),
            ".gitlab-ci.yml": ROOT / "examples" / "ci" / "gitlab-ci.yml",
            "main.yaml": QUICKSTART / "main.yaml",
            "world.json": QUICKSTART / "world.json",
            "gpu.auto.npvars": "train_nodes = 4\n",
            "README.md": "# infrastructure\n",
        },
    )
    done = pre_commit(repo, home, "run", "--all-files")
    assert done.code == 0, done.output
    assert PASSED.search(done.output), done.output
    (repo / "main.yaml").write_text((QUICKSTART / "main.yaml").read_text() + "  unknown: 1\n")
    done = pre_commit(repo, home, "run", "--all-files")
    assert done.code == 1
    assert FAILED.search(done.output), done.output
    assert "Error: main.yaml:" in done.output

    repo = configuration_repository(
        tmp_path / "sub-directory-layout",
        {
            ".pre-commit-config.yaml": hooked(in_infra),
            "docker-compose.yml": "services:\n  db:\n    image: postgres\n",
            "infra/main.yaml": QUICKSTART / "main.yaml",
            "infra/world.json": QUICKSTART / "world.json",
        },
    )
    done = pre_commit(repo, home, "run", "--all-files")
    assert done.code == 0, done.output
    assert PASSED.search(done.output), done.output
    # Without the args, np would read the root's docker-compose.yml, and say what to do.
    (repo / ".pre-commit-config.yaml").write_text(hooked(at_root))
    git(repo, "add", ".pre-commit-config.yaml")
    done = pre_commit(repo, home, "run", "--all-files")
    assert done.code == 1
    assert "docker-compose.yml:1: not an np configuration file" in done.output
    assert "run np -C DIR" in done.output
