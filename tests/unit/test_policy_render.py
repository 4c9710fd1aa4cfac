"""Policy results as text, Markdown and JUnit; untrusted messages made safe; the JSON Schema
of the input (every property described, and real inputs valid against it)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import jsonschema

from reconciler.policy import (
    PolicyReport,
    PolicyResult,
    build_input,
    fleet_from_plan,
    policy_input_schema,
    policy_junit_cases,
    policy_markdown,
    policy_text,
    refusal,
)
from reconciler.policy.results import PolicyFileInfo, clean

REPORT = PolicyReport(
    [
        PolicyResult(
            "/etc/np/policy/labels.rego", "warn", "nodepool.old: missing team", "nodepool.old"
        ),
        PolicyResult(
            "policy/flavors.rego", "deny", "flavor X is not allowed in pool-prod", "nodepool.gpu"
        ),
        PolicyResult("policy/flavors.rego", "violation", "too big", None),
    ],
    [
        PolicyFileInfo("/etc/np/policy/labels.rego", "operator"),
        PolicyFileInfo("policy/flavors.rego", "configuration"),
        PolicyFileInfo("policy/quiet.rego", "configuration"),
    ],
)


def test_text_lines_name_level_file_and_address() -> None:
    assert policy_text(REPORT).splitlines() == [
        "deny  policy/flavors.rego  nodepool.gpu: flavor X is not allowed in pool-prod",
        "deny  policy/flavors.rego  too big",
        "warn  /etc/np/policy/labels.rego  nodepool.old: missing team",
        "Plan refused by 1 policy (2 denies, 1 warning).",
    ]
    passed = PolicyReport([], REPORT.files)
    assert policy_text(passed) == "Policies passed: 3 policy files checked, no denies, no warnings."
    assert refusal(passed) is None


def test_markdown_escapes_what_a_policy_wrote() -> None:
    hostile = PolicyReport(
        [PolicyResult("policy/x.rego", "deny", "<img src=x> | `code` @admin", "nodepool.a")],
        [PolicyFileInfo("policy/x.rego", "configuration")],
    )
    text = policy_markdown(hostile)
    assert text.startswith("### :no_entry: Policy check: Plan refused by 1 policy\n")
    row = text.splitlines()[-1]
    assert row == (
        "| **deny** | `policy/x.rego` | `nodepool.a` | "
        "&lt;img src=x&gt; \\| \\`code\\` @\u200badmin |"
    )
    assert "<img" not in text
    assert policy_markdown(PolicyReport([], [])).startswith("### :white_check_mark:")


def test_junit_has_a_case_per_file_with_denies_as_failures() -> None:
    cases = policy_junit_cases(REPORT)
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("np.policy.operator", "/etc/np/policy/labels.rego"),
        ("np.policy.configuration", "policy/flavors.rego"),
        ("np.policy.configuration", "policy/quiet.rego"),
    ]
    labels, flavors, quiet = cases
    assert labels.find("failure") is None
    assert labels.findtext("system-out") == "warn: nodepool.old: missing team"
    failure = flavors.find("failure")
    assert failure is not None and failure.get("message") == "2 denies"
    assert failure.text == "nodepool.gpu: flavor X is not allowed in pool-prod\ntoo big"
    assert list(quiet) == []
    ET.fromstring(ET.tostring(flavors))  # well-formed


def test_clean_removes_terminal_escapes_and_bounds_length() -> None:
    assert clean("a\x1b[2Jb\r\nc\u202ed") == "a\ufffd[2Jb c\ufffdd"
    assert len(clean("x" * 5000)) == 2000


def described(schema: dict[str, Any], where: str = "input") -> list[str]:
    missing = [] if "description" in schema else [where]
    for name, sub in schema.get("properties", {}).items():
        missing += described(sub, f"{where}.{name}")
    if isinstance(schema.get("items"), dict):
        missing += described(schema["items"], f"{where}[]")
    return missing


def test_every_property_of_the_input_schema_is_described() -> None:
    assert described(policy_input_schema()) == []


def test_a_real_input_is_valid_against_the_schema() -> None:
    plan = {
        "format_version": "1",
        "summary": {"add": 1, "change": 0, "destroy": 0, "drift": 0},
        "resource_changes": [
            {
                "address": "nodepool.gpu",
                "pool": "pool-prod",
                "name": "gpu",
                "actions": ["create"],
                "adopted": False,
                "before": None,
                "after": {
                    "flavor": "f",
                    "count": 1,
                    "maxCount": 1,
                    "tags": [{"key": "k", "value": "v"}],
                },
                "patch": {"spec": {"resources": {"flavor": "f", "count": 1}}},
                "reasons": {"count": "config"},
            }
        ],
    }
    doc = build_input(
        plan,
        fleet_from_plan(plan),
        "default",
        {"modelarts": {"region": "r", "project_id": None, "endpoint": None}},
    )
    jsonschema.validate(doc, policy_input_schema())
    doc["fleet"][0]["action"] = "destroy"
    try:
        jsonschema.validate(doc, policy_input_schema())
    except jsonschema.ValidationError:
        pass
    else:  # pragma: no cover
        raise AssertionError("an unknown action must not validate")
