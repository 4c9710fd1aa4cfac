"""The live world np plans against, read with as few requests as the API allows.

    live = await fetch_live(client, {"pool-prod"}, parallelism=10, managed={("pool-prod", "a")})
    live.nodepool("pool-prod", "a")   # -> its live spec.resources, or None when it is gone

One ListPools, then one ListNodePools per wanted pool. A list is never taken as proof that
something is gone: ListPools leaves out the pools of other workspaces, so a wanted pool missing
from it, and a managed node pool missing from its pool's list, are confirmed with a direct GET
before np plans to create or forget anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reconciler.api.failures import NotFoundError
from reconciler.identifiers import DEFAULT_PROVIDER
from reconciler.model import check_nodepool, check_pool

if TYPE_CHECKING:
    from reconciler.api.client import ModelArtsClient


@dataclass(frozen=True, slots=True)
class LivePool:
    name: str
    type: str | None
    nodepools: dict[str, dict[str, Any]]
    """Node pool name → live ``spec.resources``."""


@dataclass(frozen=True, slots=True)
class LiveWorld:
    pools: dict[str, LivePool]

    def nodepool(self, pool: str, name: str) -> dict[str, Any] | None:
        found = self.pools.get(pool)
        return None if found is None else found.nodepools.get(name)


Worlds = Mapping[str, LiveWorld]
"""Each provider's live world, by provider address: every region is read on its own."""


def worlds(live: LiveWorld | Worlds) -> Worlds:
    """``live`` by provider: one ``LiveWorld`` alone is the default provider's (a configuration
    with one provider, and the planner's tests)."""
    return {DEFAULT_PROVIDER: live} if isinstance(live, LiveWorld) else live


async def fetch_live(
    client: ModelArtsClient,
    pools: Iterable[str],
    parallelism: int,
    *,
    workspace_id: str | None = None,
    managed: Iterable[tuple[str, str]] = (),
) -> LiveWorld:
    """The wanted pools and their node pools; ``managed`` (pool, name) pairs missing from a list
    are looked up one by one, so only a 404 makes np believe a node pool is gone."""
    gate = asyncio.Semaphore(max(1, parallelism))
    types = dict(check_pool(raw) for raw in await client.list_pools(workspace_id))
    wanted = set(pools)

    async def confirm_pool(pool: str) -> tuple[str, str | None] | None:
        async with gate:
            try:
                return check_pool(await client.get_pool(pool))
            except NotFoundError:
                return None

    confirmed = await asyncio.gather(*(confirm_pool(p) for p in sorted(wanted - set(types))))
    types.update(found for found in confirmed if found is not None)

    async def nodepools_of(pool: str) -> LivePool:
        async with gate:
            items = await client.list_nodepools(pool)
        specs: dict[str, dict[str, Any]] = {}
        for item in items:  # validated before use: API garbage is an error, not a traceback
            specs[item["metadata"]["name"]] = check_nodepool(item, f"in pool {pool}")
        return LivePool(pool, types[pool], specs)

    fetched = await asyncio.gather(*(nodepools_of(p) for p in sorted(wanted & set(types))))
    found = {pool.name: pool for pool in fetched}
    for name, kind in types.items():
        found.setdefault(name, LivePool(name, kind, {}))

    async def confirm_nodepool(pool: str, name: str) -> None:
        async with gate:
            try:
                raw = await client.get_nodepool(pool, name)
            except NotFoundError:
                return
        found[pool].nodepools[name] = check_nodepool(raw, f"{pool}/{name}")

    unlisted = {(p, n) for p, n in managed if p in found and n not in found[p].nodepools}
    await asyncio.gather(*(confirm_nodepool(p, n) for p, n in sorted(unlisted)))
    return LiveWorld(found)
