"""Options as a Terraform user types them (issue 23, item 4): ``-var x=1``, ``-out=FILE``,
``-chdir=DIR``, ``-auto-approve``, ``-input=false``; ``-lock=false`` refused with its reason;
the double-dash forms unchanged; ``np --help`` showing one form. The installed ``np`` runs as
a subprocess on a ``sim://`` world, so the command line is parsed exactly as a shell passes it."""

from __future__ import annotations

import json
from collections.abc import Callable

from procs import NP, clean_env, np
from support import PROVIDER, Workspace, pool_world
from terminal import Terminal

CONFIG = (
    PROVIDER
    + """
variable "n" {
  type    = number
  default = 2
}

variable "team" {
  type    = string
  default = "ai"
}

nodepool "cpu" {
  pool   = "pool-prod"
  count  = var.n
  labels = { team = var.team }
}

nodepool "infer" {
  pool  = "pool-prod"
  count = var.n
}
"""
)


def infra(ws: Workspace) -> Workspace:
    """``infra/`` under the test directory: two node pools at count 2, a var file for 3."""
    ws.world(
        pool_world(
            {
                "cpu": {"flavor": "f", "count": 2, "maxCount": 2, "labels": {"team": "ai"}},
                "infer": {"flavor": "f", "count": 2, "maxCount": 2},
            }
        )
    )
    ws.write("main.hcl", CONFIG)
    ws.write("three.tfvars", "n = 3\n")
    return ws


def test_single_dash_options_plan_save_and_apply_as_their_double_dash_forms(
    make_ws: Callable[[str], Workspace],
) -> None:
    ws = infra(make_ws("infra"))
    above = Workspace(ws.root.parent)
    single = np(
        above,
        "-chdir=infra",
        "plan",
        "-var-file=three.tfvars",
        "-var",
        "team=ml",
        "-target=nodepool.cpu",
        "-exclude",
        "nodepool.infer",
        "-out=single.plan",
        "-no-color",
        "-parallelism=3",
        "-lock-timeout=2s",
        "-detailed-exitcode",
        "-input=false",
    )
    double = np(
        above,
        "--chdir",
        "infra",
        "plan",
        "--var-file",
        "three.tfvars",
        "--var=team=ml",
        "--target",
        "nodepool.cpu",
        "--exclude=nodepool.infer",
        "--out",
        "double.plan",
        "--no-color",
        "--parallelism",
        "3",
        "--lock-timeout=2s",
        "--detailed-exitcode",
    )
    assert (single.code, double.code) == (2, 2), single.stderr + double.stderr
    assert "~ count     = 2 -> 3  # config" in single.stdout
    assert '~ labels    = {\n          ~ "team" = "ai" -> "ml"' in single.stdout
    assert "nodepool.infer" not in single.stdout
    assert single.stdout.replace("single.plan", "double.plan") == double.stdout
    assert (ws.root / "single.plan").is_file() and (ws.root / "double.plan").is_file()
    assert "\x1b[" not in single.stdout + single.stderr

    applied = np(above, "-chdir=infra", "apply", "-auto-approve", "-input=false", "single.plan")
    assert applied.code == 0, applied.stderr
    assert ws.nodepool("pool-prod", "cpu") == {
        "flavor": "f",
        "count": 3,
        "maxCount": 3,
        "labels": {"team": "ml"},
    }
    assert ws.nodepool("pool-prod", "infer") == {"flavor": "f", "count": 2, "maxCount": 2}
    assert sorted(ws.state()["resources"]) == ["nodepool.cpu"]

    shown = np(ws, "plan", "-json", "-var-file=three.tfvars", "-var=team=ml")
    assert shown.code == 0, shown.stderr
    changes = {r["address"]: r["actions"] for r in json.loads(shown.stdout)["resource_changes"]}
    assert changes == {"nodepool.cpu": ["no-op"], "nodepool.infer": ["update"]}


def test_lock_false_is_refused_with_its_reason_and_nothing_is_read_or_sent(ws: Workspace) -> None:
    infra(ws)
    world = ws.world_path.read_bytes()
    for args in (("plan", "-lock=false"), ("apply", "-auto-approve", "-lock=false")):
        run = np(ws, *args)
        assert (run.code, run.stdout) == (1, ""), run.stderr
        assert run.stderr == (
            "Error: -lock=false: np always locks the state: a second run at the same time could "
            "send conflicting changes or lose what this one records; to wait for another run's "
            "lock, use -lock-timeout=DURATION\n"
        )
    assert ws.world_path.read_bytes() == world
    assert not (ws.root / "state").exists() and not (ws.root / ".np").exists()
    locked = np(ws, "plan", "-lock=true", "-detailed-exitcode")
    assert locked.code == 2, locked.stderr


def test_a_bare_lock_or_input_means_true_as_in_terraform(ws: Workspace) -> None:
    """Terraform's booleans take no value: ``-input`` is ``-input=true``, so the plan file after
    it stays the plan file."""
    infra(ws)
    assert np(ws, "plan", "-var=n=3", "-out=p.plan").code == 0
    shown = np(ws, "-input", "show", "-lock", "-json", "p.plan")
    assert shown.code == 0, shown.stderr
    assert "update" in {
        a for r in json.loads(shown.stdout)["resource_changes"] for a in r["actions"]
    }
    applied = np(ws, "apply", "-lock", "-input", "p.plan")
    assert applied.code == 0, applied.stderr
    assert applied.stdout.endswith("Apply complete! Resources: 0 added, 2 changed, 0 destroyed.\n")
    refused = np(ws, "plan", "-input", "false")  # not a value: a stray argument
    assert refused.code != 0
    assert "false" in refused.stderr


def test_input_false_never_asks_even_on_a_terminal(ws: Workspace) -> None:
    infra(ws)
    world = ws.world_path.read_bytes()
    assert NP is not None
    with Terminal([NP, "apply", "-var=n=3", "-input=false"], ws.root, clean_env({})) as term:
        assert term.wait(timeout=30) == 1
    assert "Enter a value" not in term.screen
    assert (
        "Error: no terminal to ask for approval (or -input=false): pass --auto-approve, or save "
        "a plan with `np plan -out FILE` and apply it with `np apply FILE`"
    ) in term.screen.replace("\n", " ").replace("  ", " ")
    assert ws.world_path.read_bytes() == world


def test_an_unknown_single_dash_option_is_named_as_typed_not_by_one_of_its_letters(
    ws: Workspace,
) -> None:
    infra(ws)
    run = np(ws, "plan", "-vars", "n=3")
    assert run.code == 1
    assert "Error: No such option '--vars'." in run.stderr
    assert "'-a'" not in run.stderr
    short = np(ws, "-Cnowhere", "validate")  # -C with its value attached is still -C
    assert (short.code, short.stderr) == (
        1,
        "Error: configuration directory nowhere does not exist\n",
    )


def test_help_shows_each_option_once_and_says_one_dash_works(ws: Workspace) -> None:
    top = np(ws, "--help")
    plan = np(ws, "plan", "--help")
    assert (top.code, plan.code) == (0, 0)
    assert "Long options may also be written with one dash, as in Terraform" in top.stdout
    options = [line.split()[0] for line in plan.stdout.splitlines() if line.startswith("  -")]
    assert "--var" in options and "--out" in options and "--detailed-exitcode" in options
    assert not [o for o in options if o.startswith("-") and not o.startswith("--") and len(o) > 3]
    assert "--lock " not in plan.stdout and "--input " not in plan.stdout
