"""Evaluation bombs as a user meets them: the installed `np` in a child process under a memory
cap and a CPU-time cap, measured by the child's own resource usage (not by wall time, which a
busy machine stretches). Before evaluation charged bytes, serialisation and did-you-mean
searches, these took minutes of CPU, gigabytes of memory, or passed with 1.3 GB.

Each must end in one located message (or one per failed instance), exit 1, no traceback, and
stay far below the caps.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from procs import NP, clean_env
from support import PROVIDER, Workspace, pool_world

CORPUS = Path(__file__).parents[1] / "hostile"
MEMORY_CAP = 1024 * 1024 * 1024
"""Address space for the child: np needs about 300 MB of it for these; the 20,000 strings
alone took 1.3 GB."""
CPU_CAP = 60
"""Seconds of CPU after which the kernel stops the child (a bomb took 100 minutes)."""
CPU_BOUND = 15.0
"""Seconds of CPU each case must stay under: a few seconds each, with room for a slow machine."""
RSS_BOUND = 400 * 1024 * 1024
BYTES = "evaluation makes more than 64 MiB of values; simplify the expressions"
STEPS = "evaluation needs more than 1,000,000 steps; simplify the expressions"


@dataclass
class Capped:
    code: int
    stderr: str
    cpu: float
    """User and system CPU seconds of the child."""
    rss: int
    """Peak resident memory of the child, in bytes."""


def _caps() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_CAP, CPU_CAP))


def run_capped(ws: Workspace, *args: str) -> Capped:
    """`np ARGS` in the workspace under the caps; its output goes to files, so that a chatty
    child cannot block on a pipe, and os.wait4 gives this child's own resource usage."""
    assert NP is not None
    with open(ws.root / ".stdout", "w+b") as out, open(ws.root / ".stderr", "w+b") as err:
        child = subprocess.Popen(
            [NP, *args],
            cwd=ws.root,
            env=clean_env({"NP_CACHE_DIR": "off"}),
            stdout=out,
            stderr=err,
            preexec_fn=_caps,
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode()
    return Capped(child.returncode, stderr, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024)


def bomb_workspace(tmp_path: Path, name: str, text: str | None = None) -> Workspace:
    ws = Workspace(tmp_path)
    ws.world(pool_world({}))
    (tmp_path / "provider.hcl").write_text(PROVIDER)
    if text is None:
        shutil.copyfile(CORPUS / name, tmp_path / name)
    else:
        (tmp_path / name).write_text(text.lstrip())
    return ws


def assert_bounded(run: Capped, expected: list[str]) -> None:
    assert "Traceback" not in run.stderr
    assert (run.code, run.stderr.splitlines()) == (1, [f"Error: {line}" for line in expected])
    assert run.cpu < CPU_BOUND
    assert run.rss < RSS_BOUND


STRINGS_20K = """
locals {
  big  = join("", [for i in range(65000) : "x"])
  bomb = [for i in range(20000) : "${local.big}${i}"]
}

nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = length(local.bomb)
}
"""


@pytest.mark.parametrize(
    ("name", "text", "command", "expected"),
    [
        pytest.param(
            "expr-format-serialise-bomb.hcl",
            None,
            "validate",
            f"4: local.bomb: {STEPS}",
            id="format %.1v of a 900,000-element list, 100,000 times (100 min of CPU)",
        ),
        pytest.param(
            "expr-join-walk-bomb.hcl",
            None,
            "validate",
            f"3: local.bomb: {STEPS}",
            id="join of 30,000 empty strings, 100,000 times (minutes of CPU)",
        ),
        pytest.param(
            "expr-format-verbs-bomb.hcl",
            None,
            "validate",
            f"3: local.bomb: {STEPS}",
            id="format of 30,000 %%, 100,000 times (minutes of CPU)",
        ),
        pytest.param(
            "expr-for-string-bomb.hcl",
            None,
            "validate",
            f"3: local.bomb: {BYTES}",
            id="100,000 strings of 65,000 characters in a for (MemoryError at 2 GB)",
        ),
        pytest.param(
            "strings.hcl",
            STRINGS_20K,
            "validate",
            f"3: local.bomb: {BYTES}",
            id="20,000 strings of 65,000 characters (Success! at 1.3 GB)",
        ),
        pytest.param(
            "expr-field-bytes-bomb.hcl",
            None,
            "plan",
            f'11: nodepool.train["p1"]: extend_params: {BYTES}',
            id="30 fields of 65 MB of shared strings (a 2 GB plan, 3.9 GB RSS)",
        ),
        pytest.param(
            "expr-did-you-mean-long-keys.hcl",
            None,
            "validate",
            f'11: nodepool.train["p0"]: count: no key "{" " * 61}..." in the map'
            " (and in 99 more instances)",
            id="100 lookups in a map of 20,000 keys of 2,000 characters (minutes each)",
        ),
    ],
)
def test_bomb_ends_in_one_message_within_bounds(
    tmp_path: Path, name: str, text: str | None, command: str, expected: str
) -> None:
    ws = bomb_workspace(tmp_path, name, text)
    assert_bounded(run_capped(ws, command), [f"{name}:{expected}"])
    assert not (ws.root / "state").exists()


MANY_KEYS = """
locals {
  k = "abababababababababababababababababababababababababababababab"
  m = { for i in range(100000) : "${local.k}${i}" => i }
}

nodepool "train" {
  for_each = toset([for i in range(1000) : "p${i}"])
  pool     = "pool-prod"
  name     = "train-${each.key}"
  flavor   = "modelarts.vm.gpu.t4u8"
  count    = local.m["${local.k}-${each.key}"]
}
"""


def test_a_thousand_failed_lookups_in_a_map_of_100000_keys(tmp_path: Path) -> None:
    """Every lookup fails with another key of at most 64 characters: each would be compared
    with the map's keys (two minutes of CPU before); together they share one allowance."""
    ws = bomb_workspace(tmp_path, "main.hcl", MANY_KEYS)
    run = run_capped(ws, "validate")
    lines = [_missing(key, f"{'ab' * 30}-{key}") for key in sorted(f"p{i}" for i in range(100))]
    # longer keys than those of p0 to p99 are cut alike: their instances share one line
    cut = _missing("p100", f"{'ab' * 30}-...") + " (and in 899 more instances)"
    lines.insert(lines.index(_missing("p10", f"{'ab' * 30}-p10")) + 1, cut)
    assert_bounded(run, lines)


def _missing(instance: str, key: str) -> str:
    return f'main.hcl:11: nodepool.train["{instance}"]: count: no key "{key}" in the map'
