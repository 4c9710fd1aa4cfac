"""Where policies come from, and reading them safely.

    sources = policy_sources(config_dir, os.environ, policy_dirs=[Path("/etc/np/policy")])
    files = read_policies(sources[0])      # [PolicyFile(name="/etc/np/policy/limits.rego", ...)]

Two kinds of directory: the operator's (``NP_POLICY_PATH``, colon-separated, and ``--policy
DIR``), always evaluated, and the configuration's own ``policy/`` directory, which comes with
the pull request and may only add rules. The engine evaluates the two apart, so nothing in the
second can change how the first decides.

A policy directory is read recursively (``*.rego``; names starting with ``.`` are skipped). A
symlink that resolves outside its directory is refused, as is anything that is not a regular
file, and sizes are bounded, so a pull request cannot make np read ``/etc/shadow`` as a policy
or exhaust memory before evaluation starts.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reconciler.policy.results import PolicyError

Origin = Literal["operator", "configuration"]

MAX_FILE_BYTES = 1 << 20
MAX_SET_BYTES = 16 << 20
MAX_FILES = 1000
CONFIG_POLICY_DIR = "policy"


@dataclass(frozen=True, slots=True)
class PolicySource:
    """A directory of policies, ``shown`` as the user named it."""

    directory: Path
    shown: str
    origin: Origin


@dataclass(frozen=True, slots=True)
class PolicyFile:
    """One policy file: ``name`` is what every message and result calls it."""

    name: str
    text: str
    origin: Origin


def policy_sources(
    config_dir: Path | None,
    environ: Mapping[str, str],
    policy_dirs: Sequence[Path] = (),
) -> list[PolicySource]:
    """The operator's directories (``NP_POLICY_PATH`` then ``--policy``), then the
    configuration's ``policy/`` when it exists. A named operator directory that is missing is
    an error: a typo must not switch the operator's policies off."""
    sources: list[PolicySource] = []
    seen: set[Path] = set()
    named = [(Path(p), "NP_POLICY_PATH") for p in environ.get("NP_POLICY_PATH", "").split(":") if p]
    named += [(p, "--policy") for p in policy_dirs]
    for directory, where in named:
        if not directory.is_dir():
            raise PolicyError(f"{where}: {directory}: no such policy directory")
        key = directory.resolve()
        if key not in seen:
            seen.add(key)
            sources.append(PolicySource(directory, str(directory).rstrip("/"), "operator"))
    if config_dir is not None:
        own = config_dir / CONFIG_POLICY_DIR
        if own.exists() or own.is_symlink():
            if not own.is_dir() or not own.resolve().is_relative_to(config_dir.resolve()):
                raise PolicyError(
                    f"{CONFIG_POLICY_DIR}: refused: must be a directory inside the "
                    "configuration directory"
                )
            if own.resolve() not in seen:
                sources.append(PolicySource(own, CONFIG_POLICY_DIR, "configuration"))
    return sources


def read_policies(source: PolicySource, *, tests: bool = False) -> list[PolicyFile]:
    """Every ``*.rego`` file under ``source``, sorted; ``*_test.rego`` only with ``tests``."""
    root = source.directory.resolve()
    files: list[PolicyFile] = []
    total = 0
    for path in _walk(source.directory, source, root):
        name = f"{source.shown}/{path.relative_to(source.directory).as_posix()}"
        if name.endswith("_test.rego") and not tests:
            continue
        text = _read(path, root, name)
        total += len(text)
        if len(files) >= MAX_FILES:
            raise PolicyError(f"{source.shown}: more than {MAX_FILES} policy files")
        if total > MAX_SET_BYTES:
            raise PolicyError(f"{source.shown}: policies larger than {MAX_SET_BYTES >> 20} MiB")
        files.append(PolicyFile(name, text, source.origin))
    return files


def _walk(directory: Path, source: PolicySource, root: Path) -> list[Path]:
    found: list[Path] = []
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        raise PolicyError(f"{source.shown}: cannot read the directory: {exc.strerror}") from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        if entry.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(root):
                where = f"{source.shown}/{path.relative_to(source.directory).as_posix()}"
                raise PolicyError(
                    f"{where}: refused: a symlink that points outside its policy directory"
                )
            if target.is_dir():
                continue  # its files are read where they really are
        if entry.is_dir(follow_symlinks=False):
            found += _walk(path, source, root)
        elif entry.name.endswith(".rego"):
            found.append(path)
    return found


def _read(path: Path, root: Path, name: str) -> str:
    real = path.resolve()
    if not real.is_relative_to(root):
        raise PolicyError(f"{name}: refused: a symlink that points outside its policy directory")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise PolicyError(f"{name}: cannot read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise PolicyError(f"{name}: refused: not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise PolicyError(f"{name}: larger than {MAX_FILE_BYTES >> 20} MiB")
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise PolicyError(f"{name}: larger than {MAX_FILE_BYTES >> 20} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PolicyError(f"{name}:{line}: not UTF-8 text") from None
