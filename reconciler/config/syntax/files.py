"""Which files in a configuration directory np reads, and as what.

Configuration: ``*.hcl``, ``*.yaml``, ``*.yml``, suffixes in any case (``gpu.YAML`` is read: a
file skipped for its spelling would look like deleted node pools). Variable files that load by
themselves: ``np.npvars``, ``np.npvars.json``, then ``*.auto.npvars`` and
``*.auto.npvars.json`` in name order. Never read, as in Terraform: names that begin with ``.``
(``.pre-commit-config.yaml``, ``.gitlab-ci.yml``), end with ``~``, or are ``#...#``
(editor backups and lock files). Nothing below the directory is read.

A configuration directory may come from a pull request, and a pull request can commit a
symlink: a configuration or variable file (also a ``--var-file`` path inside the directory)
that resolves to a file outside the directory is refused. A ``--var-file`` path outside the
directory is the operator's own choice and is read wherever it leads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from reconciler.errors import ConfigError, Diagnostic

YAML_SUFFIXES = (".yaml", ".yml")
CONFIG_SUFFIXES = (".hcl", *YAML_SUFFIXES)
_DEFAULT_VAR_FILES = ("np.npvars", "np.npvars.json")
_AUTO_VAR_SUFFIXES = (".auto.npvars", ".auto.npvars.json")
_Matcher = Callable[[str], bool]
_OUTSIDE = (
    "resolves (through a symbolic link) to a file outside the configuration directory; np "
    "reads configuration and variable files only from inside it"
)


def ignored(name: str) -> bool:
    """Hidden files, editor backups and autosaves are never np's files."""
    autosave = name.startswith("#") and name.endswith("#")
    return name.startswith(".") or name.endswith("~") or autosave


def is_yaml(path: Path) -> bool:
    return path.suffix.lower() in YAML_SUFFIXES


def is_json(path: Path) -> bool:
    return path.suffix.lower() == ".json"


def config_files(config_dir: Path) -> list[Path]:
    """The configuration files, sorted by name; an error when there are none."""
    if not config_dir.is_dir():
        raise ConfigError([Diagnostic(f"configuration directory {config_dir} does not exist")])
    files = _named(config_dir, lambda name: name.endswith(CONFIG_SUFFIXES))
    if not files:
        patterns = ", ".join(f"*{suffix}" for suffix in CONFIG_SUFFIXES)
        message = f"no configuration files ({patterns}) found in {config_dir}"
        raise ConfigError([Diagnostic(message)])
    return files


def auto_var_files(config_dir: Path) -> list[Path]:
    """The variable files that load without ``--var-file``, in the order they apply."""
    defaults = _named(config_dir, lambda name: name in _DEFAULT_VAR_FILES)
    autos = _named(config_dir, lambda name: name.endswith(_AUTO_VAR_SUFFIXES))
    return sorted(defaults, key=lambda p: p.name.lower()) + autos


def _named(config_dir: Path, wanted: _Matcher) -> list[Path]:
    """Entries whose lowercased name ``wanted`` accepts, by name; unreadable ones are an error
    (a configuration file that cannot be read must not look like deleted node pools)."""
    found = sorted(
        (p for p in config_dir.iterdir() if not ignored(p.name) and wanted(p.name.lower())),
        key=lambda p: p.name,
    )
    problems = [problem for path in found if (problem := _unreadable(path, config_dir))]
    if problems:
        raise ConfigError(problems)
    return found


def _unreadable(path: Path, config_dir: Path) -> Diagnostic | None:
    """Why np will not read a file it would read (None: it will)."""
    if not path.is_file():
        return Diagnostic(f"{path.name}: not a readable file (a dangling symlink or a directory?)")
    if not _inside(path, config_dir):
        return Diagnostic(f"{path.name}: {_OUTSIDE}")
    return None


def check_var_files(var_files: Sequence[Path], config_dir: Path) -> None:
    """``--var-file`` paths that lie inside the configuration directory as written must not
    lead out of it; a path written outside it is the operator's choice."""
    root = os.path.abspath(config_dir)
    problems = [
        Diagnostic(
            f"{path}: {_OUTSIDE}; to read it anyway, give --var-file the path it resolves to"
        )
        for path in var_files
        if _within(os.path.abspath(path), root) and not _inside(path, config_dir)
    ]
    if problems:
        raise ConfigError(problems)


def _inside(path: Path, config_dir: Path) -> bool:
    """Whether ``path``, every symbolic link resolved, is inside ``config_dir`` (resolved)."""
    return _within(os.path.realpath(path), os.path.realpath(config_dir))


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
