"""The floor under a plan: what its dependencies alone cost, with none of np's own work.

    python -m bench.floor URL [URL ...]        # prints one JSON object
    floor([url_a, url_b]).wall                 # the same, measured as a child process

A fresh interpreter imports what every ``np plan`` must (click, pydantic, httpx, asyncio), then
reads each server's pools as np does: one ListPools, then one ListNodePools per pool, 10 in
flight per server, every server at once, one shared TLS context, each answer decoded from
JSON. No configuration, state, validation, planning or rendering: a plan of the same fleet
cannot be faster than this, so a target below it cannot be met by any change to np, only by
other dependencies or a faster machine. It imports nothing of np's.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.procs import Finished

START = time.perf_counter()

import asyncio  # noqa: E402  (the imports are what is measured)
import json  # noqa: E402

import click  # noqa: E402, F401
import httpx  # noqa: E402
import pydantic  # noqa: E402, F401

PARALLELISM = 10
PROJECT = "bench-project"


async def _read_region(url: str, tls: Any) -> int:
    limits = httpx.Limits(max_connections=PARALLELISM, max_keepalive_connections=PARALLELISM)
    async with httpx.AsyncClient(base_url=url, limits=limits, verify=tls) as http:
        listed = (await http.get(f"/v2/{PROJECT}/pools")).json()
        gate = asyncio.Semaphore(PARALLELISM)

        async def nodepools(pool: str) -> int:
            async with gate:
                answer = await http.get(f"/v2/{PROJECT}/pools/{pool}/nodepools")
            return len(answer.json()["items"])

        pools = [item["metadata"]["name"] for item in listed["items"]]
        return sum(await asyncio.gather(*(nodepools(pool) for pool in pools)))


async def _read_all(urls: list[str]) -> int:
    tls = httpx.create_ssl_context()
    return sum(await asyncio.gather(*(_read_region(url, tls) for url in urls)))


def main() -> None:
    imported = time.perf_counter()
    nodepools = asyncio.run(_read_all(sys.argv[1:]))
    done = time.perf_counter()
    figures = {"imports_s": imported - START, "reads_s": done - imported, "nodepools": nodepools}
    print(json.dumps(figures))


def floor(urls: list[str]) -> Finished:
    """This module run as a child process against ``urls``: by path, so that not even the
    ``bench`` package is imported."""
    from bench.procs import PYTHON, run

    return run([PYTHON, str(Path(__file__)), *urls]).check()


if __name__ == "__main__":
    main()
