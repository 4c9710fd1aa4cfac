"""Lock helpers every backend's caller shares: who we are, and the heartbeat of a long run.

locker.acquire(holder_info("apply"), timeout)
async with keep_fresh(locker, warn):   # refreshes every 30 s; warns once if the lock is lost
    await long_apply()
"""

from __future__ import annotations

import asyncio
import getpass
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from reconciler.errors import NpError
from reconciler.state.document import utc_now
from reconciler.state.protocols import Locker, LockInfo


def holder_info(operation: str) -> LockInfo:
    """A fresh lock id and who is asking (pid, host, user), as the lock will show them."""
    return LockInfo(
        id=str(uuid.uuid4()),
        pid=os.getpid(),
        host=socket.gethostname(),
        user=_user(),
        operation=operation,
        created=utc_now(),
    )


@asynccontextmanager
async def keep_fresh(
    locker: Locker, warn: Callable[[str], None], every: float = 30.0
) -> AsyncIterator[None]:
    """Refresh the lock while a long apply runs, so that others see it is alive. If it was taken
    away (someone ran force-unlock), say so once: the apply goes on and journals as before."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(locker.refresh)
            except NpError as exc:  # LockLostError, or a store that cannot be reached
                warn(f"Warning: {exc}; another run may now change the same state")
                return

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return f"uid{os.getuid()}"
