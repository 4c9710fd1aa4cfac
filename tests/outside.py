"""The outside tools np's users run (pre-commit, check-jsonschema, actionlint, shellcheck), as
dev dependencies installed next to this Python, run as subprocesses with no network: every
proxy points at a closed loopback port, so a tool that tried to download anything would fail
the test instead of quietly depending on the internet."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Wheels of np's dependencies, downloaded by `make install`: pip installs np from them offline.
WHEELHOUSE = BIN.parent / "wheelhouse"
_NOWHERE = "http://127.0.0.1:9"
_PROXIES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
_CALLER_VARIABLES = ("HUAWEICLOUD_SDK_", "HW_", "NP_", "PIP_", "PRE_COMMIT", "VIRTUALENV_", "GIT_")


@dataclass
class Done:
    code: int
    output: str  # stdout and stderr, interleaved as a user sees them


def tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is not installed next to {sys.executable}: run make install"
    return str(path)


def offline_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without its proxies, pip, git or np settings; .venv/bin first."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _PROXIES and not key.startswith(_CALLER_VARIABLES)
    }
    env |= dict.fromkeys(_PROXIES, _NOWHERE)
    env |= {"NO_PROXY": "", "no_proxy": "", "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"}
    return env | (extra or {})


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Done:
    done = subprocess.run(
        args,
        cwd=cwd,
        env=env if env is not None else offline_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    return Done(done.returncode, done.stdout)


def git(cwd: Path, *args: str) -> None:
    """git as a test user, whatever the machine's git configuration says."""
    env = offline_env(
        {
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "np tests",
            "GIT_AUTHOR_EMAIL": "np-tests@example.invalid",
            "GIT_COMMITTER_NAME": "np tests",
            "GIT_COMMITTER_EMAIL": "np-tests@example.invalid",
        }
    )
    done = run(["git", *args], cwd, env)
    assert done.code == 0, done.output
