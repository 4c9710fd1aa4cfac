"""The baseline of target 2: Terraform's refresh model, one GET per node pool, N in flight.

    python bench/refresh.py http://127.0.0.1:PORT world.json --parallelism 10

It knows every node pool from the world file (as Terraform knows them from its state) and asks
for each one separately; np instead lists the node pools of each resource pool.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import httpx

PROJECT = "bench-project"


async def refresh(base_url: str, targets: list[tuple[str, str]], parallelism: int) -> int:
    """GET every (pool, node pool) in `targets`; return how many answered 200."""
    limits = httpx.Limits(max_connections=parallelism, max_keepalive_connections=parallelism)
    gate = asyncio.Semaphore(parallelism)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) as client:

        async def get(pool: str, name: str) -> bool:
            async with gate:
                response = await client.get(f"/v2/{PROJECT}/pools/{pool}/nodepools/{name}")
            return response.status_code == 200

        answers = await asyncio.gather(*(get(pool, name) for pool, name in targets))
    return sum(answers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("world", type=Path)
    parser.add_argument("--parallelism", type=int, default=10)
    args = parser.parse_args()
    pools = json.loads(args.world.read_text())["pools"]
    targets = [(pool, name) for pool, body in pools.items() for name in body["nodepools"]]
    ok = asyncio.run(refresh(args.url, targets, args.parallelism))
    if ok != len(targets):
        raise SystemExit(f"only {ok} of {len(targets)} GETs answered 200")


if __name__ == "__main__":
    main()
