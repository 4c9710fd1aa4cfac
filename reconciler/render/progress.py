"""What a user sees while apply waits for node counts to converge.

    progress = WaitProgress(sys.stderr.isatty(), lambda text: click.echo(text, err=True))
    progress.update("nodepool.train", available=3, creating=1, deleting=0, want=4)
    progress.done("nodepool.train", want=4)
    progress.close()

On a terminal each waited-on node pool gets a rich progress bar (rich is imported only then, so
runs that never wait stay light). Elsewhere (CI logs, pipes) a bar would be noise, so each node
pool gets a plain line at most every ``interval`` seconds, and always its final line.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

PLAIN_INTERVAL = 10.0


def waiting_line(address: str, available: int, creating: int, deleting: int, want: int) -> str:
    return (
        f"{address}: waiting for {want} node(s): {available} available, "
        f"{creating} creating, {deleting} deleting"
    )


def done_line(address: str, want: int) -> str:
    return f"{address}: {want} node(s) available"


class WaitProgress:
    """Convergence-wait display: rich bars on a terminal, throttled plain lines otherwise.

    ``stream`` is where bars are drawn (default: stderr, resolved when the first bar appears).
    """

    def __init__(
        self,
        console_is_tty: bool,
        emit: Callable[[str], None],
        *,
        interval: float = PLAIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        stream: TextIO | None = None,
    ) -> None:
        self._tty = console_is_tty
        self._emit = emit
        self._interval = interval
        self._clock = clock
        self._stream = stream
        self._last_emitted: dict[str, float] = {}
        self._bars: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def update(self, address: str, available: int, creating: int, deleting: int, want: int) -> None:
        """The latest poll of one node pool."""
        if self._tty:
            self._show_bar(address, available, creating, deleting, want)
            return
        now = self._clock()
        last = self._last_emitted.get(address)
        if last is None or now - last >= self._interval:
            self._last_emitted[address] = now
            self._emit(waiting_line(address, available, creating, deleting, want))

    def done(self, address: str, want: int) -> None:
        """The node pool converged: fill its bar, or print its final line."""
        if self._bars is not None and address in self._tasks:
            self._bars.update(
                self._tasks[address], completed=want, total=want, creating=0, deleting=0
            )
            self._bars.refresh()
            return
        self.line(done_line(address, want))

    def line(self, text: str) -> None:
        """Any other message; printed above the bars while they are shown."""
        if self._bars is None:
            self._emit(text)
        else:
            self._bars.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        """Stop drawing; the bars stay on screen as the record of the wait."""
        if self._bars is not None:
            self._bars.stop()
            self._bars = None
            self._tasks.clear()

    def _show_bar(
        self, address: str, available: int, creating: int, deleting: int, want: int
    ) -> None:
        bars = self._bars or self._start_bars()
        task = self._tasks.get(address)
        if task is None:  # add_task draws at once, so it gets the real numbers
            self._tasks[address] = bars.add_task(
                address, completed=available, total=want, creating=creating, deleting=deleting
            )
            return
        bars.update(task, completed=available, total=want, creating=creating, deleting=deleting)
        bars.refresh()

    def _start_bars(self) -> Progress:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(file=self._stream or sys.stderr, force_terminal=True)
        self._bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn(
                "{task.completed:.0f}/{task.total:.0f} available, "
                "{task.fields[creating]} creating, {task.fields[deleting]} deleting"
            ),
            TimeElapsedColumn(),
            console=console,
            auto_refresh=False,
        )
        self._bars.start()
        return self._bars
