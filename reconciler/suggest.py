"""Commands np suggests in its messages, written so that pasting one into a shell runs it.

    command("state rm", 'nodepool.gpu["c"]')       # -> np state rm 'nodepool.gpu["c"]'
    command("force-unlock", "ab12", workspace="staging")
    # -> np force-unlock --workspace staging ab12

An address with a key holds double quotes, which a shell removes: pasted unquoted,
``np state rm nodepool.gpu["c"]`` ran as ``nodepool.gpu[c]``. Every argument is quoted where
the shell would change it, and nowhere else.
"""

from __future__ import annotations

import shlex

DEFAULT_WORKSPACE = "default"


def command(verb: str, *args: str, workspace: str | None = None) -> str:
    """``np VERB ARGS…``: ``verb`` as written (``state rm``), each argument shell-quoted, and
    ``--workspace NAME`` outside the default workspace."""
    options = ["--workspace", workspace] if workspace and workspace != DEFAULT_WORKSPACE else []
    return " ".join(["np", verb, *map(shlex.quote, [*options, *args])])
