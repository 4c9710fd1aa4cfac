"""The CI recipes in examples/ci, read the way their CI systems read them: the shell a job
runs and the variables it sees, so that tests can run those jobs for real against the
simulator (with `pip` stubbed out: np is already installed here)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from outside import BIN, ROOT

GITHUB = ROOT / "examples" / "ci" / "github-actions.yml"
GITLAB = ROOT / "examples" / "ci" / "gitlab-ci.yml"
# What GitHub runs a `run:` step with, and GitLab's bash runner: stop at the first failure.
BASH = ("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c")
# All a job's shell keeps of this process's environment (NP_CACHE_DIR: the tests' own cache).
_KEPT = ("HOME", "LANG", "NP_CACHE_DIR")
_REFERENCE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def gitlab_job(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """A job with the template it `extends` merged in, as GitLab merges them."""
    job: dict[str, Any] = dict(doc[name])
    base = job.pop("extends", None)
    return {**gitlab_job(doc, base), **job} if base else job


def gitlab_script(doc: dict[str, Any], name: str) -> str:
    """before_script and script: GitLab runs them in one shell, in that order."""
    job = gitlab_job(doc, name)
    return "\n".join([*job.get("before_script", []), *job["script"]])


def gitlab_env(doc: dict[str, Any], name: str, ci: dict[str, str]) -> dict[str, str]:
    """The recipe's variables, then the job's (a `$NAME` value is that CI/CD variable), over
    the CI/CD variables `ci`, which GitLab lets win over the file's."""
    env = dict(doc.get("variables", {}))
    for key, value in gitlab_job(doc, name).get("variables", {}).items():
        reference = _REFERENCE.match(value)
        env[key] = ci.get(reference.group(1), "") if reference else value
    return env | ci


def github_step(doc: dict[str, Any], job: str, name: str) -> str:
    """The `run:` script of a named step."""
    [step] = [s for s in doc["jobs"][job]["steps"] if s.get("name") == name]
    script: str = step["run"]
    return script


def github_action_inputs(doc: dict[str, Any], job: str, action: str) -> dict[str, str]:
    """The `with:` of the step that uses `action` (e.g. actions/upload-artifact)."""
    [step] = [s for s in doc["jobs"][job]["steps"] if s.get("uses", "").startswith(f"{action}@")]
    inputs: dict[str, str] = step["with"]
    return inputs


def stub_pip(directory: Path) -> Path:
    """A `pip` that installs nothing (np is installed already); put it first on PATH."""
    directory.mkdir(exist_ok=True)
    pip = directory / "pip"
    pip.write_text("#!/bin/sh\nexit 0\n")
    pip.chmod(0o755)
    return directory


def shell(script: str, cwd: Path, env: dict[str, str], stubs: Path) -> tuple[int, str, str]:
    """Run a job's shell as its CI system would, np and python3 from this environment."""
    path = os.pathsep.join([str(stubs), str(BIN), "/usr/bin", "/bin"])
    done = subprocess.run(
        [*BASH, script],
        cwd=cwd,
        env={**{k: os.environ[k] for k in _KEPT if k in os.environ}, **env, "PATH": path},
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr
