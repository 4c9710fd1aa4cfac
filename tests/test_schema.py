"""`np schema`: the JSON Schema editors use, generated from the models that validate."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from support import Workspace

ROOT = Path(__file__).resolve().parent.parent


def schema(ws: Workspace) -> dict[str, object]:
    run = ws.np("schema")
    assert run.code == 0
    loaded: dict[str, object] = json.loads(run.stdout)
    return loaded


def test_committed_schema_is_what_np_generates(ws: Workspace) -> None:
    committed = json.loads((ROOT / "schema" / "np-config.schema.json").read_text())
    assert committed == schema(ws), "regenerate with: np schema > schema/np-config.schema.json"


def test_the_quickstart_yaml_validates(ws: Workspace) -> None:
    doc = yaml.safe_load((ROOT / "examples/quickstart/yaml/main.yaml").read_text())
    jsonschema.validate(doc, schema(ws))


@pytest.mark.parametrize(
    ("nodepool", "complaint"),
    [
        ({"pool": "p", "maxCount": 3}, "'maxCount' was unexpected"),
        ({"pool": "p", "count": "3"}, "'3' does not match"),
        ({"count": 3}, "'pool' is a required property"),
        ({"pool": "p", "taints": [{"key": "k", "effect": "Sometimes"}]}, "is not one of"),
    ],
)
def test_editors_flag_what_validate_rejects(
    ws: Workspace, nodepool: dict[str, object], complaint: str
) -> None:
    with pytest.raises(jsonschema.ValidationError) as info:
        jsonschema.validate({"nodepools": {"a": nodepool}}, schema(ws))
    assert complaint in str(info.value.message) or complaint in str(info.value)
