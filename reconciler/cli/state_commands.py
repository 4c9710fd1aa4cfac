"""The commands that inspect and edit state: ``np state ...`` and ``np force-unlock``. Each
goes through ``reconciler.ops`` and the state manager (``np workspace ...`` is in
``workspace_commands``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.cli.app import (
    EXIT_ERROR,
    LOCK_TIMEOUT,
    Globals,
    ask,
    cli,
    configuration_for_state,
    directory_memory,
    lock_seconds,
    locked,
    open_states,
    remember,
    with_globals,
)


@cli.group()
def state() -> None:
    """Inspect or edit the state."""


@state.command("list")
@with_globals
def state_list(g: Globals) -> None:
    """List the addresses np manages."""
    with open_states(g) as manager:
        for address in sorted(manager.load().resources):
            g.say(address)


@state.command("show")
@click.argument("address")
@click.option("--json", "as_json", is_flag=True, help="The raw record, as the state holds it.")
@with_globals
def state_show(g: Globals, address: str, as_json: bool) -> None:
    """Show one managed node pool as recorded: what np last applied, as a nodepool block."""
    import json

    from reconciler.errors import NpError
    from reconciler.ops import given_address
    from reconciler.render.text import recorded_block

    address = given_address(address)  # nodepool.gpu[c], as a shell leaves it, is gpu["c"]
    with open_states(g) as manager:
        resource = manager.load().resources.get(address)
        if resource is None:
            raise NpError(f"{address}: not in state ({manager.describe()})")
    if as_json:
        g.say(json.dumps({address: resource.to_json()}, indent=2, ensure_ascii=False))
    else:
        g.say(recorded_block(address, resource).rstrip("\n"))


@state.command("rm")
@click.argument("addresses", nargs=-1, required=True)
@LOCK_TIMEOUT
@with_globals
def state_rm(g: Globals, addresses: tuple[str, ...], lock_timeout: str) -> None:
    """Stop managing node pools without deleting them."""
    from reconciler.ops import given_address, remove

    addresses = tuple(given_address(a) for a in addresses)  # said back as the state has them
    with locked(g, "state rm", lock_timeout) as session:
        remove(session, addresses)
    for address in addresses:
        g.say(f"Removed {address} from state (the node pool itself is untouched).")


@state.command("mv")
@click.argument("source", metavar="SRC")
@click.argument("destination", metavar="DST")
@LOCK_TIMEOUT
@with_globals
def state_mv(g: Globals, source: str, destination: str, lock_timeout: str) -> None:
    """Manage a node pool under another address (no request is sent)."""
    from reconciler.ops import given_address, move

    source, destination = given_address(source), given_address(destination)
    with locked(g, "state mv", lock_timeout) as session:
        move(session, source, destination)
    g.say(f"Moved {source} to {destination}.")


@state.command("pull")
@with_globals
def state_pull(g: Globals) -> None:
    """Print the state document (what a local state file holds)."""
    from reconciler.ops import pull

    with open_states(g) as manager:
        text = pull(manager)
        if text is None:
            g.say(f"No state is stored yet ({manager.describe()}).", err=True)
            return
    click.echo(text, nl=False)


@state.command("push")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace another lineage or a newer serial too.")
@LOCK_TIMEOUT
@with_globals
def state_push(g: Globals, file: Path, force: bool, lock_timeout: str) -> None:
    """Write a state document (from np state pull) to the configured backend.

    The configuration directory then uses that backend and that state (``.np/``): pushing is
    how a state is moved or restored by hand, so neither is checked against what it last saw.
    """
    from reconciler.ops import push

    config = configuration_for_state(g)
    with open_states(g, config, check_backend=False) as manager:
        written = push(manager, file, force=force, timeout=lock_seconds(lock_timeout))
        where = manager.describe()
        stored = manager.load()
    memory = directory_memory(g, config)
    if memory is not None:
        remember(g, memory, stored)
    if written is None:
        g.say(f"{where} already holds this state; nothing was written.")
    else:
        g.say(f"Pushed {file} to {where} (lineage {written.lineage}, serial {written.serial}).")


@cli.command("force-unlock")
@click.argument("lock_id")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@with_globals
def force_unlock(g: Globals, lock_id: str, force: bool) -> None:
    """Remove a stale lock (only the one with this ID)."""
    from reconciler.state.locking import holder_gone
    from reconciler.state.protocols import LockInfo

    def confirm(held: LockInfo) -> bool:
        from reconciler.errors import NpError
        from reconciler.suggest import command

        g.say(held.describe())
        if not g.interactive():
            gone = holder_gone(held)
            if gone:  # nobody to ask, and nobody to wait for
                g.say(f"The lock is stale ({gone}): removing it without asking.")
                return True
            forced = command("force-unlock", "--force", lock_id, workspace=g.workspace)
            raise NpError(f"no terminal to confirm: pass --force to remove the lock: {forced}")
        g.say("\nnp will remove the lock. Only 'yes' will be accepted to confirm.\n")
        return ask() == "yes"

    with open_states(g, check_backend=False) as manager:
        info = manager.force_unlock(lock_id, None if force else confirm)
    if info is None:
        g.say("Force-unlock cancelled.", err=True)
        sys.exit(EXIT_ERROR)
    g.say(f"The lock {info.id} ({info.operation} by {info.user}@{info.host}) was removed.")
