"""The local lock: the file ``STATE.lock`` beside the state, holding its holder as JSON.

A lock is never visible without its content: the holder is written to a private temporary file
first (fsync'd), then link(2)ed into place, which fails if a lock is already there, so of two
racing runs exactly one wins and the loser always reads a whole holder. A lock left by a dead
process on this host is reported as stale, never taken over: only a human decides that a run is
really gone (``np force-unlock ID``).

    locker = LocalLocker(Path("state/np.state.json"))
    locker.acquire(holder_info("apply"), timeout=30.0)   # LockHeldError naming the holder
    ...
    locker.release()
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

from reconciler.errors import LockError
from reconciler.fsutil import private_dirs, read_bytes, write_new
from reconciler.state.locking import MAX_LOCK_BYTES, holder_gone, lock_record, parse_lock
from reconciler.state.protocols import LockHeldError, LockInfo, LockLostError

_POLL_SECONDS = 0.1

_PARTIAL_RETRIES = 10
"""A lock written by an older np (create, then write) may be read half-written: look again a
few times, 20 ms apart, before calling it corrupt."""
_PARTIAL_WAIT = 0.02


class LocalLocker:
    """The lock on the local state at ``state_path`` (the file ``state_path.lock``)."""

    def __init__(self, state_path: Path) -> None:
        self.state_path = state_path
        self.path = Path(f"{state_path}.lock")
        self._id: str | None = None

    def describe(self) -> str:
        return str(self.path)

    def acquire(self, info: LockInfo, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        body = json.dumps(lock_record(info), indent=2) + "\n"
        try:
            private_dirs(self.path.parent)
        except OSError as exc:
            raise LockError(f"cannot create lock file {self.path}: {exc.strerror}") from exc
        while True:
            try:
                _publish(self.path, body)
            except FileExistsError:
                held = self.read()
                if held is None:  # released between our attempt and the read: try again
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LockHeldError(held, str(self.path), holder_gone(held)) from None
                time.sleep(min(_POLL_SECONDS, remaining))
            except OSError as exc:
                raise LockError(f"cannot create lock file {self.path}: {exc.strerror}") from exc
            else:
                self._id = info.id
                return

    def refresh(self) -> None:
        """Touch our lock so that a long apply shows it is alive."""
        if not self._is_ours():
            raise self._lost()
        try:
            os.utime(self.path, follow_symlinks=False)
        except FileNotFoundError:  # force-unlocked between the check and the touch
            raise self._lost() from None

    def release(self) -> None:
        if self._id is None:
            return
        if self._is_ours():
            self.path.unlink(missing_ok=True)
        self._id = None

    def read(self) -> LockInfo | None:
        retries = _PARTIAL_RETRIES
        while True:
            try:
                raw = read_bytes(self.path, MAX_LOCK_BYTES)
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise LockError(
                    f"cannot read lock file {self.path}: {exc.strerror or exc}"
                ) from exc
            info = parse_lock(raw)
            if not info.corrupt or retries == 0:
                return info
            retries -= 1
            time.sleep(_PARTIAL_WAIT)

    def remove(self, holder: LockInfo) -> bool:
        held = self.read()
        if held is None or held.id != holder.id:
            return False
        self.path.unlink(missing_ok=True)
        return True

    def _is_ours(self) -> bool:
        if self._id is None:
            return False
        held = self.read()
        return held is not None and held.id == self._id

    def _lost(self) -> LockLostError:
        return LockLostError(
            f"lost the state lock {self.path}: it was removed or taken by another run"
        )


def _publish(path: Path, body: str) -> None:
    """Create ``path`` holding ``body`` in one step; FileExistsError if it is there already."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    write_new(tmp, body)
    try:
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
