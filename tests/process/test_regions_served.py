"""Regions as separate `np sim serve` processes, one per region, reached over real loopback
sockets by the installed `np`: a for_each provider over three regions plans and applies each
region's own node pools, a region that is down fails the run naming it (and nothing is sent to
the others), and leaving that region out with --exclude applies the rest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from procs import FLAVOR, TOKEN_ENV, np, sent_changes, world_of
from support import Workspace

from reconciler.sim.launch import RequestLog, SimServer

REGIONS = ("r1", "r2", "r3")


def configuration(urls: dict[str, str], count: int) -> str:
    endpoints = ", ".join(f'{r} = "{url}"' for r, url in urls.items())
    return f"""
locals {{
  endpoints = {{ {endpoints} }}
}}

provider "modelarts" {{
  alias      = "region"
  for_each   = local.endpoints
  endpoint   = each.value
  project_id = "proj-${{each.key}}"
}}

nodepool "infer" {{
  for_each = local.endpoints
  provider = modelarts.region[each.key]
  pool     = "pool-prod"
  name     = "infer"
  flavor   = "{FLAVOR}"
  count    = {count}
}}
"""


def counts(ws: Workspace, servers: dict[str, SimServer], *regions: str) -> dict[str, int]:
    """Each region's node count, from its world file written through (POST /_sim/flush)."""
    found = {}
    for region in regions:
        servers[region].flush()
        found[region] = count_in(ws.root / f"world-{region}.json")
    return found


def count_in(world: Path) -> int:
    doc: dict[str, Any] = json.loads(world.read_text())
    count: int = doc["pools"]["pool-prod"]["nodepools"]["infer"]["count"]
    return count


@contextmanager
def regions(ws: Workspace) -> Iterator[tuple[dict[str, SimServer], dict[str, RequestLog]]]:
    """One `np sim serve` per region on its own world file, all at 1 node."""
    servers: dict[str, SimServer] = {}
    logs: dict[str, RequestLog] = {}
    with ExitStack() as stack:
        for region in REGIONS:
            world = ws.root / f"world-{region}.json"
            world.write_text(json.dumps(world_of({"pool-prod": {"infer": 1}})))
            logs[region] = RequestLog(ws.root / f"requests-{region}.jsonl")
            servers[region] = SimServer(world, request_log=logs[region].path).__enter__()
            stack.callback(stop, servers[region])
        yield servers, logs


def stop(server: SimServer) -> None:
    """Stop a region's server unless the test brought it down already."""
    if server.returncode is None:
        server.__exit__(None, None, None)


def test_three_served_regions_plan_apply_and_a_region_down(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    with regions(ws) as (servers, logs):
        urls = {r: s.url for r, s in servers.items()}
        ws.write("main.hcl", configuration(urls, 2))

        plan = np(ws, "plan", "-json", env=TOKEN_ENV)
        assert plan.code == 0, plan.stderr
        changes = {c["provider"]: c["after"]["count"] for c in plan.json()["resource_changes"]}
        assert changes == {f'modelarts.region["{r}"]': 2 for r in REGIONS}

        applied = np(ws, "apply", "-auto-approve", "-no-color", env=TOKEN_ENV)
        assert applied.code == 0, applied.stderr
        assert counts(ws, servers, *REGIONS) == dict.fromkeys(REGIONS, 2)
        for region in REGIONS:  # each region's server saw only its own project's PATCH
            patches = [e["path"] for e in logs[region].take() if e["method"] == "PATCH"]
            assert patches == [f"/v2/proj-{region}/pools/pool-prod/nodepools/infer"]

        stop(servers["r2"])  # the region goes down
        ws.write("main.hcl", configuration(urls, 3))
        down = np(ws, "apply", "-auto-approve", env=TOKEN_ENV)
        assert down.code == 1
        port = urls["r2"].rsplit(":", 1)[1]
        assert down.stderr == (
            f'Error: provider modelarts.region["r2"]: GET /v2/proj-r2/pools: connection to '
            f"127.0.0.1:{port} failed (ConnectError: All connection attempts failed) after 6 "
            "attempts\n"
        )
        for region in ("r1", "r3"):
            assert sent_changes(logs[region].take()) == []
        assert counts(ws, servers, "r1", "r3") == {"r1": 2, "r3": 2}

        rest = np(ws, "apply", "-auto-approve", '-exclude=nodepool.infer["r2"]', env=TOKEN_ENV)
        assert rest.code == 0, rest.stderr
        assert counts(ws, servers, "r1", "r3") == {"r1": 3, "r3": 3}
        assert count_in(ws.root / "world-r2.json") == 2  # written when its server stopped
