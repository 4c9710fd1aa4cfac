"""Child processes, measured: wall time, CPU time and peak RSS of exactly that child.

Every figure in the benchmark comes from a fresh process, because start-up (imports, grammar
loading) is part of what a user waits for.

    done = run([NP, "validate"], cwd=workspace)
    done.wall, done.cpu, done.max_rss_mb

The simulator process and its request log come from reconciler.sim.launch, as in the tests.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PYTHON = sys.executable
HTTP_ENV = {"HW_AUTH_TOKEN": "bench-token", "HW_PROJECT_ID": "bench-project"}
"""What np needs to talk to `np sim serve` over HTTP (the simulator checks no credential)."""
NP = str(Path(sys.executable).with_name("np"))


class BenchError(Exception):
    """The harness itself could not measure something (a command failed, a server died)."""


@dataclass(frozen=True)
class Finished:
    argv: tuple[str, ...]
    code: int
    wall: float
    """Seconds from spawn to exit."""
    cpu: float
    """User + system CPU seconds of the child."""
    max_rss_mb: float
    """Peak resident set size of the child (MiB)."""
    stdout: bytes
    stderr: bytes

    def check(self) -> Finished:
        """Self, if the command succeeded; otherwise a BenchError with the tail of stderr."""
        if self.code != 0:
            tail = self.stderr.decode(errors="replace").strip().splitlines()[-5:]
            raise BenchError(f"{' '.join(self.argv)} exited {self.code}: " + " | ".join(tail))
        return self


def run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600.0,
) -> Finished:
    """Run `argv` to completion and measure it.

    The rusage is the child's own, from wait4(2): the same record that
    getrusage(RUSAGE_CHILDREN) accumulates, but for this child alone, so one run's peak RSS is
    not hidden behind an earlier, bigger child.
    """
    full_env = {**os.environ, **(env or {})}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=full_env, stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Finished(
            tuple(argv),
            proc.returncode,
            wall,
            usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss / 1024,  # Linux reports KiB
            out.read(),
            err.read(),
        )


def median_wall(runs: Sequence[Finished]) -> float:
    return statistics.median(r.wall for r in runs)
