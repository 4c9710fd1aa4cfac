"""examples/policy: its own Rego tests pass (and fail when a rule is broken), and its five
rules decide a sample plan as they say they do."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from reconciler.policy import (
    Limits,
    PolicySource,
    build_input,
    evaluate_policies,
    fleet_from_plan,
    run_policy_tests,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policy"
LIMITS = Limits(cpu_seconds=10, wall_seconds=30, memory_mb=1024)


def change(
    address: str,
    actions: list[str],
    after: dict[str, Any] | None,
    before: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "address": address,
        "pool": "pool-prod",
        "name": address.split(".")[1],
        "actions": actions,
        "before": before,
        "after": after,
    }


def labels(team: bool = True, cost: bool = True) -> dict[str, str]:
    return {**({"team": "ml"} if team else {}), **({"cost_center": "42"} if cost else {})}


A100 = "modelarts.vm.gpu.a100"
T4 = "modelarts.vm.gpu.t4u8"
PLAN = {
    "format_version": "1",
    "resource_changes": [
        # fine: allowed flavor, labelled
        change("nodepool.ok", ["create"], {"flavor": T4, "count": 2, "labels": labels()}),
        # a CPU flavor pool-prod does not allow
        change(
            "nodepool.cpu",
            ["create"],
            {"flavor": "modelarts.vm.cpu.8u32g", "count": 1, "labels": labels()},
        ),
        # a100 raised from 60 to 70 nodes: above the ceiling of 64
        change(
            "nodepool.big",
            ["update"],
            {"flavor": A100, "count": 70, "labels": labels()},
            {"flavor": A100, "count": 60, "labels": labels()},
        ),
        # changed without cost_center: denied; untouched without team: warned
        change(
            "nodepool.nolabel", ["update"], {"flavor": T4, "count": 3, "labels": labels(cost=False)}
        ),
        change(
            "nodepool.legacy", ["no-op"], {"flavor": T4, "count": 1, "labels": labels(team=False)}
        ),
        # a NoExecute taint
        change(
            "nodepool.evict",
            ["update"],
            {
                "flavor": T4,
                "count": 1,
                "labels": labels(),
                "taints": [{"key": "dedicated", "value": "x", "effect": "NoExecute"}],
            },
        ),
        # four destroys: more than three
        *(
            change(f"nodepool.gone{i}", ["delete"], None, {"flavor": T4, "count": 1})
            for i in range(4)
        ),
    ],
}


def decisions(workspace: str) -> set[tuple[str, str, str | None]]:
    doc = build_input(PLAN, fleet_from_plan(PLAN), workspace, {"modelarts": {}})
    source = PolicySource(EXAMPLES, "examples/policy", "operator")
    report = evaluate_policies(doc, [source], LIMITS)
    return {(r.level, r.policy.removeprefix("examples/policy/"), r.address) for r in report.results}


def test_the_examples_decide_a_sample_plan() -> None:
    common = {
        ("deny", "flavor_allowlist.rego", "nodepool.cpu"),
        ("deny", "flavor_ceiling.rego", None),
        ("deny", "required_labels.rego", "nodepool.nolabel"),
        ("warn", "required_labels.rego", "nodepool.legacy"),
        ("deny", "destroy_limit.rego", None),
    }
    assert decisions("production") == common | {
        ("deny", "production_taints.rego", "nodepool.evict")
    }
    assert decisions("staging") == common


def test_the_examples_own_tests_pass() -> None:
    report = run_policy_tests([PolicySource(EXAMPLES, "examples/policy", "configuration")], LIMITS)
    assert [o for o in report.outcomes if o.status != "PASS"] == []
    assert len(report.outcomes) == 20
    assert {o.policy.removeprefix("examples/policy/") for o in report.outcomes} == {
        f"{name}_test.rego"
        for name in (
            "destroy_limit",
            "flavor_allowlist",
            "flavor_ceiling",
            "production_taints",
            "required_labels",
        )
    }


@pytest.mark.parametrize(
    ("file", "old", "new", "failing"),
    [
        (
            "destroy_limit.rego",
            "max_destroys := 3",
            "max_destroys := 4",
            "test_four_destroys_are_denied",
        ),
        (
            "flavor_ceiling.rego",
            "after > before",
            "after >= 0",
            "test_a_fleet_already_above_that_does_not_grow_passes",
        ),
        (
            "required_labels.rego",
            '"team", "cost_center"',
            '"team"',
            "test_changed_node_pool_missing_a_label_is_denied",
        ),
    ],
)
def test_a_broken_example_fails_its_tests(
    tmp_path: Path, file: str, old: str, new: str, failing: str
) -> None:
    copy = tmp_path / "policy"
    shutil.copytree(EXAMPLES, copy)
    text = (copy / file).read_text()
    assert old in text
    (copy / file).write_text(text.replace(old, new))
    report = run_policy_tests([PolicySource(copy, "policy", "configuration")], LIMITS)
    assert failing in {o.name for o in report.outcomes if o.status == "FAIL"}
