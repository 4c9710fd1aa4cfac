"""The ``np`` command line: parse options, call the layers below, map errors to exit codes.

``app`` holds the group, its global options and what every command shares; ``commands`` the
commands that plan, apply and report; ``state_commands`` those that inspect and edit state;
``workspace_commands`` the workspaces; ``init_command`` ``np init`` (the backend this
directory uses); ``fmt_command`` ``np fmt``; ``policy_commands`` those about Rego policies.
"""

from reconciler.cli import (
    commands,
    fmt_command,
    init_command,
    policy_commands,
    state_commands,
    workspace_commands,
)
from reconciler.cli.app import cli, main

__all__ = [
    "cli",
    "commands",
    "fmt_command",
    "init_command",
    "main",
    "policy_commands",
    "state_commands",
    "workspace_commands",
]
