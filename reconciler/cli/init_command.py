"""``np init [-migrate-state | -reconfigure] [-force-copy]``: record which backend this
configuration directory uses (``.np/``), as ``terraform init`` does, and move the state when
the ``backend`` block changed.

np needs no ``init`` to start: the first command that holds the lock records the backend. It
is needed once the block changed, because plan and apply then stop rather than guess which
state is the real one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from reconciler.cli.app import (
    LOCK_TIMEOUT,
    Globals,
    cli,
    configuration_for_state,
    directory_memory,
    local_has_state,
    lock_seconds,
    open_states,
    remember,
    with_globals,
)

if TYPE_CHECKING:
    from reconciler.config.configuration import Backend as BackendBlock
    from reconciler.config.configuration import Configuration
    from reconciler.state.manager import StateManager
    from reconciler.workdir import Remembered


@cli.command("init")
@click.option(
    "--migrate-state",
    is_flag=True,
    help="Copy every workspace's state from the backend this directory used before into the "
    "configured one (under both locks, each copy read back and compared).",
)
@click.option(
    "--reconfigure",
    is_flag=True,
    help="Use the configured backend from now on without copying any state; also forgets "
    "the states this directory saw.",
)
@click.option(
    "--force-copy",
    is_flag=True,
    help="With -migrate-state: replace a state of another lineage (or a later serial) that "
    "the configured backend holds.",
)
@LOCK_TIMEOUT
@with_globals
def init(
    g: Globals, migrate_state: bool, reconfigure: bool, force_copy: bool, lock_timeout: str
) -> None:
    """Record the configured backend for this directory; move the state when it changed."""
    from reconciler.errors import NpError

    if g.state is not None:
        raise NpError(
            "--state names a state file for one command; np init records the backend the "
            "configuration names: run it without --state"
        )
    if migrate_state and reconfigure:
        raise NpError("-migrate-state copies the old state and -reconfigure does not: pick one")
    config = configuration_for_state(g)
    memory = directory_memory(g, config)
    assert memory is not None  # no --state
    before = memory.previous(lambda: local_has_state(g))
    changed = before is not None and not before.same(memory.current)
    if (migrate_state or force_copy) and changed:
        assert before is not None
        _migrate(g, config, before, force_copy, lock_seconds(lock_timeout))
        return
    if changed and not reconfigure:
        memory.check_backend(lambda: True)  # raises, naming both and the two ways on
    with open_states(g, config, check_backend=False) as manager:  # reachable, readable
        state = manager.load()
        where = manager.describe()
        if reconfigure:
            memory.reconfigure()
        else:
            memory.check_seen(g.workspace, state, where, manager.restore_hint())
    remember(g, memory, state)
    if migrate_state or force_copy:
        g.say(f"Nothing to migrate: this directory already uses {memory.current.describe()}.")
    held = (
        f"lineage {state.lineage}, serial {state.serial}, {len(state.resources)} node pool(s)"
        if state.serial
        else "no state yet"
    )
    g.say(f"np is ready: workspace {g.workspace} keeps its state in {where} ({held}).")
    if changed and before is not None:
        g.say(f"The state in {before.describe()} was not copied and is left as it was.")


def _migrate(
    g: Globals,
    config: Configuration | None,
    before: Remembered,
    force_copy: bool,
    timeout: float,
) -> None:
    """Copy every workspace, then remember the new backend and what it now holds."""
    from reconciler.migrate import block_of, copy_workspaces
    from reconciler.ops import open_state
    from reconciler.state.document import utc_now
    from reconciler.workdir import Seen

    memory = directory_memory(g, config)
    assert memory is not None

    def opener(block: BackendBlock | None) -> Callable[[str], StateManager]:
        def open_workspace(name: str) -> StateManager:
            return open_state(
                block, state_option=None, directory=g.chdir, workspace=name, environ=os.environ
            )

        return open_workspace

    copied = copy_workspaces(
        opener(block_of(before, memory.workdir)),
        opener(None if config is None else config.backend),
        force_copy=force_copy,
        timeout=timeout,
    )
    memory.reconfigure()
    for each in copied:
        state = each.written
        if state is None:
            g.say(f"Workspace {each.workspace}: no state to copy.")
            continue
        memory.workdir.remember_seen(each.workspace, Seen(state.lineage, state.serial, utc_now()))
        how = "it was there already" if each.already else "copied, and read back the same"
        g.say(
            f"Workspace {each.workspace}: lineage {state.lineage}, serial {state.serial}, "
            f"{len(state.resources)} node pool(s): {how}."
        )
    g.say(
        f"np now keeps this directory's state in {memory.current.describe()}. The state in "
        f"{before.describe()} was left as it was: np no longer reads it."
    )
