"""Lock helpers every backend and its callers share: who we are, how a holder is written down
and read back, whether it is gone, and the heartbeat of a long run.

locker.acquire(holder_info("apply"), timeout)
async with keep_fresh(locker, warn):   # refreshes every 30 s; warns once if the lock is lost
    await long_apply()
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

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


LOCK_FIELDS = ("id", "pid", "host", "user", "operation", "created")


def lock_record(info: LockInfo) -> dict[str, Any]:
    """The holder as the lock stores it (a JSON object)."""
    return {name: getattr(info, name) for name in LOCK_FIELDS}


def parse_lock(raw: bytes) -> LockInfo:
    """A stored holder; one that cannot be read is ``corrupt``, its id derived from its bytes,
    so that ``np force-unlock`` removes exactly that lock and nothing written since."""
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    valid = (
        isinstance(doc, dict)
        and all(isinstance(doc.get(k), str) and doc[k] for k in LOCK_FIELDS if k != "pid")
        and type(doc.get("pid")) is int
        and doc["pid"] > 0  # os.kill(0 or negative) would signal a process group
    )
    if not valid:
        return LockInfo(id=f"corrupt-{hashlib.sha256(raw).hexdigest()[:12]}", corrupt=True)
    assert isinstance(doc, dict)
    return LockInfo(**{name: doc[name] for name in LOCK_FIELDS})


def holder_gone(holder: LockInfo) -> str | None:
    """Why a holder is known to be gone: it ran on this host and its process no longer exists.
    Nothing is known of a holder on another host."""
    if holder.corrupt or holder.host != socket.gethostname() or holder.pid <= 0:
        return None
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return f"process {holder.pid} is not running on this host"
    except PermissionError:  # alive, owned by another user
        return None
    return None


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
