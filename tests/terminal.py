"""A command on a real pseudo-terminal: what a user at a keyboard sees, types and interrupts.

with Terminal([NP, "apply"], cwd=ws.root) as term:
    term.expect("Enter a value:")
    term.type("yes\\n")
    assert term.wait() == 0
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import subprocess
import termios
import time
from pathlib import Path
from types import TracebackType


def _controlling_terminal() -> None:
    """In the child: a session of its own whose terminal is the pty, so Ctrl-C typed on it
    reaches the command as SIGINT, as in a real shell. A shell runs its foreground job with
    SIGINT and SIGQUIT at their defaults even when it was started ignoring them (a test run
    started with `&` from a script is), and so does this."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


class Terminal:
    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        self.argv, self.cwd, self.env = argv, cwd, env
        self.screen = ""

    def __enter__(self) -> Terminal:
        self._master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            self.argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=self.cwd,
            env=self.env,
            preexec_fn=_controlling_terminal,
        )
        os.close(slave)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self._master)

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self._master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self._master, 65536)
        except OSError:  # EIO: the command exited and closed the terminal
            return False
        self.screen += chunk.decode(errors="replace").replace("\r\n", "\n")
        return bool(chunk)

    def expect(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (not self._read(remaining) and self.proc.poll() is not None):
                raise AssertionError(f"{text!r} never appeared; the screen shows:\n{self.screen}")

    def type(self, keys: str) -> None:
        os.write(self._master, keys.encode())

    def wait(self, timeout: float = 60.0) -> int:
        """The exit code, once the command ended; everything it printed is in ``screen``."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.05)
        while self._read(0.05):
            pass
        code = self.proc.poll()
        if code is None:
            raise AssertionError(
                f"still running after {timeout} s; the screen shows:\n{self.screen}"
            )
        return code
