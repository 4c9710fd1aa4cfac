"""Moves: a state address taken over by a declared one, with no request (pure).

``moved`` blocks first; then identity: a declared address that state does not know, whose node
pool (provider, pool, name) a no-longer-declared address manages, takes that address's place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.config.configuration import Configuration, DesiredNodePool
from reconciler.errors import Diagnostic
from reconciler.identifiers import DEFAULT_PROVIDER

if TYPE_CHECKING:
    from reconciler.state.document import State


def find_moves(
    config: Configuration,
    state: State,
    declared: dict[str, DesiredNodePool],
    errors: list[Diagnostic],
) -> dict[str, str]:
    """New address → the state address it takes over: ``moved`` blocks first, then identity
    (a declared address not in state whose node pool a no-longer-declared address manages)."""
    moves: dict[str, str] = {}
    for moved in config.moved:
        if moved.from_address not in state.resources:
            continue  # moved already (or never managed): nothing to do, as in Terraform
        if moved.to_address in state.resources:
            errors.append(
                Diagnostic(
                    f"cannot move {moved.from_address} to {moved.to_address}: both are in "
                    f"state; run `np state rm` on the one that is wrong",
                    moved.pos,
                    "moved",
                )
            )
            continue
        moves[moved.to_address] = moved.from_address
    orphans: dict[tuple[str, str, str], list[str]] = {}
    for address, resource in state.resources.items():
        if address not in declared and address not in moves.values():
            orphans.setdefault(resource.identity, []).append(address)
    for address, desired in declared.items():
        if address in state.resources or address in moves:
            continue
        holders = orphans.get(desired.identity, [])
        if len(holders) == 1:
            moves[address] = holders[0]
        elif holders:
            errors.append(
                Diagnostic(
                    f"state records {node_pool(*desired.identity)} under {len(holders)} "
                    f"addresses ({', '.join(sorted(holders))}); run `np state rm` on all but one",
                    desired.pos,
                    address,
                )
            )
    return moves


def node_pool(provider: str, pool: str, name: str) -> str:
    """How messages name a node pool: ``pool/name``, and its provider unless the default."""
    return f"{pool}/{name}" + ("" if provider == DEFAULT_PROVIDER else f" of {provider}")
