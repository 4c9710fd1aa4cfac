"""Child processes, measured: wall time, CPU time and peak RSS of exactly that child.

Every figure in the benchmark comes from a fresh process, because start-up (imports, grammar
loading) is part of what a user waits for.

    done = run([NP, "validate"], cwd=workspace)
    done.wall, done.cpu, done.max_rss_mb

The simulator process and its request log come from reconciler.sim.launch, as in the tests.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PYTHON = sys.executable
HTTP_ENV = {"HW_AUTH_TOKEN": "bench-token", "HW_PROJECT_ID": "bench-project"}
"""What np needs to talk to `np sim serve` over HTTP (the simulator checks no credential)."""
NP = str(Path(sys.executable).with_name("np"))
LAUNCH = Path(__file__).with_name("launch.py")


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

    The rusage is the child's own, from wait4(2) in ``bench/launch.py``, which starts it: a
    child forked from this process, which holds whole fleets, would report this process's size
    as its peak RSS (see there). Wall time is the child's, from spawn to exit.
    """
    full_env = {**os.environ, **(env or {})}
    read_end, write_end = os.pipe()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        launcher = [PYTHON, str(LAUNCH), str(write_end), str(timeout), "--", *argv]
        try:
            proc = subprocess.Popen(
                launcher,
                cwd=cwd,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                pass_fds=(write_end,),
            )
        finally:
            os.close(write_end)
        with os.fdopen(read_end) as report_pipe:
            report = report_pipe.read()
        proc.wait()
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0 or not report:
            message = err.read().decode(errors="replace").strip().splitlines()[-3:]
            raise BenchError(f"could not start {' '.join(argv)}: " + " | ".join(message))
        figures = json.loads(report)
        return Finished(
            tuple(argv),
            figures["code"],
            figures["wall"],
            figures["cpu"],
            figures["max_rss_kib"] / 1024,
            out.read(),
            err.read(),
        )


def median_wall(runs: Sequence[Finished]) -> float:
    return statistics.median(r.wall for r in runs)
