"""A server that answers a write with a redirect, as np meets it: `np apply` fails, and neither
the world nor np's state holds the change (a 3xx once counted as success, and state recorded
a change the server never made)."""

from __future__ import annotations

from standin import redirecting_writes, serving
from support import Workspace, pool_world

from reconciler.sim import World, create_app

LOCATION_SECRET = "LOCATIONSENTINEL-e2e-51d0"
WORLD = pool_world({"train": {"flavor": "f", "count": 1, "maxCount": 1}})


def test_a_redirected_patch_fails_the_apply_and_records_nothing(ws: Workspace) -> None:
    ws.world(WORLD)
    location = f"https://elsewhere.example/v2/p?token={LOCATION_SECRET}"
    app = redirecting_writes(create_app(World.load(ws.world_path)), location)
    with serving(app) as url:
        ws.write(
            "main.hcl",
            f'provider "modelarts" {{\n  endpoint = "{url}"\n}}\n'
            'nodepool "train" {\n  pool = "pool-prod"\n  flavor = "f"\n  count = 2\n}\n',
        )
        run = ws.np("apply", "--auto-approve", "--no-wait")  # a regression must not wait
        again = ws.np("plan", "--json")
    assert (run.code, run.stderr) == (
        1,
        "Error: nodepool.train: PATCH /v2/sim-project/pools/pool-prod/nodepools/train: HTTP 307: "
        "redirected to elsewhere.example; np does not follow redirects\n",
    )
    assert "Apply failed! Resources: 0 added, 0 changed, 0 destroyed; 1 failed" in run.stdout
    assert LOCATION_SECRET not in run.stdout + run.stderr
    assert ws.nodepool("pool-prod", "train")["count"] == 1
    assert not ws.state_path.exists() or "nodepool.train" not in ws.state()["resources"]
    (change,) = again.json()["resource_changes"]  # the change is still to be made
    assert (change["actions"], change["before"]["count"], change["after"]["count"]) == (
        ["update"],
        1,
        2,
    )
