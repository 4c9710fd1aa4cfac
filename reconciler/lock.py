"""The state lock: one np run at a time per state file (DESIGN §5).

The lock is the file ``STATE.lock``, created with O_EXCL so that of two racing runs exactly one
wins. It records who holds it, so the loser can say who and print the exact
``np force-unlock ID``. A lock left by a dead process is reported as stale, never taken over
silently: only a human decides that a run is really gone.

    with StateLock(Path("state/np.state.json"), "apply", timeout=30.0):
        ...
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from reconciler.errors import LockError
from reconciler.fsutil import write_new

_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class LockInfo:
    """What a lock file says about its holder; ``corrupt`` when the file could not be parsed.

    A corrupt lock has no holder details; its id is derived from the file's bytes, so that
    ``np force-unlock`` can still remove exactly that file and nothing written since.
    """

    path: Path
    id: str
    pid: int = 0
    host: str = ""
    user: str = ""
    operation: str = ""
    created: str = ""
    corrupt: bool = False

    def is_stale(self) -> bool:
        """True when the holder ran on this host and its process no longer exists."""
        if self.corrupt or self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, owned by another user
            return False
        return False

    def describe(self) -> str:
        """The holder block shown when the lock is in the way."""
        if self.corrupt:
            return "  The lock file is empty or unreadable, so its holder is unknown."
        return "\n".join(
            [
                f"  ID:        {self.id}",
                f"  Operation: {self.operation}",
                f"  Who:       {self.user}@{self.host} (pid {self.pid})",
                f"  Created:   {self.created}",
            ]
        )


def lock_path(state_path: Path) -> Path:
    return Path(f"{state_path}.lock")


def read_lock(state_path: Path) -> LockInfo | None:
    """The lock on ``state_path``, or None when it is not locked."""
    path = lock_path(state_path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LockError(f"cannot read lock file {path}: {exc.strerror or exc}") from exc
    return _parse(path, raw)


def _parse(path: Path, raw: bytes) -> LockInfo:
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    text_keys = ("id", "host", "user", "operation", "created")
    valid = (
        isinstance(doc, dict)
        and all(isinstance(doc.get(key), str) and doc[key] for key in text_keys)
        and type(doc.get("pid")) is int
        and doc["pid"] > 0  # os.kill(0 or negative) would signal a process group
    )
    if not valid:
        return LockInfo(path, id=f"corrupt-{hashlib.sha256(raw).hexdigest()[:12]}", corrupt=True)
    return LockInfo(path, **{key: doc[key] for key in (*text_keys, "pid")})


def _held_message(info: LockInfo) -> str:
    """Why a run cannot start: who holds the lock, whether it is stale, how to remove it."""
    lines = [f"state is locked ({info.path})", info.describe()]
    if info.is_stale():
        lines.append(f"The lock is stale: process {info.pid} is not running on this host.")
    lines.append(
        "Another np run may be in progress. If you are sure it is not, run: "
        f"np force-unlock {info.id}"
    )
    if info.corrupt:
        lines.append(f"(or delete {info.path})")
    return "\n".join(lines)


def force_unlock(state_path: Path, lock_id: str) -> LockInfo:
    """Remove the lock if its id is ``lock_id``; return what it said about its holder."""
    info = read_lock(state_path)
    if info is None:
        raise LockError(f"state {state_path} is not locked; nothing to unlock")
    if info.id != lock_id:
        raise LockError(
            f"lock ID {lock_id} does not match the lock on {state_path}; nothing removed\n"
            + info.describe()
        )
    info.path.unlink(missing_ok=True)
    return info


class StateLock:
    """Holds ``STATE.lock`` for one operation (plan, apply, import, state rm, ...)."""

    def __init__(self, state_path: Path, operation: str, timeout: float = 0.0) -> None:
        self.state_path = state_path
        self.path = lock_path(state_path)
        self.operation = operation
        self.timeout = timeout
        self.id: str | None = None

    def acquire(self, timeout: float = 0.0) -> None:
        """Take the lock, polling for up to ``timeout`` seconds; LockError if still held."""
        deadline = time.monotonic() + timeout
        lock_id = str(uuid.uuid4())
        body = json.dumps(self._holder(lock_id), indent=2) + "\n"
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise LockError(f"cannot create lock file {self.path}: {exc.strerror}") from exc
        while True:
            try:
                write_new(self.path, body)
            except FileExistsError:
                info = read_lock(self.state_path)
                if info is None:  # released between our attempt and the read: try again
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LockError(_held_message(info)) from None
                time.sleep(min(_POLL_SECONDS, remaining))
            except OSError as exc:
                raise LockError(f"cannot create lock file {self.path}: {exc.strerror}") from exc
            else:
                self.id = lock_id
                return

    def release(self) -> None:
        """Remove the lock, but only if it is still ours (it may have been force-unlocked)."""
        if self.id is None:
            return
        if self._is_ours():
            self.path.unlink(missing_ok=True)
        self.id = None

    def refresh(self) -> None:
        """Touch the lock so a long apply shows it is alive; LockError if it is no longer ours."""
        if self.id is None or not self._is_ours():
            raise LockError(
                f"lost the state lock {self.path}: it was removed or taken by another run"
            )
        os.utime(self.path)

    def _is_ours(self) -> bool:
        info = read_lock(self.state_path)
        return info is not None and info.id == self.id

    def _holder(self, lock_id: str) -> dict[str, Any]:
        return {
            "id": lock_id,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "user": _user(),
            "operation": self.operation,
            "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def __enter__(self) -> StateLock:
        self.acquire(self.timeout)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return f"uid{os.getuid()}"
