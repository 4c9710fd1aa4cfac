"""``np workspace new|select|show|list|delete``: one state per workspace, as Terraform has them.

The workspace a command uses is ``--workspace`` or ``NP_WORKSPACE`` when given, else the one
``np workspace select`` (or ``new``) chose in this configuration directory (``.np/``), else
``default``. Configurations read it as ``np.workspace``.
"""

from __future__ import annotations

import os
from dataclasses import replace

import click

from reconciler.cli.app import (
    LOCK_TIMEOUT,
    Globals,
    cli,
    configuration_for_state,
    directory_memory,
    lock_seconds,
    open_states,
    remember,
    with_globals,
)


@cli.group()
def workspace() -> None:
    """Create, select, show, list or delete workspaces (one state each)."""


@workspace.command("list")
@with_globals
def workspace_list(g: Globals) -> None:
    """List the workspaces; * marks the current one."""
    from reconciler.ops import workspaces

    with open_states(g) as manager:
        for name in workspaces(manager):
            g.say(f"{'*' if name == g.workspace else ' '} {name}")


@workspace.command("show")
@with_globals
def workspace_show(g: Globals) -> None:
    """Print the current workspace's name."""
    g.say(g.workspace)


@workspace.command("new")
@click.argument("name")
@LOCK_TIMEOUT
@with_globals
def workspace_new(g: Globals, name: str, lock_timeout: str) -> None:
    """Create a workspace with an empty state, and select it."""
    from reconciler.ops import new_workspace

    config = configuration_for_state(g)
    with open_states(g, config) as manager:
        created = new_workspace(
            manager,
            name,
            lambda other: open_states(replace(g, chosen_workspace=other), config),
            timeout=lock_seconds(lock_timeout),
        )
    _select(g, name)
    memory = directory_memory(replace(g, chosen_workspace=name), config)
    if memory is not None:
        remember(replace(g, chosen_workspace=name), memory, created)
    g.say(f"Created workspace {name} and selected it: its state is empty.")


@workspace.command("select")
@click.argument("name")
@with_globals
def workspace_select(g: Globals, name: str) -> None:
    """Use this workspace from now on in this configuration directory."""
    from reconciler.errors import NpError
    from reconciler.ops import workspaces
    from reconciler.suggest import command

    with open_states(g) as manager:
        known = workspaces(manager)
    if name not in known:
        raise NpError(
            f"workspace {name} does not exist (there are: {', '.join(known)}); create it with "
            f"{command('workspace new', name)}"
        )
    _select(g, name)
    g.say(f"Switched to workspace {name}.")


def _select(g: Globals, name: str) -> None:
    """Remember ``name`` as this directory's workspace; say when the environment overrides it
    (``NP_WORKSPACE`` wins over the selection, so that a CI job's choice stands)."""
    from reconciler.workdir import Workdir

    Workdir(g.chdir).select(name)
    chosen = os.environ.get("NP_WORKSPACE")
    if chosen and chosen != name:
        g.say(
            f"Warning: NP_WORKSPACE={chosen} is set and wins over the selected workspace; "
            "unset it to use the selection",
            err=True,
        )


@workspace.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Delete it even while it manages node pools.")
@LOCK_TIMEOUT
@with_globals
def workspace_delete(g: Globals, name: str, force: bool, lock_timeout: str) -> None:
    """Delete a workspace's state (its node pools are not touched)."""
    from reconciler.ops import delete_workspace
    from reconciler.workdir import Workdir

    config = configuration_for_state(g)
    with open_states(g, config) as manager:
        delete_workspace(
            manager,
            name,
            lambda other: open_states(replace(g, chosen_workspace=other), config),
            force=force,
            timeout=lock_seconds(lock_timeout),
        )
    if g.state is None:
        Workdir(g.chdir).forget_seen(name)
    g.say(f"Deleted workspace {name}.")
