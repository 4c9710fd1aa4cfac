"""Several providers (regions) in one configuration, end to end through the CLI against
in-process ``sim://`` worlds, one world file per region: plan and apply, identity per region,
saved plans with a target per provider, drift, generate and import through the right region,
targeting across regions, and the endpoint rules per alias."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from support import Workspace

FLAVOR = "modelarts.vm.cpu.8u"
HK_WORLD = "world-hk.json"

TWO_REGIONS = """\
provider "modelarts" {
  endpoint = "sim://world.json"
}

provider "modelarts" {
  alias    = "hk"
  endpoint = "sim://world-hk.json"
}

nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.cpu.8u"
  count  = 2
}

nodepool "train_hk" {
  provider = modelarts.hk
  pool     = "pool-prod"
  name     = "train"
  flavor   = "modelarts.vm.cpu.8u"
  count    = 3
}
"""


def region(nodepools: dict[str, int]) -> dict[str, Any]:
    specs = {n: {"flavor": FLAVOR, "count": c, "maxCount": c} for n, c in nodepools.items()}
    return {"pools": {"pool-prod": {"type": "Logical", "privileged": True, "nodepools": specs}}}


def seed(
    ws: Workspace, default: dict[str, int], hk: dict[str, int], config: str = TWO_REGIONS
) -> None:
    ws.world(region(default))
    (ws.root / HK_WORLD).write_text(json.dumps(region(hk)))
    ws.write("main.hcl", config)


def counts(ws: Workspace, world: str = "world.json") -> dict[str, int]:
    doc = json.loads((ws.root / world).read_text())
    return {n: s["count"] for n, s in doc["pools"]["pool-prod"]["nodepools"].items()}


def ok(ws: Workspace, *args: str, env: dict[str, str] | None = None) -> str:
    run = ws.np(*args, env=env)
    assert run.code == 0, run.stderr
    return run.stdout


def test_the_same_node_pool_name_in_two_regions_is_two_node_pools(ws: Workspace) -> None:
    seed(ws, {"train": 1, "other": 1}, {"train": 1, "other": 1})
    plan = json.loads(ok(ws, "plan", "--json"))
    changes = {
        c["address"]: (c["provider"], c["name"], c["after"]["count"])
        for c in plan["resource_changes"]
    }
    assert changes == {
        "nodepool.train": ("modelarts", "train", 2),
        "nodepool.train_hk": ("modelarts.hk", "train", 3),
    }
    text = ok(ws, "plan")
    assert "Provider modelarts:" in text and "Provider modelarts.hk:" in text
    assert "  modelarts.hk: 0 to add, 1 to change, 0 to destroy." in text
    ok(ws, "apply", "--auto-approve")
    assert counts(ws) == {"train": 2, "other": 1}
    assert counts(ws, HK_WORLD) == {"train": 3, "other": 1}
    state = ws.state()
    assert state["resources"]["nodepool.train_hk"]["provider"] == "modelarts.hk"
    assert "provider" not in state["resources"]["nodepool.train"]  # the default: as before
    assert state["identity"] == {"project_id": "sim-project", "endpoint": "sim://world.json"}
    assert state["providers"] == {
        "modelarts.hk": {"project_id": "sim-project", "endpoint": "sim://world-hk.json"}
    }
    assert ws.np("plan", "--detailed-exitcode").code == 0


def test_a_provider_for_each_makes_one_provider_per_region(ws: Workspace) -> None:
    config = """\
variable "regions" {
  type    = set(string)
  default = ["a", "b"]
}

provider "modelarts" {
  alias    = "region"
  for_each = toset(var.regions)
  endpoint = "sim://world-${each.key}.json"
}

nodepool "infer" {
  for_each = toset(var.regions)
  provider = modelarts.region[each.key]
  pool     = "pool-prod"
  name     = "infer"
  flavor   = "modelarts.vm.cpu.8u"
  count    = 2
}
"""
    for key in ("a", "b"):
        (ws.root / f"world-{key}.json").write_text(json.dumps(region({"other": 1})))
    ws.write("main.hcl", config)
    plan = json.loads(ok(ws, "plan", "--json"))
    assert [(c["address"], c["provider"], c["actions"]) for c in plan["resource_changes"]] == [
        ('nodepool.infer["a"]', 'modelarts.region["a"]', ["create"]),
        ('nodepool.infer["b"]', 'modelarts.region["b"]', ["create"]),
    ]
    ok(ws, "apply", "--auto-approve")
    for key in ("a", "b"):
        assert counts(ws, f"world-{key}.json") == {"other": 1, "infer": 2}
    # a region added to the variable is one more create, in that region only
    (ws.root / "world-c.json").write_text(json.dumps(region({"other": 1})))
    plan = json.loads(ok(ws, "plan", "--json", "--var", 'regions=["a","b","c"]'))
    acting = [
        (c["address"], c["actions"]) for c in plan["resource_changes"] if c["actions"] != ["no-op"]
    ]
    assert acting == [('nodepool.infer["c"]', ["create"])]


def test_moving_a_managed_node_pool_to_another_provider_is_refused(ws: Workspace) -> None:
    seed(ws, {"train": 1, "other": 1}, {"train": 1, "other": 1})
    ok(ws, "apply", "--auto-approve")
    (ws.root / "world-sg.json").write_text(json.dumps(region({"train": 1, "other": 1})))
    sg = 'provider "modelarts" {\n  alias    = "sg"\n  endpoint = "sim://world-sg.json"\n}\n\n'
    ws.write(
        "main.hcl", sg + TWO_REGIONS.replace("provider = modelarts.hk", "provider = modelarts.sg")
    )
    run = ws.np("plan")
    assert run.code == 1
    assert run.stderr == (
        "Error: main.hcl:22: nodepool.train_hk: provider: provider cannot change on a managed "
        "node pool (state: modelarts.hk, configuration: modelarts.sg): pool-prod/train lives "
        "where its provider points. To keep managing it, set provider back to modelarts.hk; to "
        "replace it with a node pool of modelarts.sg, add a new block for that one and remove "
        "this one, so that the plan shows the create and the destroy\n"
    )


def test_a_node_pool_whose_provider_block_is_gone_cannot_be_planned(ws: Workspace) -> None:
    seed(ws, {"train": 1, "other": 1}, {"train": 1, "other": 1})
    ok(ws, "apply", "--auto-approve")
    config = TWO_REGIONS[: TWO_REGIONS.index('nodepool "train_hk"')]
    ws.write(
        "main.hcl",
        config.replace(
            'provider "modelarts" {\n  alias    = "hk"\n  endpoint = "sim://world-hk.json"\n}\n', ""
        ),
    )
    run = ws.np("plan")
    assert run.code == 1
    assert run.stderr == (
        "Error: nodepool.train_hk is managed through provider modelarts.hk, which the "
        "configuration no longer declares: restore its provider block (np needs it to reach "
        "those node pools, even to destroy them), or run np state rm to forget them\n"
    )
    # with the provider back, removing the block destroys the node pool in its own region
    ws.write("main.hcl", TWO_REGIONS[: TWO_REGIONS.index('nodepool "train_hk"')])
    ok(ws, "apply", "--auto-approve")
    assert counts(ws, HK_WORLD) == {"other": 1}
    assert counts(ws) == {"train": 2, "other": 1}


def test_the_state_identity_is_checked_per_provider(ws: Workspace) -> None:
    seed(ws, {"train": 1, "other": 1}, {"train": 1, "other": 1})
    ok(ws, "apply", "--auto-approve")
    other_project = TWO_REGIONS.replace(
        'endpoint = "sim://world-hk.json"', 'endpoint = "sim://world-hk.json"\n  project_id = "p2"'
    )
    ws.write("main.hcl", other_project)
    run = ws.np("plan")
    assert run.code == 1
    assert run.stderr == (
        f"Error: {ws.state_path} was written for project sim-project; "
        "this configuration uses project p2 for provider modelarts.hk\n"
    )
    # another endpoint for the same project of one region is a warning, recorded on write
    (ws.root / "world-hk2.json").write_text((ws.root / HK_WORLD).read_text())
    ws.write("main.hcl", TWO_REGIONS.replace("world-hk.json", "world-hk2.json"))
    run = ws.np("apply", "--auto-approve")
    assert run.code == 0
    assert "was written for modelarts.hk endpoint sim://world-hk.json" in run.stderr


def test_two_providers_reaching_the_same_project_are_refused(ws: Workspace) -> None:
    seed(ws, {"train": 1}, {"train": 1}, TWO_REGIONS.replace("world-hk.json", "world.json"))
    run = ws.np("plan")
    assert run.code == 1
    assert run.stderr == (
        "Error: providers modelarts and modelarts.hk both reach project sim-project at "
        "sim://world.json: a node pool there would have two identities; point each provider at "
        "its own region, project or workspace\n"
    )


def test_targeting_reads_only_the_regions_it_chooses(ws: Workspace) -> None:
    seed(ws, {"train": 1, "other": 1}, {"train": 1, "other": 1})
    (ws.root / HK_WORLD).write_text("not json")  # that region would fail if it were read
    plan = json.loads(ok(ws, "plan", "--json", "--target", "nodepool.train"))
    assert [c["address"] for c in plan["resource_changes"]] == ["nodepool.train"]
    ok(ws, "apply", "--auto-approve", "--exclude", "nodepool.train_hk")
    assert counts(ws) == {"train": 2, "other": 1}
    run = ws.np("plan")
    assert run.code == 1 and "world-hk.json" in run.stderr


def test_a_saved_plan_records_every_providers_target_and_refuses_a_changed_one(
    ws: Workspace,
) -> None:
    seed(ws, {"train": 1, "other": 1}, {"train": 1, "other": 1})
    ok(ws, "plan", "-out", "p.plan")
    saved = json.loads((ws.root / "p.plan").read_text())
    assert saved["format_version"] == "4"
    assert saved["providers"] == {
        "modelarts": {
            "endpoint": "sim://world.json",
            "project_id": "sim-project",
            "workspace": "default",
            "workspace_id": None,
        },
        "modelarts.hk": {
            "endpoint": "sim://world-hk.json",
            "project_id": "sim-project",
            "workspace": "default",
            "workspace_id": None,
        },
    }
    (ws.root / "world-hk2.json").write_text((ws.root / HK_WORLD).read_text())
    elsewhere = {"NP_ENDPOINT_HK": "sim://world-hk2.json"}
    run = ws.np("apply", "p.plan", env=elsewhere)
    assert run.code == 1
    assert run.stderr.endswith(
        "the saved plan was made for endpoint of provider modelarts.hk sim://world-hk.json, but "
        "this run uses endpoint sim://world-hk2.json; nothing was sent. Run np plan again for "
        "this target\n"
    )
    assert counts(ws) == {"train": 1, "other": 1}
    ok(ws, "apply", "p.plan")
    assert (counts(ws)["train"], counts(ws, HK_WORLD)["train"]) == (2, 3)


def test_drift_names_each_region_and_junit_has_a_suite_per_provider(ws: Workspace) -> None:
    seed(ws, {"train": 1, "other": 1}, {"train": 1, "other": 1})
    ok(ws, "apply", "--auto-approve")
    hk = json.loads((ws.root / HK_WORLD).read_text())
    hk["pools"]["pool-prod"]["nodepools"]["train"]["count"] = 7  # changed in the console
    (ws.root / HK_WORLD).write_text(json.dumps(hk))
    run = ws.np("drift", "--format", "json")
    assert run.code == 2
    entries = {e["address"]: (e["provider"], e["status"]) for e in run.json()["resources"]}
    assert entries == {
        "nodepool.train": ("modelarts", "in-sync"),
        "nodepool.train_hk": ("modelarts.hk", "drifted"),
    }
    junit = ET.fromstring(ws.np("drift", "--format", "junit").stdout)
    assert junit.tag == "testsuites"
    suites = {s.get("name"): s.get("failures") for s in junit}
    assert suites == {"np drift: modelarts": "0", "np drift: modelarts.hk": "1"}
    text = ws.np("drift").stdout
    assert 'nodepool.train_hk (provider modelarts.hk, pool "pool-prod", node pool "train")' in text
    markdown = ws.np("drift", "--format", "markdown").stdout
    assert (
        "| `nodepool.train_hk` | `modelarts.hk` | `pool-prod` | `train` | drifted | 1 |" in markdown
    )


def test_markdown_groups_changes_by_provider(ws: Workspace) -> None:
    seed(ws, {"train": 1, "other": 1}, {"train": 1, "other": 1})
    markdown = ok(ws, "plan", "--format", "markdown")
    assert "| address | provider | action | fields changed |" in markdown
    assert "| `nodepool.train_hk` | `modelarts.hk` | update (adopted) |" in markdown
    assert markdown.index("  # provider modelarts") < markdown.index("  # provider modelarts.hk")


def test_import_and_generate_go_through_the_blocks_provider(ws: Workspace) -> None:
    seed(ws, {"other": 1}, {"train": 3, "other": 1})
    # hk's "train" is declared (by nodepool.train_hk): only "other" is generated there
    generated = ok(ws, "generate", "--provider", "hk", "--pool", "pool-prod")
    assert generated.startswith('nodepool "other" {\n  provider  = modelarts.hk\n')
    assert generated.count("nodepool ") == 1
    yaml = ok(ws, "generate", "--provider", "modelarts.hk", "--format", "yaml")
    assert yaml.startswith('nodepools:\n  other:\n    provider: "hk"\n    pool: "pool-prod"\n')
    # added to the configuration, the generated block plans no changes in its region
    ws.write("other.hcl", generated)
    plan = json.loads(ok(ws, "plan", "--json"))
    other = next(c for c in plan["resource_changes"] if c["address"] == "nodepool.other")
    assert (other["provider"], other["actions"], other["adopted"]) == (
        "modelarts.hk",
        ["no-op"],
        True,
    )
    ws.remove("other.hcl")
    run = ws.np("generate", "--provider", "sg")
    assert (run.code, run.stderr) == (
        1,
        "Error: --provider: modelarts.sg is not declared (declared: modelarts, modelarts.hk)\n",
    )
    ok(ws, "import", "nodepool.train_hk", "pool-prod/train")
    resource = ws.state()["resources"]["nodepool.train_hk"]
    assert (resource["provider"], resource["applied"]["count"]) == ("modelarts.hk", 3)
    run = ws.np("import", "nodepool.train", "pool-prod/train")
    assert run.code == 1  # the default region has no node pool "train"
    assert "node pool pool-prod/train does not exist" in run.stderr


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_an_aliases_endpoint_follows_the_rules_and_only_its_own_override(
    ws: Workspace, command: str
) -> None:
    seed(
        ws,
        {"train": 1},
        {"train": 1},
        TWO_REGIONS.replace("sim://world-hk.json", "https://collector.example"),
    )
    run = ws.np(command, env={"NP_ENDPOINT": "sim://world.json"})
    assert run.code == 1
    assert run.stderr.startswith(
        "Error: main.hcl:7: provider modelarts.hk: endpoint: collector.example is not a Huawei "
        "Cloud modelarts endpoint"
    )
    assert "(or NP_ENDPOINT_HK) in the environment" in run.stderr
    if command == "plan":
        assert not ws.state_path.exists()
        run = ws.np(command, env={"NP_ENDPOINT_HK": "sim://world-hk.json"})
        assert run.code == 0, run.stderr
