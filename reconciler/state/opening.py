"""Which backend holds a workspace's state: the local files, or a ``backend`` block's store.

    backend = open_backend(None, {}, workspace="default", state_option=None,
                           directory=Path("."), environ=os.environ)

A remote backend lives in ``reconciler/state/KIND.py`` and is imported only when a
configuration names it, so that np's start-up never pays for a database or S3 client.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from pathlib import Path

from reconciler.errors import StateError
from reconciler.state.protocols import Backend, Opener

REMOTE_KINDS = ("pg", "s3")
_WORKSPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_workspace(name: str) -> str:
    """A workspace name is a path segment, a key segment and a row key alike: keep it plain."""
    if not _WORKSPACE.fullmatch(name):
        raise StateError(
            f"workspace name {name!r}: use letters, digits, '-' and '_' (starting with a letter "
            "or digit, at most 64 characters)"
        )
    return name


def open_backend(
    kind: str | None,
    settings: Mapping[str, str],
    *,
    workspace: str,
    state_option: Path | None,
    directory: Path,
    environ: Mapping[str, str],
    where: str = "backend",
) -> Backend:
    """The backend ``kind`` (None: local) for ``workspace`` of the configuration in
    ``directory``.

    ``state_option`` is ``--state PATH``: the local file instead of ``DIRECTORY/state/
    np.state.json``, and an error with a remote backend, whose state is not a file np could be
    pointed at. The default place must stay inside ``directory`` (no ``state`` symlink out of
    it); a path the operator typed is the operator's.
    """
    check_workspace(workspace)
    if kind is None:
        local = {"path": str(state_option)} if state_option else default_settings(directory)
        return _opener("local", where)(local, workspace=workspace, environ=environ, where="state")
    if state_option is not None:
        raise StateError(
            f"--state {state_option}: {where} keeps the state in the {kind} backend; "
            "--state only chooses the local state file"
        )
    if kind not in REMOTE_KINDS:
        raise StateError(f"{where}: unknown backend {kind!r} (np has pg and s3)")
    return _opener(kind, where)(settings, workspace=workspace, environ=environ, where=where)


def default_settings(directory: Path) -> dict[str, str]:
    """The local backend's settings for a configuration directory's own state."""
    return {"path": str(directory / "state" / "np.state.json"), "within": str(directory)}


def _opener(kind: str, where: str) -> Opener:
    """``open_backend`` of ``reconciler/state/KIND.py``, imported only when it is used."""
    module_name = f"reconciler.state.{kind}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise StateError(f"{where}: the {kind} backend is not part of this np") from None
    opener: Opener = module.open_backend
    return opener
