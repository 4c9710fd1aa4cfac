"""The simulator against what a careless or hostile client or world file sends it, as separate
processes: a page of a node pool of 2,147,483,647 nodes under a memory cap, a PATCH the world
could not be written with, and world files `np sim serve` cannot keep."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from procs import NP, clean_env

from reconciler.sim.launch import SimServer

COUNT = 2_147_483_647
WORLD = {
    "pools": {
        "pool-a": {
            "type": "Logical",
            "nodepools": {"train": {"flavor": "cpu.8u", "count": COUNT, "maxCount": COUNT}},
        }
    }
}
NODEPOOL = "/v2/proj/pools/pool-a/nodepools/train"
MEMORY_CAP = 512 * 1024 * 1024
"""Address space for the child: ample for Python, the simulator and a page of nodes, far too
little for a list of every node (2,147,483,647 phases alone take 17 GB)."""
ONE_PAGE = """
import asyncio, sys, httpx
from reconciler.sim import World, create_app

async def main() -> None:
    transport = httpx.ASGITransport(app=create_app(World.load(sys.argv[1])))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        answer = await client.get(sys.argv[2], params={"limit": "1"})
    print(answer.status_code, answer.text)

asyncio.run(main())
"""


def capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def test_a_page_of_a_huge_node_pool_fits_in_a_memory_cap(world_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", ONE_PAGE, str(world_path), f"{NODEPOOL}/nodes"],
        preexec_fn=capped,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    status, _, body = done.stdout.partition(" ")
    page = json.loads(body)
    assert status == "200"
    assert [node["metadata"]["name"] for node in page["items"]] == ["train-0000"]
    assert page["metadata"]["remainingItemCount"] == COUNT - 1


def test_a_patch_the_world_could_not_keep_is_refused_and_later_ones_persist(
    world_path: Path,
) -> None:
    """Before, the lone surrogate was stored, every later write-behind failed while requests
    were answered 200, and the server exited 1 at SIGTERM with the world never saved again."""
    merge = {"Content-Type": "application/merge-patch+json"}
    spec = {"flavor": "cpu.8u", "count": 3, "maxCount": 3}
    hostile = json.dumps({"spec": {"resources": {**spec, "labels": {"team": "a\ud800"}}}})
    with SimServer(world_path) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        refused = http.patch(NODEPOOL, content=hostile, headers=merge)
        assert (refused.status_code, refused.json()["error_code"]) == (400, "ModelArts.50004000")
        accepted = http.patch(NODEPOOL, json={"spec": {"resources": spec}}, headers=merge)
        assert accepted.status_code == 200
        server.flush()
        assert http.get(NODEPOOL).status_code == 200
    assert (server.returncode, server.stderr) == (0, "")
    saved = json.loads(world_path.read_text())["pools"]["pool-a"]["nodepools"]["train"]
    assert (saved["count"], "labels" in saved) == (3, False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, ": nested deeper than 32 levels"),
        ('{"pools": {"p\\udbff": {}}}', ":1: a string holds a lone surrogate (\\udbff), which is "
         "not Unicode text"),
    ],
)  # fmt: skip
def test_np_sim_serve_refuses_a_world_it_could_not_keep(
    tmp_path: Path, text: str, message: str
) -> None:
    world = tmp_path / "world.json"
    world.write_text(text)
    assert NP is not None
    done = subprocess.run(
        [NP, "sim", "serve", "--world", str(world), "--port", "0"],
        env=clean_env({}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"Error: {world}{message}\n"
