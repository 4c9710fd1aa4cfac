"""The ``np`` command line: parse options, call the layers below, map errors to exit codes.

``app`` holds the group, its global options and what every command shares; ``commands`` the
commands that plan, apply and report; ``state_commands`` those that inspect and edit state;
``policy_commands`` those about Rego policies.
"""

from reconciler.cli import commands, policy_commands, state_commands
from reconciler.cli.app import cli, main

__all__ = ["cli", "commands", "main", "policy_commands", "state_commands"]
