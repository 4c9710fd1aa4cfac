"""``.np/`` in a configuration directory: what np remembers there between runs, as Terraform's
``.terraform/`` does — the backend the directory last used (its type and the settings the
configuration writes, never a secret), the workspace ``np workspace select`` chose, and for
each workspace the lineage and serial of the state np last saw there.

    workdir = Workdir(Path("infra"))
    workdir.backend()                        # -> Remembered("pg", {"schema_name": "np"}) or None
    workdir.remember_backend(Remembered("s3", {"bucket": "b", "key": "k"}))
    workdir.selected()                       # -> "staging", or None: the default workspace
    workdir.seen("default")                  # -> Seen("0b8f…", 25, "2026-…") or None

Why: without it, adding or removing a ``backend`` block, or a state object that vanished,
silently makes np start from another (or an empty) state and adopt or re-create everything.

A configuration directory may come from a pull request, so ``.np/`` is read as hostile input:
never through a symbolic link, each file bounded in size, every value checked, and any
surprise one error that names the file and says to delete it. It is created 0700 with files
0600 and holds a ``.gitignore`` of ``*``, so git never picks it up.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import NpError, shown
from reconciler.fsutil import SymlinkRefused, atomic_write, private_dirs, read_bytes
from reconciler.state.opening import check_workspace

DIRECTORY = ".np"
MAX_FILE = 64 * 1024
"""No file np writes in ``.np/`` comes near this; a bigger one is not np's."""
_KIND = re.compile(r"[a-z][a-z0-9]{0,15}")
_SETTING = re.compile(r"[a-z][a-z0-9_]{0,63}")
_LINEAGE = re.compile(r"[A-Za-z0-9._-]{1,128}")
_MAX_SETTINGS, _MAX_VALUE = 32, 1024
_GITIGNORE = "# np's memory of this configuration directory (np init): never commit it\n*\n"


class WorkdirError(NpError):
    """``.np/`` cannot be read or written as np keeps it."""


@dataclass(frozen=True)
class Remembered:
    """A backend as ``.np/`` remembers it: its type (``local``, ``pg``, ``s3``) and the
    settings its block writes (the local backend has none)."""

    kind: str
    settings: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """``local``, ``pg (schema_name np)``, ``s3 (bucket infra-state, key a/np.json)``."""
        if not self.settings:
            return self.kind
        pairs = ", ".join(f"{k} {shown(v, 80)}" for k, v in sorted(self.settings.items()))
        return f"{self.kind} ({pairs})"

    def same(self, other: Remembered) -> bool:
        return self.kind == other.kind and dict(self.settings) == dict(other.settings)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "settings": dict(sorted(self.settings.items()))}


LOCAL = Remembered("local")


@dataclass(frozen=True)
class Seen:
    """The state np last saw in one workspace: enough to notice that it vanished or was
    replaced by another, and to say what to restore."""

    lineage: str
    serial: int
    at: str
    """When (UTC, ISO 8601)."""

    def describe(self) -> str:
        return f"lineage {self.lineage} serial {self.serial} (at {self.at})"


class Workdir:
    """``DIRECTORY/.np``: read and written only through here."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / DIRECTORY

    # --- the backend -----------------------------------------------------------------------

    def backend(self) -> Remembered | None:
        """The backend this directory last used; None when it has no record."""
        doc = self._read_json("backend.json")
        if doc is None:
            return None
        where = self._name("backend.json")
        if not isinstance(doc, dict) or set(doc) != {"type", "settings"}:
            raise self._unexpected(where, "expected an object with type and settings")
        kind, settings = doc["type"], doc["settings"]
        if not isinstance(kind, str) or not _KIND.fullmatch(kind):
            raise self._unexpected(where, "type is not a backend type")
        if not isinstance(settings, dict) or len(settings) > _MAX_SETTINGS:
            raise self._unexpected(where, "settings is not an object of a few settings")
        for key, value in settings.items():
            if not _SETTING.fullmatch(key) or not _plain(value, _MAX_VALUE):
                raise self._unexpected(where, f"setting {shown(key, 64)!r} is not np's")
        return Remembered(kind, settings)

    def remember_backend(self, backend: Remembered) -> None:
        self._write("backend.json", json.dumps(backend.to_json(), indent=2) + "\n")

    # --- the selected workspace ------------------------------------------------------------

    def selected(self) -> str | None:
        """The workspace ``np workspace select`` chose here; None: none was (``default``)."""
        data = self._read("workspace")
        if data is None:
            return None
        name = data.decode("utf-8", "replace").strip()
        try:
            return check_workspace(name)
        except NpError:
            raise self._unexpected(self._name("workspace"), "not a workspace name") from None

    def select(self, workspace: str) -> None:
        self._write("workspace", check_workspace(workspace) + "\n")

    # --- the states seen -------------------------------------------------------------------

    def seen(self, workspace: str) -> Seen | None:
        """The state np last saw in ``workspace`` of the remembered backend."""
        name = f"seen/{check_workspace(workspace)}.json"
        doc = self._read_json(name)
        if doc is None:
            return None
        where = self._name(name)
        if not isinstance(doc, dict) or set(doc) != {"lineage", "serial", "at"}:
            raise self._unexpected(where, "expected an object with lineage, serial and at")
        lineage, serial, at = doc["lineage"], doc["serial"], doc["at"]
        if not isinstance(lineage, str) or not _LINEAGE.fullmatch(lineage):
            raise self._unexpected(where, "lineage is not a state's lineage")
        if type(serial) is not int or not 0 < serial < 2**63:
            raise self._unexpected(where, "serial is not a state's serial")
        if not _plain(at, 64):
            raise self._unexpected(where, "at is not a time")
        return Seen(lineage, serial, at)

    def remember_seen(self, workspace: str, seen: Seen) -> None:
        doc = {"lineage": seen.lineage, "serial": seen.serial, "at": seen.at}
        self._write(f"seen/{check_workspace(workspace)}.json", json.dumps(doc) + "\n")

    def forget_seen(self, workspace: str | None = None) -> None:
        """Forget what was seen in ``workspace`` (None: in every workspace)."""
        seen = self.path / "seen"
        if not self._real_directory(seen):
            return
        names = [f"{check_workspace(workspace)}.json"] if workspace else os.listdir(seen)
        for name in names:
            try:
                (seen / name).unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise WorkdirError(f"cannot remove {self._name('seen/' + name)}: {exc}") from None

    # --- files -----------------------------------------------------------------------------

    def _name(self, name: str) -> str:
        return str(self.path / name)

    def _unexpected(self, where: str, problem: str) -> WorkdirError:
        return WorkdirError(
            f"{where}: {problem}; np did not write this file. Delete {self.path} and run "
            "np init to record the backend again"
        )

    def _real_directory(self, path: Path) -> bool:
        """True when ``path`` is a directory (not a link to one); False when absent."""
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise WorkdirError(f"cannot read {path}: {exc.strerror or exc}") from None
        if stat.S_ISLNK(mode) or not stat.S_ISDIR(mode):
            raise WorkdirError(
                f"{path} is not a directory np made (a symbolic link or a file); np does not "
                f"follow it: delete {path} and run np init"
            )
        return True

    def _read(self, name: str) -> bytes | None:
        path = self.path / name
        if not self._real_directory(self.path) or not self._real_directory(path.parent):
            return None
        try:
            data = read_bytes(path, MAX_FILE)
        except FileNotFoundError:
            return None
        except SymlinkRefused:
            raise self._unexpected(str(path), "is a symbolic link") from None
        except OSError as exc:
            if exc.errno == errno.EISDIR:
                raise self._unexpected(str(path), "is a directory") from None
            raise WorkdirError(f"cannot read {path}: {exc.strerror or exc}") from None
        if len(data) > MAX_FILE:
            raise self._unexpected(str(path), f"is larger than {MAX_FILE} bytes")
        return data

    def _read_json(self, name: str) -> Any:
        data = self._read(name)
        if data is None:
            return None
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            raise self._unexpected(self._name(name), "not valid JSON") from None

    def _write(self, name: str, text: str) -> None:
        path = self.path / name
        try:
            for directory in (self.path, path.parent):
                if not self._real_directory(directory):
                    private_dirs(directory)
            ignore = self.path / ".gitignore"
            if not ignore.exists() and not ignore.is_symlink():
                atomic_write(ignore, _GITIGNORE)
            atomic_write(path, text)
        except OSError as exc:
            raise WorkdirError(f"cannot write {path}: {exc.strerror or exc}") from None


def _plain(value: object, limit: int) -> bool:
    """A short printable string: what a setting or a time is."""
    return isinstance(value, str) and len(value) <= limit and value.isprintable()
