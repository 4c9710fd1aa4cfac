"""Process-level test support: the installed `np` script run as a real subprocess, and the
simulator-plus-workspace `fleet` the crash, concurrency, fault and secrets tests share. The
simulator process itself (`SimServer`, `RequestLog`) comes from reconciler.sim.launch, which the
benchmark uses too. In-process helpers (the CLI through CliRunner) live in support.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support import Workspace, local_backend

from reconciler.sim.launch import RequestLog, SimServer
from reconciler.state.document import State
from reconciler.state.manager import StateManager

NP = shutil.which("np", path=str(Path(sys.executable).parent))
FLAVOR = "modelarts.vm.cpu.8u"
# Set in the parent environment, these would leak into (or shadow) what a test passes to np.
_CALLER_VARIABLES = ("HUAWEICLOUD_SDK_", "HW_", "NP_", "NO_COLOR")
TOKEN_ENV = {"HW_AUTH_TOKEN": "unchecked", "HW_PROJECT_ID": "proj"}
POOL = "pool-prod"
UPDATED = [f"np-{i:02d}" for i in range(17)]
CHANGES = ("PATCH", "POST", "DELETE")


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The caller's environment minus anything that would steer np, plus `extra`."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_CALLER_VARIABLES)} | extra


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.stdout)

    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("Error:")]


def np(
    ws: Workspace,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> Result:
    """Run the installed console script in the workspace with exactly `env`'s np variables."""
    assert NP is not None, "the np console script is not installed next to this Python"
    started = time.monotonic()
    done = subprocess.run(
        [NP, *args],
        cwd=ws.root,
        env=clean_env(env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    result = Result(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
    if "-v" not in args:
        assert "Traceback" not in result.stderr
    return result


def shell(ws: Workspace, line: str) -> subprocess.CompletedProcess[str]:
    """``line`` pasted into bash in the configuration directory, np on its PATH."""
    assert NP is not None
    path = f"{Path(NP).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["bash", "-c", line],
        cwd=ws.root,
        env=clean_env({"PATH": path}),
        capture_output=True,
        text=True,
    )


def world_of(pools: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Logical pools; `pools` maps pool → node pool → count."""
    return {
        "pools": {
            pool: {
                "type": "Logical",
                "privileged": True,
                "nodepools": {
                    name: {"flavor": FLAVOR, "count": count, "maxCount": count}
                    for name, count in nodepools.items()
                },
            }
            for pool, nodepools in pools.items()
        }
    }


def config_of(
    pools: dict[str, dict[str, int]], *, endpoint: str | None = None, project: str | None = None
) -> str:
    provider = "".join(
        f'  {key} = "{value}"\n'
        for key, value in (("endpoint", endpoint), ("project_id", project))
        if value is not None
    )
    blocks = [
        f'nodepool "{name}" {{\n  pool = "{pool}"\n  flavor = "{FLAVOR}"\n  count = {count}\n}}\n'
        for pool, nodepools in pools.items()
        for name, count in nodepools.items()
    ]
    return f'provider "modelarts" {{\n{provider}}}\n\n' + "\n".join(blocks)


def read_state(ws: Workspace) -> State | None:
    """The state as np would read it (validated, journal replayed), or None before the first
    change was recorded."""
    state = StateManager(local_backend(ws.state_path)).load()
    return None if state.serial == 0 else state


@dataclass
class Fleet:
    """One simulator process and one workspace, shared by the trials of a test."""

    ws: Workspace
    server: SimServer
    log: RequestLog
    env: dict[str, str] = field(default_factory=lambda: dict(TOKEN_ENV))

    def configure(self, want: dict[str, int]) -> None:
        self.ws.write("main.hcl", config_of({POOL: want}, endpoint=self.server.url))

    def np(self, *args: str) -> Result:
        return np(self.ws, *args, env=self.env)

    def start(self, *args: str) -> subprocess.Popen[str]:
        """np in the background, in its own session so that a signal reaches np alone."""
        assert NP is not None
        return subprocess.Popen(
            [NP, *args],
            cwd=self.ws.root,
            env=clean_env(self.env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def requests(self) -> list[dict[str, Any]]:
        """The request log as it is now (a request's line is there before its answer)."""
        return self.log.read()

    def settle(self) -> list[dict[str, Any]]:
        """The request log once the server has answered everything in flight (a killed np
        may have left requests behind) and written its world file."""
        self.server.flush()
        return self.log.read()

    def live(self) -> dict[str, dict[str, Any]]:
        self.server.flush()
        nodepools: dict[str, dict[str, Any]] = self.ws.world()["pools"][POOL]["nodepools"]
        return nodepools

    def assert_converged(self, want: dict[str, int]) -> State:
        """World and state both hold every desired value; state lists every node pool."""
        live = self.live()
        assert {n: (live[n]["count"], live[n]["maxCount"]) for n in want} == {
            n: (c, c) for n, c in want.items()
        }
        state = read_state(self.ws)
        assert state is not None
        assert sorted(state.resources) == sorted(f"nodepool.{n}" for n in want)
        applied = {a[len("nodepool.") :]: r.applied["count"] for a, r in state.resources.items()}
        assert applied == want
        return state


@contextmanager
def fleet(
    root: Path,
    *server_args: str,
    live: dict[str, int] | None = None,
    server_env: dict[str, str] | None = None,
) -> Iterator[Fleet]:
    """A simulator on a world of `live` counts in `POOL` (default: every `UPDATED` at 1)."""
    ws = Workspace(root)
    ws.world(world_of({POOL: live if live is not None else dict.fromkeys(UPDATED, 1)}))
    log = root / "requests.jsonl"
    with SimServer(ws.world_path, *server_args, request_log=log, env=server_env) as server:
        yield Fleet(ws, server, RequestLog(log))


def sent_changes(entries: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return [(e["method"], e["path"], e["status"]) for e in entries if e["method"] in CHANGES]


def created(entries: list[dict[str, Any]]) -> int:
    """POSTs that took effect: answered 2xx, or dropped (logged 0) after the world had them."""
    return sum(1 for e in entries if e["method"] == "POST" and e["status"] in (0, 200, 201))
