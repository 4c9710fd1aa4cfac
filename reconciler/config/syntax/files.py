"""Which files in a configuration directory np reads, and as what.

Configuration: ``*.hcl``, ``*.yaml``, ``*.yml``, suffixes in any case (``gpu.YAML`` is read: a
file skipped for its spelling would look like deleted node pools). Variable files that load by
themselves: ``np.npvars``, ``np.npvars.json``, then ``*.auto.npvars`` and
``*.auto.npvars.json`` in name order. Never read, as in Terraform: names that begin with ``.``
(``.pre-commit-config.yaml``, ``.gitlab-ci.yml``), end with ``~``, or are ``#...#``
(editor backups and lock files). Nothing below the directory is read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reconciler.errors import ConfigError, Diagnostic

YAML_SUFFIXES = (".yaml", ".yml")
CONFIG_SUFFIXES = (".hcl", *YAML_SUFFIXES)
_DEFAULT_VAR_FILES = ("np.npvars", "np.npvars.json")
_AUTO_VAR_SUFFIXES = (".auto.npvars", ".auto.npvars.json")
_Matcher = Callable[[str], bool]


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
    unreadable = [p for p in found if not p.is_file()]
    if unreadable:
        raise ConfigError(
            [
                Diagnostic(f"{p.name}: not a readable file (a dangling symlink or a directory?)")
                for p in unreadable
            ]
        )
    return found
