"""The CI-facing renderers: the plan as a PR comment, and drift as text, JSON, Markdown, JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from reconciler.diff import DriftChange, FieldChange
from reconciler.drift import DriftEntry
from reconciler.plan.changes import Plan, ResourceChange
from reconciler.render import json_pieces
from reconciler.render.drift_report import (
    drift_json,
    drift_junit,
    drift_markdown,
    drift_text,
    drifted,
)
from reconciler.render.markdown import FOLD_LINES, LIMIT, render_plan_markdown
from reconciler.render.text import Painter, render_plan

UPDATE = ResourceChange(
    "nodepool.train",
    "pool-prod",
    "train",
    "update",
    before={"flavor": "f", "count": 2, "maxCount": 2, "labels": {"team": "ml"}, "os": {}},
    after={
        "flavor": "f",
        "count": 4,
        "maxCount": 4,
        "labels": {"team": "ai", "new": "1"},
        "os": {},
    },
    body={"spec": {"resources": {"flavor": "f", "count": 4, "maxCount": 4}}},
    changes=(
        FieldChange("count", "config", 2, 4),
        FieldChange("labels.team", "drift", "ml", "ai"),
        FieldChange("labels.new", "config", None, "1"),
        FieldChange("extendParams.dockerBaseSize", "removed-from-config", "50", None),
    ),
    drift=(DriftChange("labels.team", "ai", "ml"), DriftChange("extendParams.x", 1, None)),
)
CREATE = ResourceChange(
    "nodepool.new",
    "pool-prod",
    "new",
    "create",
    after={"flavor": "f", "count": 1, "maxCount": 1},
    body={"apiVersion": "v2"},
    changes=(FieldChange("flavor", "config", None, "f"), FieldChange("count", "config", None, 1)),
    records_state=True,
)
DELETE = ResourceChange(
    "nodepool.old",
    "pool-prod",
    "old",
    "delete",
    before={"flavor": "f", "count": 1},
    changes=(FieldChange("flavor", "removed-from-config", "f", None),),
    records_state=True,
)
ADOPT = ResourceChange(
    "nodepool.adopt", "pool-prod", "adopt", "no-op", adopted=True, before={}, records_state=True
)
QUIET = ResourceChange("nodepool.quiet", "pool-prod", "quiet", "no-op", before={})
PLAN = Plan("lin", 3, (ADOPT, CREATE, DELETE, QUIET, UPDATE), warnings=("Targeting is on.",))


def _labels(address: str, count: int, width: int = 10) -> ResourceChange:
    name = address.split(".", 1)[1]
    changes = tuple(
        FieldChange(f"labels.k{i:05}", "config", "o" * width, "n" * width) for i in range(count)
    )
    return ResourceChange(address, "pool-prod", name, "update", after={}, changes=changes)


def test_markdown_plan_is_a_table_then_a_diff_then_the_drift() -> None:
    (part,) = render_plan_markdown(PLAN)
    assert part == (
        "<!-- np plan: part 1 of 1 -->\n"
        "### np plan: 1 to add, 1 to change, 1 to destroy, 1 drifted\n"
        "\n"
        "> **Warning:** Targeting is on.\n"
        "\n"
        "| address | action | fields changed |\n"
        "| --- | --- | --- |\n"
        "| `nodepool.adopt` | record in state (adopted) | — |\n"
        "| `nodepool.new` | create | `flavor`, `count` |\n"
        "| `nodepool.old` | delete | (all) |\n"
        "| `nodepool.train` | update | `count`, `labels`, `extend_params` |\n"
        "\n"
        "```diff\n"
        "  # nodepool.new will be created\n"
        '+ nodepool "new" {\n'
        '+     pool = "pool-prod"\n'
        '+     flavor = "f"\n'
        "+     count  = 1\n"
        "+ }\n"
        "\n"
        "  # nodepool.old will be destroyed\n"
        '- nodepool "old" {\n'
        '-     pool = "pool-prod"\n'
        '-     flavor = "f"\n'
        "- }\n"
        "\n"
        "  # nodepool.train will be updated in-place\n"
        '  nodepool "train" {\n'
        '      pool = "pool-prod"\n'
        "-     count         = 2\n"
        "+     count         = 4  # config\n"
        "      labels = {\n"
        '-         "team" = "ml"\n'
        '+         "team" = "ai"  # drift\n'
        '+         "new"  = "1"  # config\n'
        "      }\n"
        "      extend_params = {\n"
        '-         "dockerBaseSize" = "50"  # removed-from-config\n'
        "      }\n"
        "      # (3 unchanged fields hidden)\n"
        "  }\n"
        "```\n"
        "\n"
        "#### Changed outside of np\n"
        "\n"
        "Live values that moved away from what np last applied (`-` last applied, `+` live):\n"
        "\n"
        "```diff\n"
        "  # nodepool.train has changed outside of np\n"
        '- labels.team = "ai"\n'
        '+ labels.team = "ml"\n'
        "- extend_params.x = 1\n"
        "```\n"
    )


def test_markdown_without_changes() -> None:
    assert render_plan_markdown(Plan("lin", 3, (QUIET,))) == [
        "<!-- np plan: part 1 of 1 -->\n"
        "### np plan: no changes\n"
        "\n"
        "No changes. Your node pools match the configuration.\n"
    ]


def test_long_diff_is_folded_in_details() -> None:
    short = render_plan_markdown(Plan("l", 1, (_labels("nodepool.a", FOLD_LINES // 2 - 5),)))
    assert "<details>" not in short[0]
    (part,) = render_plan_markdown(Plan("l", 1, (_labels("nodepool.a", 30),)))
    lines = 4 + 30 * 2 + 2  # header, a -/+ pair per label, two closing braces
    assert f"<details><summary>Changes ({lines} lines)</summary>\n\n```diff\n" in part
    assert part.endswith("```\n\n</details>\n")


def test_three_thousand_resources_split_between_resources() -> None:
    resources = tuple(_labels(f"nodepool.np{i:04}", 3) for i in range(3000))
    parts = render_plan_markdown(Plan("l", 1, resources))
    n = len(parts)
    assert n > 1
    for i, part in enumerate(parts, 1):
        assert len(part) <= LIMIT
        assert part.startswith(f"<!-- np plan: part {i} of {n} -->\n### np plan: 0 to add, ")
        assert f"3000 to change, 0 to destroy (part {i} of {n})\n" in part
    text = "".join(parts)
    for resource in resources:
        assert f"| `{resource.address}` | update |" in text
        assert text.count(f"# {resource.address} will be updated in-place") == 1


def test_one_huge_resource_is_split_by_lines() -> None:
    huge = _labels("nodepool.huge", 4000, width=20)
    parts = render_plan_markdown(Plan("l", 1, (_labels("nodepool.a", 1), huge)))
    assert len(parts) >= 4
    assert all(len(part) <= LIMIT for part in parts)
    assert "# nodepool.huge will be updated in-place" in parts[1]
    assert all("```diff\n  # nodepool.huge (continued)\n" in part for part in parts[2:])
    text = "".join(parts)
    for i in range(4000):
        assert text.count(f'+         "k{i:05}" = "{"n" * 20}"  # config\n') == 1


def test_backticks_in_values_get_a_longer_fence() -> None:
    change = FieldChange("labels.cmd", "config", None, "run ```x```")
    resource = ResourceChange("nodepool.a", "p", "a", "update", after={}, changes=(change,))
    (part,) = render_plan_markdown(Plan("l", 1, (resource,)))
    assert "\n````diff\n" in part
    assert part.endswith("\n````\n")


def test_text_plan_layout_is_terraform_like() -> None:
    text = render_plan(Plan("lin", 3, (UPDATE,)), Painter(False))
    assert text == (
        "Objects have changed outside of np:\n"
        "\n"
        "  # nodepool.train has changed outside of np\n"
        '  ~ labels.team: "ai" -> "ml"  (last applied -> live)\n'
        "  ~ extend_params.x: 1 -> null  (last applied -> live)\n"
        "\n"
        "np will perform the following actions:\n"
        "\n"
        "  # nodepool.train will be updated in-place\n"
        '  ~ nodepool "train" {\n'
        '        pool          = "pool-prod"\n'
        "      ~ count         = 2 -> 4  # config\n"
        "      ~ labels        = {\n"
        '          ~ "team" = "ml" -> "ai"  # drift\n'
        '          + "new"  = "1"  # config\n'
        "        }\n"
        "      ~ extend_params = {\n"
        '          - "dockerBaseSize" = "50" -> null  # removed-from-config\n'
        "        }\n"
        "        # (3 unchanged fields hidden)\n"
        "    }\n"
        "\n"
        "Plan: 0 to add, 1 to change, 0 to destroy."
    )


# --- drift --------------------------------------------------------------------------------

ENTRIES = [
    DriftEntry("nodepool.a", "pool-prod", "a", "in-sync"),
    DriftEntry(
        "nodepool.b",
        "pool-prod",
        "b",
        "drifted",
        (
            DriftChange("labels.team", '<ml & "ai">', "ops"),
            DriftChange("maxCount", 2, 3),
            DriftChange("network.securityGroups", ["sg-1"], None),
        ),
    ),
    DriftEntry("nodepool.c", "pool-prod", "c", "missing"),
]
IN_SYNC = ENTRIES[:1]


def test_drifted_counts_missing_as_drift() -> None:
    assert drifted(ENTRIES)
    assert drifted(ENTRIES[2:])
    assert not drifted(IN_SYNC)
    assert not drifted([])


def test_drift_text() -> None:
    assert drift_text(ENTRIES, Painter(False)) == (
        'nodepool.a (pool "pool-prod", node pool "a"): in-sync\n'
        'nodepool.b (pool "pool-prod", node pool "b"): drifted\n'
        '  ~ labels.team: "<ml & \\"ai\\">" -> "ops"  (last applied -> live)\n'
        "  ~ max_count: 2 -> 3  (last applied -> live)\n"
        '  ~ network.security_groups: ["sg-1"] -> null  (last applied -> live)\n'
        'nodepool.c (pool "pool-prod", node pool "c"): missing\n'
        "  - the node pool no longer exists\n"
        "\n"
        "Drift found: 1 drifted, 1 missing, 1 in-sync."
    )
    assert drift_text(IN_SYNC, Painter(False)).endswith(
        "\n\nNo drift. Live matches what np last applied."
    )
    assert (
        drift_text([], Painter(False))
        == "No node pools are declared or managed: nothing to compare."
    )


def test_drift_text_colours_only_when_asked() -> None:
    assert "\x1b[" not in drift_text(ENTRIES, Painter(False))
    assert "\x1b[33m\x1b[1mdrifted\x1b[0m" in drift_text(ENTRIES, Painter(True))


def test_drift_json() -> None:
    assert drift_json(ENTRIES) == {
        "drifted": True,
        "resources": [
            {
                "address": "nodepool.a",
                "provider": "modelarts",
                "pool": "pool-prod",
                "name": "a",
                "status": "in-sync",
                "changes": [],
            },
            {
                "address": "nodepool.b",
                "provider": "modelarts",
                "pool": "pool-prod",
                "name": "b",
                "status": "drifted",
                "changes": [
                    {"path": "labels.team", "applied": '<ml & "ai">', "live": "ops"},
                    {"path": "max_count", "applied": 2, "live": 3},
                    {"path": "network.security_groups", "applied": ["sg-1"], "live": None},
                ],
            },
            {
                "address": "nodepool.c",
                "provider": "modelarts",
                "pool": "pool-prod",
                "name": "c",
                "status": "missing",
                "changes": [],
            },
        ],
    }
    assert drift_json(IN_SYNC)["drifted"] is False


def test_drift_markdown() -> None:
    assert drift_markdown(ENTRIES) == (
        "### np drift: 1 drifted, 1 missing, 1 in-sync\n"
        "\n"
        "| address | pool | node pool | status | changes |\n"
        "| --- | --- | --- | --- | --- |\n"
        "| `nodepool.a` | `pool-prod` | `a` | in-sync | 0 |\n"
        "| `nodepool.b` | `pool-prod` | `b` | drifted | 3 |\n"
        "| `nodepool.c` | `pool-prod` | `c` | missing | 0 |\n"
        "\n"
        "Live values that moved away from what np last applied (`-` last applied, `+` live):\n"
        "\n"
        "```diff\n"
        "  # nodepool.b: drifted\n"
        '- labels.team = "<ml & \\"ai\\">"\n'
        '+ labels.team = "ops"\n'
        "- max_count = 2\n"
        "+ max_count = 3\n"
        '- network.security_groups = ["sg-1"]\n'
        "\n"
        "  # nodepool.c: missing\n"
        '- nodepool "c" (the node pool no longer exists)\n'
        "```\n"
    )
    assert drift_markdown([]) == "### np drift: no managed node pools\n"


def test_drift_junit_has_one_testcase_per_address_and_a_failure_per_drift() -> None:
    suite = ET.fromstring(drift_junit(ENTRIES))
    assert suite.tag == "testsuite"
    assert suite.attrib == {
        "name": "np drift",
        "tests": "3",
        "failures": "2",
        "errors": "0",
        "skipped": "0",
    }
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("np.drift", "nodepool.a"),
        ("np.drift", "nodepool.b"),
        ("np.drift", "nodepool.c"),
    ]
    assert list(cases[0]) == []
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.attrib == {"message": "drifted: 3 change(s)", "type": "drifted"}
    assert failure.text == (
        'labels.team: "<ml & \\"ai\\">" -> "ops"  (last applied -> live)\n'
        "max_count: 2 -> 3  (last applied -> live)\n"
        'network.security_groups: ["sg-1"] -> null  (last applied -> live)'
    )
    missing = cases[2].find("failure")
    assert missing is not None
    assert missing.attrib == {
        "message": "missing: the node pool no longer exists",
        "type": "missing",
    }
    assert missing.text == 'pool "pool-prod", node pool "c"'


@pytest.mark.parametrize("entries", [IN_SYNC, []])
def test_drift_junit_without_drift_has_no_failures(entries: list[DriftEntry]) -> None:
    text = drift_junit(entries)
    assert text.startswith("<?xml version='1.0' encoding='utf-8'?>\n<testsuite ")
    suite = ET.fromstring(text)
    assert suite.get("failures") == "0"
    assert suite.findall(".//failure") == []
    assert len(suite.findall("testcase")) == len(entries)


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"format_version": "1", "resource_changes": []},
        {"a": [1, {"b": 'ü ☃ "q"'}, [2, 3], None], "c": {"d": [True]}, "e": "x"},
        {"😀": ["\n", "é"], "list_last": [{}]},
    ],
)
def test_json_written_in_pieces_is_the_document_json_dumps_writes(
    document: dict[str, object],
) -> None:
    assert "".join(json_pieces(document)) == json.dumps(document, ensure_ascii=False)


def test_json_pieces_escape_what_a_terminal_would_act_on() -> None:
    """The same JSON value, with a line separator, a bidi override and a lone surrogate as
    escapes: inert on a terminal, and always writable as UTF-8."""
    document = {"labels": ["\u2028", "a\u202eb", "\ud800"], "\u200b": 1}
    text = "".join(json_pieces(document))
    assert text == '{"labels": ["\\u2028", "a\\u202eb", "\\ud800"], "\\u200b": 1}'
    assert json.loads(text) == document
    text.encode()  # no UnicodeEncodeError
