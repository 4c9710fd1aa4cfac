"""Test support: run the real CLI in-process against sim:// worlds written into tmp dirs.

Helpers that run np or the simulator as subprocesses live in procs.py."""

from __future__ import annotations

import json
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.state import local
from reconciler.state.protocols import Backend


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


class Workspace:
    """A config directory with a world file: what a user's repository looks like."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def world_path(self) -> Path:
        return self.root / "world.json"

    @property
    def state_path(self) -> Path:
        return self.root / "state" / "np.state.json"

    def world(self, doc: dict[str, Any] | None = None) -> dict[str, Any]:
        if doc is not None:
            self.world_path.write_text(json.dumps(doc, indent=2))
        loaded: dict[str, Any] = json.loads(self.world_path.read_text())
        return loaded

    def nodepool(self, pool: str, name: str) -> dict[str, Any]:
        spec: dict[str, Any] = self.world()["pools"][pool]["nodepools"][name]
        return {k: v for k, v in spec.items() if not k.startswith("_")}

    def state(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.state_path.read_text())
        return loaded

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def remove(self, name: str) -> None:
        (self.root / name).unlink()

    def np(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Run:
        runner = CliRunner()
        result = runner.invoke(
            cli, ["-C", str(self.root), "--no-color", *args], input=input, env=env
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert "Traceback" not in result.stderr
        return Run(result.exit_code, result.stdout, result.stderr)


PROVIDER = 'provider "modelarts" {\n  endpoint = "sim://world.json"\n}\n'


EVERY_FIELD = {
    "flavor": "modelarts.vm.gpu.t4u8",
    "count": 2,
    "maxCount": 4,
    "azs": [{"az": "cn-north-4a", "count": 2}],
    "labels": {"team": "ml", "app.kubernetes.io/name": "trainer"},
    "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
    "tags": [{"key": "owner", "value": "ml"}, {"key": "CCE-cluster", "value": "c1"}],
    "extendParams": {"dockerBaseSize": "0"},
    "network": {"vpc": "vpc-1", "subnet": "subnet-1", "securityGroups": ["sg-1"]},
    "creatingStep": {"step": 1, "type": "rack"},
    "os": {"name": "EulerOS 2.10", "imageId": "img-1", "autoMatch": False},
}
"""A live node pool with every field np manages set (and a CCE tag np leaves alone)."""


def pool_world(nodepools: dict[str, dict[str, Any]], *, kind: str = "Logical") -> dict[str, Any]:
    return {"pools": {"pool-prod": {"type": kind, "privileged": True, "nodepools": nodepools}}}


class FakeClock:
    """A clock tests move by hand; ``sleep`` advances it instead of waiting."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def local_backend(path: Path, workspace: str = "default") -> Backend:
    """The local backend on the state file ``path``, opened as np opens it."""
    return local.open_backend({"path": str(path)}, workspace=workspace, environ={}, where="state")


def example_twins(example: str, into: Path, nodepools: int) -> tuple[Workspace, Workspace]:
    """A copy of ``examples/<example>`` and its ``hcl`` and ``yaml`` twins, each of which
    validates with ``nodepools`` node pools in one file."""
    copy = into / Path(example).name
    shutil.copytree(Path(__file__).resolve().parents[1] / "examples" / example, copy)
    twins = Workspace(copy / "hcl"), Workspace(copy / "yaml")
    for ws in twins:
        assert ws.np("validate").stdout == (
            f"Success! The configuration is valid ({nodepools} node pools in 1 file).\n"
        )
    return twins


def plan_of(ws: Workspace) -> dict[str, Any]:
    """``np plan --json`` without the state's lineage and serial: two configurations that
    declare the same fleet (HCL and YAML twins) give equal documents."""
    run = ws.np("plan", "--json")
    assert run.code == 0, run.stderr
    doc: dict[str, Any] = run.json()
    doc.pop("prior_state")
    return doc
