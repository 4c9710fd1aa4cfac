"""The local backend: files beside each other in the state directory.

state/np.state.json           the checkpoint (atomic 0600 writes)
state/np.state.json.backup    the checkpoint as it was before this run's first write
state/np.state.json.journal   changes since the checkpoint, one fsync'd line per batch
state/np.state.json.lock      the lock (see local_lock.py)
state/np.state.d/NAME/np.state.json (and its backup, journal, lock): workspace NAME

backend = open_backend({"path": "state/np.state.json", "within": "."}, workspace="default",
                       environ=os.environ, where="state")

With ``within`` (the configuration directory, when the state is in its default place there),
a state directory that is a symlink leading out of it is refused: a pull request may commit one.
No file is read, appended or written through a symlink.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from reconciler.errors import StateError
from reconciler.fsutil import (
    PRIVATE_MODE,
    OutsideDirectory,
    atomic_write,
    confine,
    fsync_dir,
    open_nofollow,
    private_dirs,
    read_bytes,
)
from reconciler.state.document import State, decode, parse, render
from reconciler.state.local_lock import LocalLocker
from reconciler.state.protocols import (
    DEFAULT_WORKSPACE,
    NOTHING_STORED,
    Backend,
    JournalRecord,
    StateConflict,
    Stored,
    Version,
)


class LocalStore:
    """The checkpoint file at ``path``; its backup at ``path.backup``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.backup_path = Path(f"{path}.backup")
        self._backed_up = False
        """The backup is the state as it was before this run: taken at the first write only."""
        self._known: tuple[tuple[int, int, int], Version] | None = None
        """(inode, mtime, size) of the file last read or written, and its version: a write
        compares the file with it instead of parsing the whole file again."""

    def describe(self) -> str:
        return str(self.path)

    def restore_hint(self) -> str | None:
        if not self.backup_path.exists():
            return None
        return (
            f"The state before the last run that wrote it is kept at {self.backup_path}: restore "
            f"it with `cp {shlex.quote(str(self.backup_path))} {shlex.quote(str(self.path))}`"
        )

    def known_stamp(self) -> tuple[int, int, int] | None:
        """The stamp of the file as last read or written (None: none was there)."""
        return None if self._known is None else self._known[0]

    def read(self) -> Stored:
        """The checkpoint; a run's first write after this backs it up."""
        self._backed_up = False
        return self._load()

    def _load(self) -> Stored:
        try:
            with os.fdopen(open_nofollow(self.path, os.O_RDONLY), "rb") as file:
                stamp = _stamp(os.fstat(file.fileno()))
                text = decode(file.read(), str(self.path))
        except FileNotFoundError:
            self._known = None
            if self.backup_path.exists():
                raise StateError(
                    f"{self.path} is missing, but its backup {self.backup_path} is there: if the "
                    f"state was removed by mistake, restore it with `cp {self.backup_path} "
                    f"{self.path}`; to start from an empty state, delete the backup"
                ) from None
            return Stored(None, NOTHING_STORED)
        except OSError as exc:
            raise StateError(f"cannot read state {self.path}: {exc.strerror or exc}") from exc
        try:
            state = parse(text, str(self.path))
        except StateError as exc:
            hint = self.restore_hint()
            raise StateError(f"{exc}. {hint}" if hint else str(exc)) from None
        version = Version(state.lineage, state.serial)
        self._known = (stamp, version)
        return Stored(state, version)

    def write(self, state: State, expected: Version) -> Version:
        try:
            private_dirs(self.path.parent)
            with _exclusive(self.path.parent):  # the compare and the swap, as one step
                current = self._current()
                if (current.lineage, current.serial) != (expected.lineage, expected.serial):
                    raise StateConflict(
                        f"{self.path} changed while np was using it ({_version(expected)} → "
                        f"{_version(current)}): another run wrote it; nothing more was written"
                    )
                if not self._backed_up:
                    self._backup()
                    self._backed_up = True
                atomic_write(self.path, render(state))
                stamp = _stamp(self.path.lstat())
        except OSError as exc:
            raise StateError(f"cannot write state {self.path}: {exc.strerror or exc}") from exc
        version = Version(state.lineage, state.serial)
        self._known = (stamp, version)
        return version

    def stamp(self) -> tuple[int, int, int] | None:
        """(inode, mtime, size) of the checkpoint file now; None when there is none."""
        try:
            return _stamp(self.path.lstat())
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read state {self.path}: {exc.strerror or exc}") from exc

    def _current(self) -> Version:
        try:
            stamp = _stamp(self.path.lstat())
        except FileNotFoundError:
            return NOTHING_STORED
        except OSError as exc:
            raise StateError(f"cannot read state {self.path}: {exc.strerror or exc}") from exc
        if self._known is not None and self._known[0] == stamp:
            return self._known[1]
        return self._load().version

    def _backup(self) -> None:
        try:
            previous = read_bytes(self.path)
        except FileNotFoundError:
            return
        atomic_write(self.backup_path, previous)


class LocalJournal:
    """The journal file: one line per appended batch, a JSON array of records.

    Appends keep the file open (O_APPEND) and fdatasync each line: O(batch) work, whatever
    the size of the state.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def describe(self) -> str:
        return str(self.path)

    def append(self, records: Sequence[JournalRecord]) -> None:
        if not records:
            return
        line = json.dumps(
            [record.to_json() for record in records], ensure_ascii=False, separators=(",", ":")
        )
        data = (line + "\n").encode()
        try:
            fd = self._open()
            start = os.lseek(fd, 0, os.SEEK_END)
            try:
                while data:
                    data = data[os.write(fd, data) :]
                os.fdatasync(fd)
            except OSError:
                with suppress(OSError):  # leave no torn line for the next batch to follow
                    os.ftruncate(fd, start)
                raise
        except OSError as exc:
            raise StateError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    def read(self) -> list[JournalRecord]:
        try:
            raw = read_bytes(self.path)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StateError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        lines = raw.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        records: list[JournalRecord] = []
        for number, line in enumerate(lines, 1):
            last = number == len(lines)
            if last and not raw.endswith(b"\n"):
                break  # a torn batch: its append never returned
            try:
                docs = json.loads(line)
            except ValueError as exc:
                if last:
                    break  # torn before its newline reached the disk
                raise StateError(f"{self.path}:{number}: not valid JSON: {exc}") from exc
            if not isinstance(docs, list):
                raise StateError(f"{self.path}:{number}: expected an array of records")
            where = f"{self.path}:{number}"
            records += [JournalRecord.from_json(doc, where) for doc in docs]
        return records

    def clear(self, upto: Version) -> None:
        keep = [
            r for r in self.read() if r.lineage == upto.lineage and r.base_serial >= upto.serial
        ]
        self.close()
        try:
            if keep:
                line = json.dumps([r.to_json() for r in keep], ensure_ascii=False)
                atomic_write(self.path, line + "\n")
            else:
                self.path.unlink(missing_ok=True)
        except OSError as exc:
            raise StateError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> int:
        if self._fd is not None:
            return self._fd
        private_dirs(self.path.parent)
        fd = open_nofollow(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            os.fchmod(fd, PRIVATE_MODE)  # O_CREAT's mode is masked by the umask
            _drop_torn_tail(fd, self.path)
            fsync_dir(self.path.parent)  # the file's name is as durable as its lines
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return fd


def _drop_torn_tail(fd: int, path: Path) -> None:
    """Cut a batch torn by a crash, so that the next one starts on a line of its own."""
    size = os.fstat(fd).st_size
    if size == 0:
        return
    raw = read_bytes(path)
    if not raw.endswith(b"\n"):
        os.ftruncate(fd, raw.rfind(b"\n") + 1)


class LocalWorkspaces:
    """Workspace ``default`` is the state file itself; another NAME lives in ``STEM.d/NAME/``
    (``state/np.state.d/NAME/np.state.json``), as Terraform keeps ``terraform.tfstate.d``."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base.with_suffix(".d")

    def state_path(self, name: str) -> Path:
        return self.base if name == DEFAULT_WORKSPACE else self.root / name / self.base.name

    def list(self) -> list[str]:
        names = [DEFAULT_WORKSPACE] if _holds_state(self.base) else []
        if self.root.is_dir():
            names += [d.name for d in self.root.iterdir() if _holds_state(d / self.base.name)]
        return sorted(names)

    def delete(self, name: str) -> None:
        if name == DEFAULT_WORKSPACE:
            raise StateError("the default workspace cannot be deleted")
        path = self.state_path(name)
        try:
            for suffix in ("", ".backup", ".journal", ".lock"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            for leftover in path.parent.glob(f".{path.name}*.tmp"):
                leftover.unlink(missing_ok=True)
            path.parent.rmdir()
        except OSError as exc:
            raise StateError(f"cannot delete workspace {name}: {exc.strerror or exc}") from exc


SETTINGS = ("path", "within")
SNAPSHOT_ATTEMPTS = 20


def open_backend(
    settings: Mapping[str, str], *, workspace: str, environ: Mapping[str, str], where: str
) -> Backend:
    """The local backend for ``workspace``: ``path`` is the default workspace's state file;
    ``within`` (optional) the directory every state file must stay inside."""
    del environ  # nothing secret: the files are where the settings say
    base = Path(settings["path"])
    workspaces = LocalWorkspaces(base)
    path = workspaces.state_path(workspace)
    if "within" in settings:
        try:
            confine(path, Path(settings["within"]))
        except OutsideDirectory as exc:
            raise StateError(
                f"{where}: {path.parent}: {exc.strerror}; np will not write there"
            ) from None
    store = LocalStore(path)
    journal = LocalJournal(Path(f"{path}.journal"))

    def snapshot() -> tuple[Stored, list[JournalRecord]]:
        """The checkpoint and journal of one moment: read again if a checkpoint (which
        rewrites the file, then clears the journal) landed between the two reads."""
        for _ in range(SNAPSHOT_ATTEMPTS):
            stored = store.read()
            records = journal.read()
            if store.stamp() == store.known_stamp():
                return stored, records
        raise StateError(f"{path} kept changing while np read it; try again")

    locker = LocalLocker(path)

    def close() -> None:
        locker.release()
        journal.close()

    return Backend(
        store=store,
        journal=journal,
        locker=locker,
        workspaces=workspaces,
        workspace=workspace,
        snapshot=snapshot,
        close=close,
    )


@contextmanager
def _exclusive(directory: Path) -> Iterator[None]:
    """An advisory lock on the state directory while one write compares and swaps: two
    writers (processes or threads) never both see the version they expect."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _holds_state(path: Path) -> bool:
    return path.exists() or Path(f"{path}.journal").exists()


def _stamp(info: os.stat_result) -> tuple[int, int, int]:
    return info.st_ino, info.st_mtime_ns, info.st_size


def _version(version: Version) -> str:
    if version.lineage is None:
        return "no state"
    return f"lineage {version.lineage} serial {version.serial}"
