"""Private (0600) file writes that survive a crash at any instant, and never follow a link.

    atomic_write(Path("state/np.state.json"), text)   # readers see the old or the new file, whole
    write_new(Path("state/np.state.json.lock"), data) # FileExistsError if it is already there
    read_bytes(Path("state/np.state.json"))           # SymlinkRefused if it is a symlink
    confine(Path("state/np.state.json"), Path("."))   # OutsideDirectory if state/ leads out
    private_dirs(Path("state/np.state.d/staging"))     # every missing level 0700

State, backups, locks, saved plans and the simulator's world may hold infrastructure details,
so every file np writes is created 0600 whatever the umask is. A configuration directory may
come from a pull request, and a pull request can commit symlinks: nothing np creates, appends
or reads back there follows one (``O_NOFOLLOW``; a new file is created with ``O_EXCL`` and
renamed into place, which replaces a link rather than writing through it).
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

PRIVATE_MODE = 0o600
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class SymlinkRefused(OSError):
    """np was asked to open a symlink where it only opens files."""


class OutsideDirectory(OSError):
    """A path np would write leads out of the directory it must stay in (through a link)."""


def open_nofollow(path: Path, flags: int, mode: int = PRIVATE_MODE) -> int:
    """``os.open`` that refuses a symlink as the last component (ELOOP → SymlinkRefused)."""
    try:
        return os.open(path, flags | NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SymlinkRefused(errno.ELOOP, "is a symbolic link; np does not follow it") from None
        raise


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    """The file's bytes (at most ``limit`` + 1, so a caller can tell it is too big), never
    through a symlink."""
    fd = open_nofollow(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as file:
        return file.read() if limit is None else file.read(limit + 1)


def confine(path: Path, root: Path) -> Path:
    """``path`` if its directory, links resolved, is ``root`` or inside it; else
    OutsideDirectory. Where a directory does not exist yet, its nearest existing parent is
    judged (np will create the rest, inside it)."""
    base = os.path.realpath(root)
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    real = os.path.realpath(existing)
    if real != base and not real.startswith(base.rstrip(os.sep) + os.sep):
        raise OutsideDirectory(errno.EXDEV, f"leads out of {root} (to {real})")
    return path


def write_new(path: Path, data: bytes | str) -> None:
    """Create ``path`` exclusively (O_EXCL, 0600), write ``data`` and fsync it.

    Raises FileExistsError when the file exists; that is what makes it usable as a lock. A write
    that fails half way removes the file again, so no partial file is left behind.
    """
    payload = data.encode() if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | NOFOLLOW, PRIVATE_MODE)
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), PRIVATE_MODE)  # O_CREAT's mode is masked by the umask
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def private_dirs(directory: Path) -> None:
    """Create ``directory`` and any missing parent as 0700 (``mkdir(parents=True)`` would give
    the parents the umask's default mode)."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)


def atomic_write(path: Path, data: bytes | str, mode: int = PRIVATE_MODE) -> None:
    """Replace ``path`` with ``data`` (0600 unless ``mode`` says otherwise): the old or the new
    content, never a partial file.

    The temporary file lives in the same directory so that ``os.replace`` is an atomic rename;
    the directory is fsynced afterwards so the rename itself survives a power loss.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    write_new(tmp, data)
    try:
        if mode != PRIVATE_MODE:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry change (create, rename, unlink) to disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
