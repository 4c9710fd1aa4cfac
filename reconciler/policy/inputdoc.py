"""The document policies see as ``input``, its JSON Schema, and the part of it each policy set
is actually handed.

    doc = build_input(plan_doc, fleet_from_plan(plan_doc), "production", providers)
    doc["resource_changes"] is plan_doc["resource_changes"]   # shared, never copied
    project(doc, {("resource_changes",), ("workspace",)})    # what rego-cpp is given

rego-cpp pays about 2.5 µs for every value of the input it is given (and about 500 bytes), so a
10,000-node-pool plan handed over whole costs seconds before the first rule runs. The document
is therefore built from references to the plan (no copies), and ``project`` keeps only the
keys a policy set names: sound, because Rego can reach a key only through a reference that
names it, or through a bare ``input`` that ``input_paths`` reports as the whole document.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from reconciler.errors import NpError
from reconciler.identifiers import DEFAULT_PROVIDER
from reconciler.policy.scan import Path

if TYPE_CHECKING:  # the policy worker imports this module: it stays light
    from reconciler.config.configuration import Configuration
    from reconciler.plan.saved import PlanTarget

# Wire (camelCase) → configuration (snake_case) names of a node pool, for ``fleet``.
_CONFIG_NAMES = {
    "maxCount": "max_count",
    "extendParams": "extend_params",
    "creatingStep": "creating_step",
}
_NESTED_CONFIG_NAMES = {
    "network": {"securityGroups": "security_groups"},
    "os": {"imageId": "image_id", "imageType": "image_type", "autoMatch": "auto_match"},
}


def build_input(
    plan_doc: Mapping[str, Any],
    fleet: list[dict[str, Any]],
    workspace: str,
    providers: Mapping[str, Any],
) -> dict[str, Any]:
    """The policy input: the plan (as ``np plan --json`` prints it), its resource changes again
    at the top level (where conftest rules over a plan JSON look), the fleet after the plan,
    the workspace and the providers. Nothing is copied: the lists are the plan's own."""
    return {
        "plan": plan_doc,
        "resource_changes": plan_doc.get("resource_changes", []),
        "fleet": fleet,
        "workspace": workspace,
        "providers": dict(providers),
    }


def providers_entry(
    config: Configuration, targets: Mapping[str, PlanTarget], environ: Mapping[str, str]
) -> dict[str, Any]:
    """``providers``: every provider the configuration declares, by address (``modelarts``,
    ``modelarts.hk``, ``modelarts.region["cn-north-4"]``), with the project and endpoint the
    plan used; for one the plan did not read, as the configuration and the environment give
    them (null where they give none)."""
    entries: dict[str, Any] = {}
    for address, provider in config.providers.items():
        target = targets.get(address)
        project_id, endpoint = provider.project_id, None
        if target is not None:
            project_id, endpoint = target.project_id, target.endpoint
        else:
            with suppress(NpError):
                endpoint = provider.resolved_endpoint(environ)
        entries[address] = {
            "alias": provider.alias,
            "key": provider.key,
            "region": provider.region,
            "project_id": project_id,
            "endpoint": endpoint,
        }
    return entries


def fleet_from_plan(plan_doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every node pool the configuration declares, as it will be after the plan, in the
    configuration's names: the plan's ``after`` documents renamed, tags as a map.

    Node pools the plan deletes are not part of the fleet; ``action`` says what the plan does
    to each of the others (``create``, ``update`` or ``no-op``)."""
    fleet: list[dict[str, Any]] = []
    for change in plan_doc.get("resource_changes", []):
        after = change.get("after")
        actions = change.get("actions") or ["no-op"]
        if after is None or "delete" in actions:
            continue
        entry: dict[str, Any] = {
            "address": change.get("address"),
            "provider": change.get("provider", DEFAULT_PROVIDER),
            "pool": change.get("pool"),
            "name": change.get("name"),
            "action": actions[0],
        }
        for key, value in after.items():
            entry[_CONFIG_NAMES.get(key, key)] = _config_value(key, value)
        fleet.append(entry)
    return fleet


def _config_value(key: str, value: Any) -> Any:
    if key == "tags" and isinstance(value, list):
        return {t.get("key"): t.get("value") for t in value if isinstance(t, dict)}
    renames = _NESTED_CONFIG_NAMES.get(key)
    if renames and isinstance(value, dict):
        return {renames.get(k, k): v for k, v in value.items()}
    return value


def project(doc: Any, paths: Iterable[Path]) -> Any:
    """``doc`` with only what ``paths`` name: every key on a path's way, and everything under
    the end of each path. An empty path names the whole document."""
    paths = list(paths)
    if any(len(p) == 0 for p in paths) or not isinstance(doc, Mapping):
        return doc
    children: dict[str, list[Path]] = {}
    for p in paths:
        children.setdefault(p[0], []).append(p[1:])
    return {key: project(doc[key], rest) for key, rest in children.items() if key in doc}


def _described(schema: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {**schema, "description": description}


_STR = {"type": "string"}
_STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_WIRE_TEXT = (
    "A wire PoolResource document (camelCase, tags as a list of {key, value}), as in "
    "`np plan --json`; null when the node pool does not exist on that side."
)
_WIRE = {"type": ["object", "null"], "description": _WIRE_TEXT}
_TAINT = {
    "type": "object",
    "description": "A Kubernetes taint.",
    "properties": {
        "key": _described(_STR, "The taint key."),
        "value": _described(_STR, "The taint value."),
        "effect": {
            "enum": ["NoSchedule", "PreferNoSchedule", "NoExecute"],
            "description": "What the taint does to pods that do not tolerate it.",
        },
    },
}
_CHANGE = {
    "type": "object",
    "description": "One address of the plan, exactly as `np plan --json` prints it.",
    "required": ["address", "actions"],
    "properties": {
        "address": _described(_STR, "The configuration address, e.g. nodepool.train."),
        "provider": _described(
            _STR, 'The provider (region) address, e.g. modelarts or modelarts.region["x"].'
        ),
        "previous_address": _described(_STR, "The address this one took over (a move)."),
        "pool": _described(_STR, "The resource pool."),
        "name": _described(_STR, "The node pool's name in the pool."),
        "actions": {
            "type": "array",
            "items": {
                "enum": ["no-op", "create", "update", "delete"],
                "description": "One action.",
            },
            "description": "What apply does: one of no-op, create, update, delete.",
        },
        "adopted": {"type": "boolean", "description": "np takes over a live node pool."},
        "before": _described(_WIRE, "The node pool as it is live now. " + _WIRE_TEXT),
        "after": _described(_WIRE, "The node pool once the plan is applied. " + _WIRE_TEXT),
        "patch": {
            "type": ["object", "null"],
            "description": "The request body apply sends (PATCH or POST); null for no-op "
            "and delete.",
        },
        "reasons": {
            "type": "object",
            "additionalProperties": {"enum": ["config", "drift", "removed-from-config", "default"]},
            "description": "Why each wire path is in the patch.",
        },
    },
}
_FLEET_ENTRY = {
    "type": "object",
    "description": "A declared node pool after the plan, in the configuration's names. Fields "
    "np does not know live and the configuration leaves out are absent.",
    "required": ["address", "provider", "pool", "name", "action"],
    "properties": {
        "address": _described(_STR, "The configuration address."),
        "provider": _described(_STR, "The provider (region) address."),
        "pool": _described(_STR, "The resource pool."),
        "name": _described(_STR, "The node pool's name."),
        "action": {
            "enum": ["create", "update", "no-op"],
            "description": "What the plan does to this node pool.",
        },
        "flavor": _described(_STR, "The flavor (machine type)."),
        "count": {"type": "integer", "description": "Nodes after the plan."},
        "max_count": {"type": "integer", "description": "The maximum the pool may scale to."},
        "azs": {
            "type": "array",
            "description": "The spread over availability zones.",
            "items": {
                "type": "object",
                "description": "Nodes in one availability zone.",
                "properties": {
                    "az": _described(_STR, "The availability zone."),
                    "count": {"type": "integer", "description": "Nodes in it."},
                },
            },
        },
        "labels": _described(_STR_MAP, "Kubernetes labels of the nodes."),
        "taints": {"type": "array", "items": _TAINT, "description": "Kubernetes taints."},
        "tags": _described(_STR_MAP, "Resource tags, as a map."),
        "extend_params": _described(_STR_MAP, "Extended parameters, passed through."),
        "network": {
            "type": "object",
            "description": "VPC, subnet and security groups.",
            "properties": {
                "vpc": _described(_STR, "The VPC id."),
                "subnet": _described(_STR, "The subnet id."),
                "security_groups": {
                    "type": "array",
                    "items": _described(_STR, "A security group id."),
                    "description": "Security group ids.",
                },
            },
        },
        "creating_step": {"type": "object", "description": "Rack or hyperinstance steps."},
        "os": {"type": "object", "description": "The operating system image."},
    },
}


_OPTIONAL_STR = {"type": ["string", "null"]}
_PROVIDER = {
    "type": "object",
    "description": "A ModelArts provider block (one instance of a for_each one), as resolved.",
    "properties": {
        "alias": _described(_OPTIONAL_STR, "The alias; null for the default provider."),
        "key": _described(_OPTIONAL_STR, "The for_each key of this instance, else null."),
        "region": _described(_OPTIONAL_STR, "The region, e.g. cn-north-4."),
        "project_id": _described(_OPTIONAL_STR, "The project id."),
        "endpoint": _described(_OPTIONAL_STR, "The API endpoint."),
    },
}


def policy_input_schema() -> dict[str, Any]:
    """The JSON Schema of the policy input (``np schema --policy-input``)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "np policy input",
        "description": "What a Rego policy sees as `input` when np evaluates it after planning.",
        "type": "object",
        "required": ["plan", "resource_changes", "fleet", "workspace", "providers"],
        "properties": {
            "plan": {
                "type": "object",
                "description": "The plan, exactly the document `np plan --json` prints "
                "(format_version, applyable, summary, prior_state, resource_changes, "
                "resource_drift).",
                "properties": {
                    "summary": {
                        "type": "object",
                        "description": "Counts of add, change, destroy and drift.",
                        "additionalProperties": {"type": "integer"},
                    },
                    "resource_changes": {
                        "type": "array",
                        "items": _CHANGE,
                        "description": "Every address of the plan (no-ops included).",
                    },
                },
            },
            "resource_changes": {
                "type": "array",
                "items": _CHANGE,
                "description": "plan.resource_changes again, at the top level where conftest "
                "rules over a plan JSON look for it.",
            },
            "fleet": {
                "type": "array",
                "items": _FLEET_ENTRY,
                "description": "Every node pool the configuration declares, as it will be "
                "after the plan (node pools the plan deletes are not in it).",
            },
            "workspace": _described(_STR, "The workspace (--workspace, NP_WORKSPACE)."),
            "providers": {
                "type": "object",
                "description": "Every provider the configuration declares, by address: "
                'modelarts (the default one), modelarts.ALIAS, modelarts.ALIAS["KEY"].',
                "properties": {"modelarts": _PROVIDER},
                "additionalProperties": _PROVIDER,
            },
        },
    }
