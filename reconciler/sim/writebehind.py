"""When the simulator writes its world file: once per burst of changes, not once per change.

    saver = WriteBehind(world)
    saver.changed()   # after a request that changed the world: (re)arms the idle timer
    saver.check()     # before a request: a failed background write is retried, or raised
    saver.flush()     # on demand: /_sim/flush, shutdown, the end of an in-process run

Writing the whole world after every PATCH made a 5,000-change apply quadratic (93 % of its
time). Now the file is written once requests pause for `idle` seconds, and at the latest
`max_delay` seconds after the first unsaved change while they keep coming, so each change costs
the same whatever the world's size, and the file lags a busy simulator by about a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from reconciler.sim.world import World, WorldError


class WriteBehind:
    """Coalesces the world's writes; every method is called from the event loop's thread."""

    def __init__(
        self,
        world: World,
        *,
        idle: float = 0.05,
        max_delay: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._world = world
        self._idle = idle
        self._max_delay = max_delay
        self._clock = clock
        self._first_unsaved: float | None = None
        self._last_change = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._failure: WorldError | None = None

    def changed(self) -> None:
        """Note that a request may have changed the world; write now if it has waited too long."""
        if not self._world.dirty:
            return
        now = self._clock()
        self._last_change = now
        if self._first_unsaved is None:
            self._first_unsaved = now
        loop = asyncio.get_running_loop()
        if now - self._first_unsaved >= self._max_delay:
            self._write_behind()
        elif self._timer is None or self._timer_loop is not loop:  # none, or one of a past run
            self._timer = loop.call_later(self._idle, self._on_timer)
            self._timer_loop = loop

    def check(self) -> None:
        """Raise WorldError while the world cannot be written (retrying first), so that requests
        fail visibly instead of piling up changes that only live in memory."""
        if self._failure is not None:
            self.flush()

    def flush(self) -> None:
        """Write the world now if it has unsaved changes; WorldError when that fails.

        Whatever stops the write (a full disk, a value the encoder refuses) becomes the failure
        that `check` reports on every request: an exception escaping from the timer's callback
        would be lost, and requests answered 200 while nothing is saved any more.
        """
        self._cancel_timer()
        self._first_unsaved = None
        try:
            self._world.flush()
        except WorldError as exc:
            self._failure = exc
            raise
        except Exception as exc:  # any failure at all: see above
            self._failure = WorldError(f"cannot write {self._world.path}: {exc}")
            self._first_unsaved = self._clock()
            raise self._failure from None
        self._failure = None

    def _on_timer(self) -> None:
        self._timer = None
        wait = self._last_change + self._idle - self._clock()
        if wait > 0 and self._timer_loop is not None:  # changes kept coming: wait for the pause
            self._timer = self._timer_loop.call_later(wait, self._on_timer)
        else:
            self._write_behind()

    def _write_behind(self) -> None:
        """A write no request waits for: a failure is kept for `check` to report."""
        with contextlib.suppress(WorldError):
            self.flush()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
