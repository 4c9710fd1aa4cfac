"""`np sim serve` as a child process, for the test suite, the benchmark and scripts.

    with SimServer(Path("world.json"), "--latency-ms", "50", request_log=log) as sim:
        ...                       # sim.url: http://127.0.0.1:PORT, already accepting
        sim.flush()               # every request in flight answered, the world file current
        entries = RequestLog(log).read()

The request log gets each request's line before its answer is sent, so once a client has its
answers (np exited normally) their lines are all there: no sleeping until the file stops
growing. For a client that was killed half way, `flush()` first waits for the requests it left
in flight.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any

LAUNCH = "from reconciler.sim.cli import sim_group; sim_group(prog_name='np sim')"
FIRST_LINE = re.compile(r"np sim listening on (http://\S+)\n")
START_SECONDS = 30.0
"""How long a server may take to announce itself before the launch counts as failed."""


class LaunchError(Exception):
    """The simulator did not start, or did not answer a flush."""


class SimServer:
    """`np sim serve --world WORLD --port 0 OPTIONS...`, stopped with `stop` on exit.

    After the block: `returncode`, and `stderr` (the server's whole standard error).
    """

    def __init__(
        self,
        world: Path,
        *options: str,
        request_log: Path | None = None,
        env: dict[str, str] | None = None,
        stop: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.argv = [sys.executable, "-c", LAUNCH, "serve", "--world", str(world), "--port", "0"]
        if request_log is not None:
            self.argv += ["--request-log", str(request_log)]
        self.argv += options
        self.env = {**os.environ, **(env or {})}
        self.stop = stop
        self.url = ""
        self.banner = ""
        self.returncode: int | None = None
        self.stderr = ""
        self._proc: subprocess.Popen[str] | None = None
        self._errors: IO[str] | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None, "the server is not running"
        return self._proc.pid

    def __enter__(self) -> SimServer:
        self._errors = tempfile.TemporaryFile("w+")
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            text=True,
            env=self.env,
        )
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], START_SECONDS)
        line = self._proc.stdout.readline() if ready else ""
        match = FIRST_LINE.fullmatch(line)
        if match is None:
            self._proc.kill()
            self._finish()
            raise LaunchError(f"np sim serve did not start: got {line!r}; stderr: {self.stderr}")
        self.url = match[1]
        self.banner = line
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._proc is not None
        if self._proc.poll() is None:
            self._proc.send_signal(self.stop)
        self._finish()

    def flush(self) -> None:
        """Wait until the server has answered every request in flight and written its world."""
        request = urllib.request.Request(f"{self.url}/_sim/flush", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=60) as answer:
            if answer.status != 200:
                raise LaunchError(f"flush answered {answer.status}")

    def _finish(self) -> None:
        assert self._proc is not None and self._errors is not None
        try:
            self.returncode = self._proc.wait(30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self.returncode = self._proc.wait()
        if self._proc.stdout is not None:
            self.banner += self._proc.stdout.read()
            self._proc.stdout.close()
        self._errors.seek(0)
        self.stderr = self._errors.read()
        self._errors.close()


class RequestLog:
    """A `--request-log` file: one dict per request (`method`, `path`, `status`, `ms`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._taken = 0

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def take(self) -> list[dict[str, Any]]:
        """The entries logged since the previous `take`."""
        entries = self.read()
        fresh, self._taken = entries[self._taken :], len(entries)
        return fresh
