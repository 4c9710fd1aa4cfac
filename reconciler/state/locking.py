"""Lock helpers every backend and its callers share: who we are, how a holder is written down
and read back, whether it is gone, and the keeper that proves a held lock is still ours.

locker.acquire(holder_info("apply"), timeout)
keeper = Keeper(locker, notice); keeper.start()   # refreshed every 30 s while held
keeper.prove()                                     # before sending: LockLostError if not ours
keeper.stop(); locker.release()
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from reconciler.errors import LockError, NpError
from reconciler.state.document import utc_now
from reconciler.state.protocols import Locker, LockInfo, LockLostError


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
MAX_LOCK_BYTES = 64 * 1024
"""A holder record is a few hundred bytes: a longer lock is read as corrupt, not parsed."""


def lock_record(info: LockInfo) -> dict[str, Any]:
    """The holder as the lock stores it (a JSON object)."""
    return {name: getattr(info, name) for name in LOCK_FIELDS}


def parse_lock(raw: bytes) -> LockInfo:
    """A stored holder; one that cannot be read is ``corrupt``, its id derived from its bytes,
    so that ``np force-unlock`` removes exactly that lock and nothing written since."""
    try:
        doc = json.loads(raw) if len(raw) <= MAX_LOCK_BYTES else None
    except (ValueError, RecursionError):
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


Notice = Callable[[str], None]

HEARTBEAT_SECONDS = 30.0
"""How often a held lock is refreshed; others call it stale only after minutes without one."""
RETRY_SECONDS = 5.0
"""After a refresh that could not reach the store: try again this soon, not in 30 s."""
PROVE_ATTEMPTS = 3


class Keeper:
    """Keeps a held lock fresh for as long as it is held — planning, the approval prompt, the
    requests and the waits — and proves it is still ours before anything is sent.

    A refresh that cannot reach the store is tried again (the lock may well still be ours); a
    lock known to be gone (force-unlocked, taken, its session ended) is lost for good, and
    ``notice`` hears of it once. Thread-safe: the heartbeat runs in a thread of its own, while
    apply proves from the event loop's workers and the prompt blocks the main thread.
    """

    def __init__(self, locker: Locker, notice: Notice, every: float = HEARTBEAT_SECONDS) -> None:
        self._locker = locker
        self._notice = notice
        self._every = every
        self._mutex = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._proven_at = time.monotonic()
        self.lost: LockLostError | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._beat, name="np-lock-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()

    def prove(self) -> None:
        """Return once the store has shown the lock to be ours after this call began; raise
        LockLostError when it is not, or LockError when the store cannot tell us. Callers
        that ask at the same time share one round trip: a proof that completed after a
        caller asked serves that caller too."""
        asked = time.monotonic()
        with self._mutex:
            if self.lost is not None:
                raise self.lost
            if self._proven_at > asked:
                return
            problem: NpError | None = None
            for attempt in range(PROVE_ATTEMPTS):
                if attempt:
                    time.sleep(attempt * 0.5)
                try:
                    self._refresh()
                    return
                except LockLostError:
                    raise
                except NpError as exc:  # the store did not answer: it may answer next time
                    problem = exc
            raise LockError(f"cannot show that this run still holds the state lock: {problem}")

    def _refresh(self) -> None:
        """One refresh, under the mutex; a lost lock is remembered and said once."""
        try:
            self._locker.refresh()
        except LockLostError as exc:
            if self.lost is None:
                self.lost = exc
                self._notice(f"Warning: {exc}; np sends nothing more")
            raise
        self._proven_at = time.monotonic()

    def _beat(self) -> None:
        wait = self._every
        while not self._stopped.wait(wait):
            with self._mutex:
                if self.lost is not None:
                    return
                try:
                    self._refresh()
                    wait = self._every
                except LockLostError:
                    return
                except NpError:  # unreachable for now; the lock may still be ours
                    wait = min(RETRY_SECONDS, self._every)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return f"uid{os.getuid()}"
