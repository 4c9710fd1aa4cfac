"""Policies in every command that can lead to a change: plan shows them in each format and
exits 1 on a deny after showing the whole plan; apply sends nothing on a deny; a saved plan is
checked again at apply; a pull request cannot lift an operator's rule."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from support import PROVIDER, Workspace, pool_world

FLAVOR = "modelarts.vm.cpu.8u"
WORLD = pool_world({"train": {"flavor": FLAVOR, "count": 2, "maxCount": 2}})
CONFIG = PROVIDER + 'nodepool "train" {\n  pool = "pool-prod"\n  count = COUNT\n}\n'

CEILING = """package main

import rego.v1

deny contains {"msg": "count above 4", "address": rc.address} if {
\tsome rc in input.resource_changes
\trc.after.count > 4
}
"""
LABELS = """package np.labels

import rego.v1

warn contains msg if {
\tsome node in input.fleet
\tnot node.labels.team
\tmsg := concat("", [node.address, " has no team label"])
}
"""


@pytest.fixture
def operator(tmp_path: Path) -> Path:
    """The operator's policy directory: outside the configuration, as a CI runner keeps it."""
    directory = tmp_path / "operator-policy"
    directory.mkdir()
    (directory / "ceiling.rego").write_text(CEILING)
    return directory


@pytest.fixture
def cfg(make_ws: object) -> Workspace:
    ws: Workspace = make_ws("config")  # type: ignore[operator]
    ws.world(WORLD)
    ws.write("main.hcl", CONFIG.replace("COUNT", "2"))
    return ws


def test_a_deny_shows_the_whole_plan_then_exits_1(cfg: Workspace, operator: Path) -> None:
    cfg.write("main.hcl", CONFIG.replace("COUNT", "8"))
    run = cfg.np("plan", "--policy", str(operator))
    assert run.code == 1
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in run.stdout
    assert f"deny  {operator}/ceiling.rego  nodepool.train: count above 4" in run.stdout
    assert run.stderr.splitlines()[-1] == "Error: Plan refused by 1 policy"


def test_the_operator_path_comes_from_the_environment_too(cfg: Workspace, operator: Path) -> None:
    cfg.write("main.hcl", CONFIG.replace("COUNT", "8"))
    run = cfg.np("plan", "-out", "p.plan", env={"NP_POLICY_PATH": str(operator)})
    assert run.code == 1 and "Plan refused by 1 policy" in run.stderr
    assert not (cfg.root / "p.plan").exists()  # a refused plan is never saved to be applied


def test_warnings_are_shown_and_do_not_change_the_exit_code(cfg: Workspace) -> None:
    (cfg.root / "policy").mkdir()
    (cfg.root / "policy" / "labels.rego").write_text(LABELS)
    assert cfg.np("apply", "--auto-approve").code == 0  # adopted: nothing left to record
    run = cfg.np("plan", "--detailed-exitcode")
    assert run.code == 0, run.stderr
    assert "warn  policy/labels.rego  nodepool.train has no team label" in run.stdout
    assert "Policies passed: 1 policy file checked, no denies, 1 warning." in run.stdout


def test_policy_results_in_json_markdown_and_junit(cfg: Workspace, operator: Path) -> None:
    cfg.write("main.hcl", CONFIG.replace("COUNT", "8"))
    (cfg.root / "policy").mkdir()
    (cfg.root / "policy" / "labels.rego").write_text(LABELS)
    doc = json.loads(cfg.np("plan", "--json", "--policy", str(operator)).stdout)
    assert doc["policy_results"] == [
        {
            "policy": f"{operator}/ceiling.rego",
            "rule": "deny",
            "level": "deny",
            "msg": "count above 4",
            "address": "nodepool.train",
        },
        {
            "policy": "policy/labels.rego",
            "rule": "warn",
            "level": "warn",
            "msg": "nodepool.train has no team label",
            "address": None,
        },
    ]
    markdown = cfg.np("plan", "--format", "markdown", "--policy", str(operator)).stdout
    assert markdown.index("Policy check: Plan refused by 1 policy") < markdown.index("### np plan:")
    junit = cfg.np("plan", "--format", "junit", "--policy", str(operator))
    assert junit.code == 1
    suite = ET.fromstring(junit.stdout)
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    [failed] = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed.get("name") == f"{operator}/ceiling.rego"


def test_apply_sends_nothing_on_a_deny(cfg: Workspace, operator: Path) -> None:
    cfg.write("main.hcl", CONFIG.replace("COUNT", "8"))
    world = cfg.world_path.read_bytes()
    run = cfg.np("apply", "--auto-approve", "--policy", str(operator))
    assert run.code == 1
    assert "Error: Plan refused by 1 policy; nothing was sent" in run.stderr
    assert cfg.world_path.read_bytes() == world
    assert not cfg.state_path.exists()


def test_a_saved_plan_is_checked_again_at_apply(cfg: Workspace, operator: Path) -> None:
    """The operator's policies may have changed since the plan was made."""
    cfg.write("main.hcl", CONFIG.replace("COUNT", "8"))
    assert cfg.np("plan", "-out", "p.plan").code == 0  # no policy yet
    checked = cfg.np("policy", "check", "p.plan", "--policy", str(operator))
    assert checked.code == 1 and "Plan refused by 1 policy" in checked.stderr
    world = cfg.world_path.read_bytes()
    run = cfg.np("apply", "p.plan", env={"NP_POLICY_PATH": str(operator)})
    assert run.code == 1
    assert "Plan refused by 1 policy; nothing was sent" in run.stderr
    assert cfg.world_path.read_bytes() == world
    assert cfg.np("apply", "p.plan").code == 0  # without the operator's rule it applies
    assert cfg.nodepool("pool-prod", "train")["count"] == 8


@pytest.mark.parametrize(
    "override",
    [
        "package main\n\ndeny := set()\n",
        'package main\n\nimport rego.v1\n\ndefault allow := true\n\ndeny contains "x" if false\n',
    ],
    ids=["redefine-deny", "default-tricks"],
)
def test_a_pull_request_cannot_lift_the_operators_rule(
    cfg: Workspace, operator: Path, override: str
) -> None:
    cfg.write("main.hcl", CONFIG.replace("COUNT", "8"))
    (cfg.root / "policy").mkdir()
    (cfg.root / "policy" / "override.rego").write_text(override)
    run = cfg.np("plan", "--policy", str(operator))
    assert run.code == 1
    assert f"deny  {operator}/ceiling.rego  nodepool.train: count above 4" in run.stdout
    assert run.stderr.splitlines()[-1] == "Error: Plan refused by 1 policy"


def test_a_broken_policy_fails_the_plan_naming_its_line(cfg: Workspace) -> None:
    (cfg.root / "policy").mkdir()
    (cfg.root / "policy" / "broken.rego").write_text("package main\n\ndeny contains x if {\n")
    run = cfg.np("plan")
    assert run.code == 1
    assert "policy/broken.rego:" in run.stderr


def test_the_policy_input_schema_is_printed(cfg: Workspace) -> None:
    schema = json.loads(cfg.np("schema", "--policy-input").stdout)
    assert {"plan", "resource_changes", "fleet", "workspace", "providers"} <= set(
        schema["properties"]
    )
