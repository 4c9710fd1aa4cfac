"""Commands np suggests in its messages, written so that pasting one into a shell runs it.

    command("state rm", 'nodepool.gpu["c"]')       # -> np state rm 'nodepool.gpu["c"]'
    command("force-unlock", "ab12", workspace="staging")
    # -> np force-unlock --workspace staging ab12
    command("state rm", "nodepool.a", workspace="default", named=True)
    # -> np state rm --workspace default nodepool.a

An address with a key holds double quotes, which a shell removes: pasted unquoted,
``np state rm nodepool.gpu["c"]`` ran as ``nodepool.gpu[c]``. Every argument is quoted where
the shell would change it, and nowhere else.
"""

from __future__ import annotations

import shlex

DEFAULT_WORKSPACE = "default"


def command(verb: str, *args: str, workspace: str | None = None, named: bool = False) -> str:
    """``np VERB ARGS…``: ``verb`` as written (``state rm``), each argument shell-quoted, and
    ``--workspace NAME`` outside the default workspace. ``named``: the command is for another
    workspace than the current one, so it names even ``default`` (left out, the command would
    run in the workspace selected in ``.np/``)."""
    named = named or workspace != DEFAULT_WORKSPACE
    options = ["--workspace", workspace] if workspace and named else []
    return " ".join(["np", verb, *map(shlex.quote, [*options, *args])])
