"""Child processes, measured: wall time, CPU time and peak RSS of exactly that child.

Every figure in the benchmark comes from a fresh process, because start-up (imports, grammar
loading) is part of what a user waits for.

    done = run([NP, "validate"], cwd=workspace)
    done.wall, done.cpu, done.max_rss_mb

    with SimServer(world, log, "--latency-ms", "50") as url:
        ...
    requests = read_request_log(log)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PYTHON = sys.executable
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


class SimServer:
    """`np sim serve` on a free port for the duration of a `with` block; yields its URL."""

    def __init__(self, world: Path, request_log: Path, *options: str) -> None:
        self._argv = [NP, "sim", "serve", "--world", str(world), "--port", "0"]
        self._argv += ["--request-log", str(request_log), *options]
        self._resources = ExitStack()

    def __enter__(self) -> str:
        with ExitStack() as starting:
            starting.push(self._resources)  # unwound right here if the server fails to start
            stderr = self._resources.enter_context(tempfile.TemporaryFile())
            proc = subprocess.Popen(
                self._argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr
            )
            self._resources.callback(_stop, proc)
            assert proc.stdout is not None
            line = proc.stdout.readline().decode().strip()
            prefix = "np sim listening on "
            if not line.startswith(prefix):
                _stop(proc)
                stderr.seek(0)
                problem = stderr.read().decode(errors="replace").strip()
                raise BenchError(f"np sim serve did not start: {problem or line!r}")
            starting.pop_all()
        return line.removeprefix(prefix)

    def __exit__(self, *exc: object) -> None:
        self._resources.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def read_request_log(path: Path) -> list[dict[str, Any]]:
    """The simulator's request log: one dict per request (`method`, `path`, `status`, `ms`)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
