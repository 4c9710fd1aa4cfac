"""The CI gate: saved plans and their refusals, drift reports, locks — end to end on sim://."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from support import PROVIDER, Workspace, pool_world

LIVE = {
    "train": {"flavor": "f", "count": 2, "maxCount": 2, "labels": {"team": "ml"}},
    "infer": {"flavor": "f", "count": 1, "maxCount": 1},
}
CONFIG = (
    PROVIDER
    + """
nodepool "train" {
  pool   = "pool-prod"
  count  = 3
  labels = { team = "ml" }
}

nodepool "infer" {
  pool  = "pool-prod"
  count = 1
}
"""
)


def fresh(ws: Workspace) -> Workspace:
    ws.world(pool_world({k: dict(v) for k, v in LIVE.items()}))
    ws.write("main.hcl", CONFIG)
    return ws


def edit_world(ws: Workspace, name: str, **fields: object) -> None:
    world = ws.world()
    world["pools"]["pool-prod"]["nodepools"][name].update(fields)
    ws.world(world)


def test_saved_plan_applies_exactly_and_never_prompts(ws: Workspace) -> None:
    fresh(ws)
    plan_file = ws.root / "p.plan"
    run = ws.np("plan", "-out", str(plan_file))
    assert run.code == 0, run.stderr
    assert f"np apply {plan_file}" in run.stdout
    assert oct(plan_file.stat().st_mode & 0o777) == "0o600"
    shown = ws.np("show", "--json", str(plan_file)).json()
    assert shown["summary"]["change"] == 1
    # The config changes after planning: np applies only what it plans itself, and that is
    # no longer what was reviewed.
    ws.write("main.hcl", CONFIG.replace("count  = 3", "count  = 9"))
    refused = ws.np("apply", str(plan_file))
    assert refused.code == 1
    assert "nodepool.train: request body: the saved plan has" in refused.stderr
    assert ws.nodepool("pool-prod", "train")["count"] == 2
    ws.write("main.hcl", "# reviewed\n" + CONFIG)  # back to what was planned: it applies
    run = ws.np("apply", str(plan_file))
    assert run.code == 0, run.stderr
    assert ws.nodepool("pool-prod", "train")["count"] == 3


def test_saved_plan_refusals_send_nothing(ws: Workspace) -> None:
    fresh(ws)
    plan_file = ws.root / "p.plan"
    assert ws.np("plan", "-out", str(plan_file)).code == 0

    # 1. live changed since planning (a console edit).
    edit_world(ws, "train", labels={"team": "ai"})
    before = ws.world()
    run = ws.np("apply", str(plan_file))
    assert run.code == 1
    assert "nodepool.train changed live since the plan was made" in run.stderr
    assert "np plan" in run.stderr
    assert ws.world() == before and not ws.state_path.exists()

    # 2. the plan file was modified.
    assert ws.np("plan", "-out", str(plan_file)).code == 0
    doc = json.loads(plan_file.read_text())
    text = plan_file.read_text().replace('"count": 3', '"count": 30')
    assert text != plan_file.read_text()
    plan_file.write_text(text)
    run = ws.np("apply", str(plan_file))
    assert run.code == 1 and "was modified" in run.stderr
    assert ws.world() == before
    assert doc["checksum"]

    # 3. state moved on (another apply happened after planning).
    assert ws.np("plan", "-out", str(plan_file)).code == 0
    assert ws.np("apply", "--auto-approve").code == 0
    after_apply = ws.world()
    run = ws.np("apply", str(plan_file))
    assert run.code == 1 and "state changed since the plan was made" in run.stderr
    assert ws.world() == after_apply

    # Plan again and apply: done; drift is clean.
    assert ws.np("drift").code == 0


def test_drift_in_all_formats(ws: Workspace) -> None:
    fresh(ws)
    assert ws.np("apply", "--auto-approve").code == 0
    assert ws.np("drift").code == 0
    edit_world(ws, "train", labels={"team": "ai"}, count=5, maxCount=5)
    world = ws.world()
    del world["pools"]["pool-prod"]["nodepools"]["infer"]
    ws.world(world)

    text = ws.np("drift")
    assert text.code == 2
    assert "nodepool.train" in text.stdout and "labels.team" in text.stdout

    doc = ws.np("drift", "--format", "json")
    assert doc.code == 2
    report = doc.json()
    assert report["drifted"] is True
    by_address = {r["address"]: r for r in report["resources"]}
    assert by_address["nodepool.infer"]["status"] == "missing"
    train = by_address["nodepool.train"]
    assert train["status"] == "drifted"
    assert {"path": "labels.team", "applied": "ml", "live": "ai"} in train["changes"]
    assert {"path": "count", "applied": 3, "live": 5} in train["changes"]
    # max_count is not written: on a Logical pool np keeps whatever maximum is live (≥ count),
    # so a console change of it is not drift.
    assert not [c for c in train["changes"] if c["path"] == "max_count"]

    junit = ws.np("drift", "--format", "junit")
    assert junit.code == 2
    suite = ET.fromstring(junit.stdout)
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"nodepool.infer", "nodepool.train"}
    assert all(c.find("failure") is not None for c in cases.values())

    md = ws.np("drift", "--format", "markdown")
    assert md.code == 2 and "nodepool.train" in md.stdout


def test_plan_markdown_is_a_pr_comment(ws: Workspace) -> None:
    fresh(ws)
    md = ws.np("plan", "--format", "markdown")
    assert md.code == 0
    assert "| `nodepool.train` | update (adopted) |" in md.stdout
    assert "```diff" in md.stdout


def test_a_held_lock_stops_a_second_run(ws: Workspace, tmp_path: Path) -> None:
    """A live process holds the lock: plan fails at once with the holder and the command."""
    fresh(ws)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path;"
            "from reconciler.state.local_lock import LocalLocker;"
            "from reconciler.state.locking import holder_info;"
            "i = holder_info('apply'); LocalLocker(Path(sys.argv[1])).acquire(i, 0);"
            "print(i.id, flush=True); time.sleep(60)",
            str(ws.state_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert holder.stdout is not None
        lock_id = holder.stdout.readline().strip()
        before = ws.world()
        run = ws.np("apply", "--auto-approve")
        assert run.code == 1
        assert "state is locked" in run.stderr
        assert f"np force-unlock {lock_id}" in run.stderr
        assert "stale" not in run.stderr
        assert ws.world() == before
    finally:
        holder.kill()
        holder.wait()
    # The holder is dead now: the lock is reported as stale, still not taken over silently.
    run = ws.np("plan")
    assert run.code == 1 and "stale" in run.stderr
    bad = ws.np("force-unlock", "wrong-id", "--force")
    assert bad.code == 1
    ok = ws.np("force-unlock", lock_id, "--force")
    assert ok.code == 0, ok.stderr
    assert ws.np("plan").code == 0
