"""The state operations behind the CLI's commands: import, state rm/mv/pull/push and workspaces.
Each goes through the state manager (a locked session, or a read), never a backend.

    with open_state(config.backend, state_option=None, directory=Path("."),
                    workspace="default", environ=os.environ) as manager,
         manager.locked("state mv") as session:
        move(session, "nodepool.a", "nodepool.b")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.config.configuration import Backend as BackendBlock
from reconciler.config.configuration import Configuration, DesiredNodePool, Provider
from reconciler.errors import NpError, StateError, shown
from reconciler.identifiers import DEFAULT_PROVIDER, canonical_address, segment_problem
from reconciler.live import fetch_live
from reconciler.plan.moves import node_pool
from reconciler.plan.planner import adoption
from reconciler.state.document import Identity, ResourceState, State, parse, render, utc_now
from reconciler.state.manager import Session, StateManager, check_identity
from reconciler.state.opening import check_workspace, open_backend
from reconciler.state.protocols import DEFAULT_WORKSPACE
from reconciler.suggest import command

if TYPE_CHECKING:
    from reconciler.api.client import ModelArtsClient


def open_state(
    block: BackendBlock | None,
    *,
    state_option: Path | None,
    directory: Path,
    workspace: str,
    environ: Mapping[str, str],
) -> StateManager:
    """The state of ``workspace`` in the configuration's backend (None: the local files)."""
    kind, settings, where = None, {}, "backend"
    if block is not None:
        kind, settings = block.kind, block.settings
        where = f'{block.pos}: backend "{kind}"' if block.pos else f'backend "{kind}"'
    backend = open_backend(
        kind,
        settings,
        workspace=workspace,
        state_option=state_option,
        directory=directory,
        environ=environ,
        where=where,
    )
    return StateManager(backend)


def identity_of(provider: Provider, project_id: str, environ: Mapping[str, str]) -> Identity:
    """What a state written now records for ``provider``: the project and the endpoint np
    talks to."""
    return Identity(project_id, provider.resolved_endpoint(environ))


def adopt_identity(
    session: Session, identity: Identity, provider: str = DEFAULT_PROVIDER
) -> str | None:
    """Refuse a state written for another project of ``provider``; record ours with the next
    write. Returns the warning to show when only the endpoint differs."""
    warning = check_identity(session.state, identity, session.describe(), provider)
    session.adopt_identity(identity, provider)
    return warning


# --- import ------------------------------------------------------------------------------------


def import_target(target: str) -> tuple[str, str]:
    pool, _, name = target.partition("/")
    if not pool or not name:
        raise NpError(f"{shown(target, 80)}: expected POOL/NODEPOOL")
    for what, value in (("pool", pool), ("node pool", name)):
        problem = segment_problem(value)
        if problem is not None:
            raise NpError(f"{shown(target, 80)}: the {what} name {problem}")
    return pool, name


def given_address(text: str) -> str:
    """An address typed on the command line, in its one written form (``nodepool.gpu[a]``,
    what a shell leaves of ``nodepool.gpu["a"]``, is the same address)."""
    try:
        return canonical_address(text)
    except ValueError as exc:
        raise NpError(str(exc)) from None


def declared_block(config: Configuration, address: str, pool: str, name: str) -> DesiredNodePool:
    """The block ``address`` names (typed with or without its key's quotes), which must
    declare exactly ``pool``/``name``."""
    address = given_address(address)
    declared = {np.address: np for np in config.nodepools}
    wanted = declared.get(address)
    if wanted is None:
        raise NpError(f"{address}: not declared in the configuration; write its block first")
    if (wanted.pool, wanted.name) != (pool, name):
        raise NpError(
            f"{address}: the configuration declares {wanted.pool}/{wanted.name}, not {pool}/{name}"
        )
    return wanted


async def import_nodepool(
    session: Session,
    wanted: DesiredNodePool,
    client: ModelArtsClient,
    workspace_id: str | None = None,
) -> None:
    """Adopt a live node pool: last-applied is what is live for the fields the block manages,
    so that np never "removes" a value it did not apply, and nothing shows as drift."""
    address, target = wanted.address, f"{wanted.pool}/{wanted.name}"
    if wanted.provider != DEFAULT_PROVIDER:
        target += f" of {wanted.provider}"
    current = session.state
    if address in current.resources:
        raise NpError(f"{address}: already managed (np state rm it first to re-import)")
    for other, resource in current.resources.items():
        if resource.identity == wanted.identity:
            raise NpError(
                f"{address}: {target} is already managed as {other}; to manage it under the "
                f"new address, run: {command('state mv', other, address)}"
            )
    live = await fetch_live(
        client, {wanted.pool}, 1, workspace_id=workspace_id, managed={(wanted.pool, wanted.name)}
    )
    applied = adoption(wanted, live)
    spec = live.nodepool(wanted.pool, wanted.name)
    if applied is None or spec is None:
        raise NpError(f"{address}: node pool {target} does not exist; nothing to import")
    resource = ResourceState(
        wanted.pool,
        wanted.name,
        applied,
        spec,
        utc_now(),
        wanted.lifecycle.prevent_destroy,
        wanted.provider,
    )
    session.record({address: resource})


# --- state rm / mv / pull / push ---------------------------------------------------------------


def remove(session: Session, addresses: tuple[str, ...]) -> None:
    """Forget ``addresses`` (all or none); the node pools themselves are untouched."""
    addresses = tuple(given_address(a) for a in addresses)
    missing = [a for a in addresses if a not in session.state.resources]
    if missing:
        raise NpError(f"not in state: {', '.join(missing)}")
    session.record(dict.fromkeys(addresses))


def move(session: Session, source: str, destination: str) -> None:
    """Rename an address in state, in one journal batch; no request is sent."""
    source, destination = given_address(source), given_address(destination)
    resources = session.state.resources
    if source not in resources:
        raise NpError(f"{source}: not in state ({session.describe()})")
    if destination in resources:
        raise NpError(
            f"{destination}: already in state; np state rm it first, or choose another address"
        )
    session.record({source: None, destination: resources[source]})


def pull(manager: StateManager) -> str | None:
    """The state document (journal replayed) as the local file holds it; None if none yet."""
    state = manager.load()
    return None if state.serial == 0 else render(state)


def push(manager: StateManager, path: Path, *, force: bool, timeout: float) -> State | None:
    """Write the state in ``path`` to the backend; None when it is stored already."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return manager.push(parse(raw, str(path)), force=force, timeout=timeout)


# --- workspaces and locks ----------------------------------------------------------------------


def workspaces(manager: StateManager) -> list[str]:
    """Every workspace with a state, the default and the current one always included."""
    names = set(manager.workspaces()) | {DEFAULT_WORKSPACE, manager.workspace}
    return sorted(names)


def check_other_workspaces(
    config: Configuration,
    session: Session,
    current: StateManager,
    open_workspace: Callable[[str], StateManager],
    environ: Mapping[str, str],
) -> None:
    """Refuse, naming the other workspace, a declared node pool that this workspace does not
    manage yet while another workspace of the same backend does: planning would adopt it here
    too, and two states would then change one node pool. Node pools of another endpoint or
    project (the other state records which) are other node pools."""
    state = session.state
    mine = {r.identity for r in state.resources.values()}
    candidates = {
        d.identity: d
        for d in config.nodepools
        if d.address not in state.resources and d.identity not in mine
    }
    if not candidates:
        return
    for other in current.workspaces():
        if other == current.workspace:
            continue
        with open_workspace(other) as manager:
            theirs = manager.load()
        for address, resource in sorted(theirs.resources.items()):
            desired = candidates.get(resource.identity)
            if desired is None or not _same_place(theirs, config, desired.provider, environ):
                continue
            # The other workspace keeps its node pool's name: renaming it there would destroy
            # and create it again (and "NAME-default" is not a valid name anyway).
            suffix = (
                f'name = np.workspace == "{other}" ? "{desired.name}" : '
                f'"{desired.name}-${{np.workspace}}"'
            )
            which = node_pool(*desired.identity)
            raise NpError(
                f"{desired.address}: {which} is managed by workspace {other} "
                f"of this backend (as {address}); managing it in workspace "
                f"{current.workspace} too would let two states change one node pool. Give "
                f"each workspace node pools of its own ({suffix}), or stop managing it there "
                f"first: {command('state rm', address, workspace=other, named=True)}"
            )


def _same_place(
    theirs: State, config: Configuration, provider: str, environ: Mapping[str, str]
) -> bool:
    """Whether ``provider`` reaches the project and endpoint ``theirs`` recorded for it (a
    state that recorded none, or a provider np cannot resolve offline, counts as the same)."""
    from reconciler.api.credentials import project_id_from_env

    recorded = theirs.identity_of(provider)
    ours = config.providers.get(provider)
    if recorded is None or ours is None:
        return True
    try:
        endpoint = ours.resolved_endpoint(environ)
    except NpError:
        return True
    project = ours.project_id or project_id_from_env(environ)
    return endpoint == recorded.endpoint and project in (None, recorded.project_id)


def new_workspace(
    current: StateManager,
    name: str,
    open_workspace: Callable[[str], StateManager],
    *,
    timeout: float,
) -> State:
    """Create workspace ``name`` with an empty state (so that it is listed, as in Terraform);
    return that state. An existing workspace is an error."""
    check_workspace(name)
    if name == DEFAULT_WORKSPACE or name in current.workspaces():
        raise NpError(
            f"workspace {name} already exists; select it with {command('workspace select', name)}"
        )
    with open_workspace(name) as target:
        written = target.push(State.new(), force=False, timeout=timeout)
    if written is None:  # another run created it meanwhile
        raise NpError(f"workspace {name} already exists")
    return written


def delete_workspace(
    current: StateManager,
    name: str,
    open_workspace: Callable[[str], StateManager],
    *,
    force: bool,
    timeout: float,
) -> None:
    """Delete workspace ``name``: never the default one (whichever is current), nor the
    current one; while it manages node pools only with ``force`` (they are forgotten, not
    deleted)."""
    if name == DEFAULT_WORKSPACE:
        raise NpError("the default workspace cannot be deleted")
    if name == current.workspace:
        raise NpError(
            f"workspace {name} is the current one; select another (np workspace select, "
            "--workspace or NP_WORKSPACE) to delete it"
        )
    if name not in current.workspaces():
        raise NpError(f"workspace {name} does not exist")
    with open_workspace(name) as target, target.locked("workspace delete", timeout) as session:
        managed = sorted(session.state.resources)
        if managed and not force:
            raise NpError(
                f"workspace {name} still manages {len(managed)} node pool(s) "
                f"({', '.join(managed)}); deleting it forgets them (the node pools stay): "
                "pass --force to delete it anyway"
            )
        session.delete_workspace()
