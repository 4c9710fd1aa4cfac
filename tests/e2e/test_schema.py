"""`np schema`: the JSON Schema editors use, generated from the models that validate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from support import Workspace

ROOT = Path(__file__).resolve().parents[2]


def schema(ws: Workspace) -> dict[str, object]:
    run = ws.np("schema")
    assert run.code == 0
    loaded: dict[str, object] = json.loads(run.stdout)
    return loaded


def test_committed_schema_is_what_np_generates(ws: Workspace) -> None:
    committed = json.loads((ROOT / "schema" / "np-config.schema.json").read_text())
    assert committed == schema(ws), "regenerate with: np schema > schema/np-config.schema.json"


@pytest.mark.parametrize(
    "example", ["examples/quickstart/yaml/main.yaml", "examples/fleet/yaml/fleet.yaml"]
)
def test_the_example_yaml_validates(ws: Workspace, example: str) -> None:
    doc = yaml.safe_load((ROOT / example).read_text())
    jsonschema.validate(doc, schema(ws))


@pytest.mark.parametrize(
    ("nodepool", "complaint"),
    [
        ({"pool": "p", "maxCount": 3}, "'maxCount' was unexpected"),
        ({"pool": "p", "count": "3"}, "'3' does not match"),
        ({"count": 3}, "'pool' is a required property"),
        (
            {"pool": "p", "taints": [{"key": "k", "effect": "Sometimes"}]},
            "'Sometimes' is not valid under any of the given schemas",
        ),
    ],
)
def test_editors_flag_what_validate_rejects(
    ws: Workspace, nodepool: dict[str, object], complaint: str
) -> None:
    with pytest.raises(jsonschema.ValidationError) as info:
        jsonschema.validate({"nodepools": {"a": nodepool}}, schema(ws))
    assert complaint in str(info.value.message) or complaint in str(info.value)


def properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every property of every object in the schema, as (where, its schema)."""
    found = [(f"#/{name}", prop) for name, prop in schema["properties"].items()]
    for model, definition in schema["$defs"].items():
        found += [(f"{model}.{name}", p) for name, p in definition.get("properties", {}).items()]
    return found


def test_every_property_is_described(ws: Workspace) -> None:
    missing = [where for where, prop in properties(schema(ws)) if not prop.get("description")]
    assert missing == []


EXPRESSION_FIELDS = {
    "NodePoolSpec.for_each",
    "ProviderSpec.for_each",
    "AzCount.count",
    "Taint.effect",
    "Network.security_groups",
    "CreatingStep.step",
    "CreatingStep.type",
    "OsSpec.auto_match",
    "LifecycleSpec.prevent_destroy",
    "NodePoolSpec.count",
    "NodePoolSpec.max_count",
    "NodePoolSpec.azs",
    "NodePoolSpec.labels",
    "NodePoolSpec.taints",
    "NodePoolSpec.tags",
    "NodePoolSpec.extend_params",
}


def test_expressions_are_offered_on_values_never_on_blocks(ws: Workspace) -> None:
    """Plain strings take ${...} as they are; other values need the alternative; a block (a
    node pool, network, os, ...) never gets it, so that an editor still flags a typo in it."""
    offered = {
        where
        for where, prop in properties(schema(ws))
        if any(option.get("pattern", "").startswith("^\\$\\{") for option in prop.get("anyOf", []))
    }
    assert offered == EXPRESSION_FIELDS


@pytest.mark.parametrize(
    ("doc", "message", "path"),
    [
        (
            {"nodepools": {"a": {"pool": "p", "flavour": "x"}}},
            "Additional properties are not allowed ('flavour' was unexpected)",
            ["nodepools", "a"],
        ),
        (
            {"nodepools": {"a": {"pool": "p", "network": {"vpcc": "v"}}}},
            "Additional properties are not allowed ('vpcc' was unexpected)",
            ["nodepools", "a", "network"],
        ),
        ({"nodepools": "${local.all}"}, "'${local.all}' is not of type 'object'", ["nodepools"]),
        (
            {"backend": {"pg": {}, "s3": {"bucket": "b", "key": "k"}}},
            "{'pg': {}, 's3': {'bucket': 'b', 'key': 'k'}} has too many properties",
            ["backend"],
        ),
    ],
)
def test_an_editor_points_at_the_mistake(
    ws: Workspace, doc: dict[str, object], message: str, path: list[str]
) -> None:
    with pytest.raises(jsonschema.ValidationError) as info:
        jsonschema.validate(doc, schema(ws))
    assert (info.value.message, list(info.value.absolute_path)) == (message, path)


def test_expressions_validate_where_values_are_expected(ws: Workspace) -> None:
    doc = {
        "nodepools": {
            "a": {
                "pool": "${var.pool}",
                "count": "${var.n * 2}",
                "labels": '${merge(local.common, {tier = "gpu"})}',
                "taints": [{"key": "k", "effect": "${var.effect}"}],
                "lifecycle": {"ignore_changes": "all", "prevent_destroy": "${var.protect}"},
            }
        },
        "moved": [{"from": "nodepool.b", "to": "nodepool.a"}],
        "backend": {"s3": {"bucket": "b", "key": "k"}},
    }
    jsonschema.validate(doc, schema(ws))
