"""Apply exactly what was reviewed, against exactly what was reviewed: the approval prompt on a
real terminal (the world edited while it waits, Ctrl-C), and saved plans that name their target.
"""

from __future__ import annotations

import json
from typing import Any

from procs import NP, clean_env
from support import PROVIDER, Workspace, pool_world
from terminal import Terminal

LIVE = {"train": {"flavor": "f", "count": 4, "maxCount": 4, "labels": {"team": "ml"}}}
AUTOSCALED = """
nodepool "train" {
  pool   = "pool-prod"
  count  = 4
  labels = { team = "ml", stage = "prod" }
  lifecycle { ignore_changes = ["count"] }
}
"""


def seeded(ws: Workspace, config: str = AUTOSCALED) -> Workspace:
    ws.world(pool_world({name: dict(spec) for name, spec in LIVE.items()}))
    ws.write("main.hcl", PROVIDER + config)
    return ws


def console(ws: Workspace, **fields: Any) -> None:
    """A change made in the ModelArts console (the simulator's world, edited by hand)."""
    world = ws.world()
    world["pools"]["pool-prod"]["nodepools"]["train"].update(fields)
    ws.world(world)


def terminal(ws: Workspace) -> Terminal:
    assert NP is not None
    return Terminal([NP, "--no-color", "apply"], ws.root, clean_env({"NP_CACHE_DIR": "off"}))


def test_what_moved_while_the_prompt_waited_is_kept(ws: Workspace) -> None:
    """An autoscaler sets count 8 and someone adds a tag while the prompt waits: the label
    reviewed is added, and neither the count nor the tag is overwritten."""
    seeded(ws)
    with terminal(ws) as term:
        term.expect("Enter a value:")
        assert '+ "stage" = "prod"' in term.screen
        console(ws, count=8, maxCount=8, tags=[{"key": "finance", "value": "q3"}])
        term.type("yes\n")
        code = term.wait()
    assert code == 0, term.screen
    live = ws.nodepool("pool-prod", "train")
    assert live["count"] == 8 and live["maxCount"] == 8
    assert live["tags"] == [{"key": "finance", "value": "q3"}]
    assert live["labels"] == {"team": "ml", "stage": "prod"}
    run = ws.np("plan", "--detailed-exitcode")
    assert run.code == 0, run.stdout


def test_a_reviewed_change_that_no_longer_applies_is_refused(ws: Workspace) -> None:
    seeded(ws)
    with terminal(ws) as term:
        term.expect("Enter a value:")
        console(ws, labels={"team": "ml", "stage": "dev"})  # someone else set it meanwhile
        term.type("yes\n")
        code = term.wait()
    assert code == 1
    assert "Error: nodepool.train: changed since the plan was shown; run np plan again" in (
        term.screen
    )
    assert ws.nodepool("pool-prod", "train")["labels"] == {"team": "ml", "stage": "dev"}
    assert not ws.state_path.exists()  # nothing was done, so nothing was recorded


def test_ctrl_c_at_the_prompt_cancels_at_once_and_releases_the_lock(ws: Workspace) -> None:
    seeded(ws)
    before = ws.world()
    with terminal(ws) as term:
        term.expect("Enter a value:")
        term.type("\x03")
        code = term.wait(timeout=10)
    assert code == 1
    assert "Apply cancelled." in term.screen
    assert "Traceback" not in term.screen
    assert ws.world() == before
    assert not (ws.root / "state" / "np.state.json.lock").exists()


def test_a_saved_plan_is_refused_for_another_endpoint_and_with_variables(ws: Workspace) -> None:
    config = """
variable "world" {
  type    = string
  default = "world.json"
}
provider "modelarts" {
  endpoint = "sim://${var.world}"
}
nodepool "train" {
  pool   = "pool-prod"
  count  = 4
  labels = { team = "ml", stage = "prod" }
}
"""
    ws.world(pool_world({name: dict(spec) for name, spec in LIVE.items()}))
    ws.write("main.hcl", config)
    other = json.loads(ws.world_path.read_text())
    (ws.root / "worldB.json").write_text(json.dumps(other))
    assert ws.np("plan", "-out", "p.plan").code == 0

    run = ws.np("apply", "p.plan", "--var", "world=worldB.json")
    assert run.code == 1
    assert run.stderr == (
        "Error: --var and --var-file cannot be used with a saved plan: it holds the values it "
        "was made with; run np plan -out again to change them\n"
    )
    run = ws.np("apply", "p.plan", env={"NP_ENDPOINT": "sim://worldB.json"})
    assert run.code == 1
    assert run.stderr == (
        "Error: the saved plan was made for endpoint sim://world.json, but this run uses "
        "endpoint sim://worldB.json; nothing was sent. Run np plan again for this target\n"
    )
    assert json.loads((ws.root / "worldB.json").read_text()) == other
    # the plan applies with the variables it was made with: the environment cannot point
    # a reviewed plan at another world
    assert ws.np("apply", "p.plan", env={"NP_VAR_world": "worldB.json"}).code == 0
    assert json.loads((ws.root / "worldB.json").read_text()) == other
    assert ws.nodepool("pool-prod", "train")["labels"]["stage"] == "prod"


def test_paths_resolve_from_the_configuration_directory(ws: Workspace, tmp_path: Any) -> None:
    """-C DIR: -out, plan files, --var-file and --state are read from DIR, as terraform -chdir."""
    seeded(ws)
    (ws.root / "vars.json").write_text("{}")
    run = ws.np("plan", "-out", "p.plan", "--var-file", "vars.json", "--state", "s/np.json")
    assert run.code == 0, run.stderr
    assert (ws.root / "p.plan").exists()
    run = ws.np("apply", "p.plan", "--state", "s/np.json")
    assert run.code == 0, run.stderr
    assert (ws.root / "s" / "np.json").exists()
