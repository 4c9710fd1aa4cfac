"""The three-way diff of DESIGN §3: one table row per rule, then properties over random triples."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.diff import diff_nodepool, drift_of
from reconciler.jsonmerge import apply_merge_patch

BASE = {"flavor": "f1", "count": 2, "maxCount": 2}


def live(**fields: Any) -> dict[str, Any]:
    return BASE | fields


CASES: list[
    tuple[str, dict[str, Any], dict[str, Any], dict[str, Any] | None, Any, dict[str, str]]
] = [
    (
        "no change, no request",
        live(labels={"a": "1"}),
        live(labels={"a": "1", "b": "2"}),
        None,
        None,
        {},
    ),
    (
        "changed scalar plus the required trio",
        live(count=3, maxCount=3),
        live(),
        live(),
        {"flavor": "f1", "count": 3, "maxCount": 3},
        {"count": "config", "maxCount": "config"},
    ),
    (
        "map patched key by key; unmanaged keys untouched",
        {"labels": {"team": "ml", "stage": "dev"}},
        live(labels={"team": "ml", "owner": "ops"}),
        None,
        {"flavor": "f1", "count": 2, "maxCount": 2, "labels": {"stage": "dev"}},
        {"labels.stage": "config"},
    ),
    (
        "map key removed from config becomes null",
        {"labels": {"team": "ml"}},
        live(labels={"team": "ml", "stage": "dev", "owner": "ops"}),
        {"labels": {"team": "ml", "stage": "dev"}},
        {"flavor": "f1", "count": 2, "maxCount": 2, "labels": {"stage": None}},
        {"labels.stage": "removed-from-config"},
    ),
    (
        "adoption removes nothing",
        {"labels": {"team": "ml"}},
        live(labels={"team": "ml", "stage": "dev"}),
        None,
        None,
        {},
    ),
    (
        "live moved away from what config still says: drift",
        {"labels": {"team": "ml"}},
        live(labels={"team": "ai"}),
        {"labels": {"team": "ml"}},
        {"flavor": "f1", "count": 2, "maxCount": 2, "labels": {"team": "ml"}},
        {"labels.team": "drift"},
    ),
    (
        "scalar field removed from config becomes null",
        {"count": 2},
        live(nodePool="np1"),
        {"count": 2, "nodePool": "np1"},
        {"flavor": "f1", "count": 2, "maxCount": 2, "nodePool": None},
        {"nodePool": "removed-from-config"},
    ),
    (
        "required fields are never nulled, only unmanaged",
        {"labels": {}},
        live(count=5, maxCount=5),
        {"labels": {}, "count": 5},
        None,
        {},
    ),
    (
        "tags by key: unmanaged entries survive, order kept",
        {"tags": [{"key": "owner", "value": "ml"}]},
        live(tags=[{"key": "cost", "value": "1"}, {"key": "owner", "value": "ops"}]),
        None,
        {
            "flavor": "f1",
            "count": 2,
            "maxCount": 2,
            "tags": [{"key": "cost", "value": "1"}, {"key": "owner", "value": "ml"}],
        },
        {"tags.owner": "config"},
    ),
    (
        "taints by key+effect: a removed managed taint goes, an unmanaged one stays",
        {"taints": [{"key": "gpu", "effect": "NoSchedule"}]},
        live(
            taints=[
                {"key": "gpu", "effect": "NoSchedule"},
                {"key": "old", "value": "x", "effect": "NoExecute"},
                {"key": "ext", "value": "y", "effect": "NoSchedule"},
            ]
        ),
        {
            "taints": [
                {"key": "gpu", "effect": "NoSchedule"},
                {"key": "old", "value": "x", "effect": "NoExecute"},
            ]
        },
        {
            "flavor": "f1",
            "count": 2,
            "maxCount": 2,
            "taints": [
                {"key": "gpu", "effect": "NoSchedule"},
                {"key": "ext", "value": "y", "effect": "NoSchedule"},
            ],
        },
        {"taints.old:NoExecute": "removed-from-config"},
    ),
    (
        "same taint key with another effect is another taint",
        {"taints": [{"key": "gpu", "value": "1", "effect": "NoExecute"}]},
        live(taints=[{"key": "gpu", "value": "1", "effect": "NoSchedule"}]),
        None,
        {
            "flavor": "f1",
            "count": 2,
            "maxCount": 2,
            "taints": [
                {"key": "gpu", "value": "1", "effect": "NoSchedule"},
                {"key": "gpu", "value": "1", "effect": "NoExecute"},
            ],
        },
        {"taints.gpu:NoExecute": "config"},
    ),
    (
        "azs by az; unknown fields of a live entry are kept",
        {"azs": [{"az": "a", "count": 3}]},
        live(azs=[{"az": "a", "count": 2, "extra": 1}, {"az": "b", "count": 1}]),
        None,
        {
            "flavor": "f1",
            "count": 2,
            "maxCount": 2,
            "azs": [{"extra": 1, "az": "a", "count": 3}, {"az": "b", "count": 1}],
        },
        {"azs.a": "config"},
    ),
    (
        "arrays inside objects are replaced as written",
        {"network": {"vpc": "v", "securityGroups": ["b"]}},
        live(network={"vpc": "v", "subnet": "s", "securityGroups": ["a", "b"]}),
        None,
        {"flavor": "f1", "count": 2, "maxCount": 2, "network": {"securityGroups": ["b"]}},
        {"network.securityGroups": "config"},
    ),
    (
        "an object removed from config nulls only the sub-keys np applied",
        {"count": 2},
        live(network={"vpc": "v1", "subnet": "s1", "securityGroups": ["sg"]}),
        {"count": 2, "network": {"securityGroups": ["sg"]}},
        {"flavor": "f1", "count": 2, "maxCount": 2, "network": {"securityGroups": None}},
        {"network.securityGroups": "removed-from-config"},
    ),
    (
        "an object removed from config whose live sub-keys are already null sends nothing",
        {"count": 2},
        live(os={"name": None}),
        {"count": 2, "os": {"name": "EulerOS"}},
        None,
        {},
    ),
    (
        "a map key removed from config whose live value is null sends nothing",
        {"count": 2},
        live(labels={"team": None, "tier": "gpu"}),
        {"count": 2, "labels": {"team": "ml"}},
        None,
        {},
    ),
    (
        "a live node pool without maxCount gets count as maxCount, never null",
        {"count": 3},
        {"flavor": "f1", "count": 2},
        None,
        {"flavor": "f1", "count": 3, "maxCount": 3},
        {"count": "config"},
    ),
    (
        'a taint value "" equals an absent one',
        {"taints": [{"key": "k", "effect": "NoSchedule"}]},
        live(taints=[{"key": "k", "value": "", "effect": "NoSchedule"}]),
        None,
        None,
        {},
    ),
    (
        "a whole map removed from config nulls only the keys np managed",
        {"count": 2},
        live(extendParams={"dockerBaseSize": "0", "runtime": "docker"}),
        {"count": 2, "extendParams": {"dockerBaseSize": "0"}},
        {"flavor": "f1", "count": 2, "maxCount": 2, "extendParams": {"dockerBaseSize": None}},
        {"extendParams.dockerBaseSize": "removed-from-config"},
    ),
    (
        "unmanaged trio members come from live",
        {"labels": {"a": "1"}},
        {"flavor": "f9", "count": 7, "maxCount": 9},
        None,
        {"flavor": "f9", "count": 7, "maxCount": 9, "labels": {"a": "1"}},
        {"labels.a": "config"},
    ),
]


@pytest.mark.parametrize(
    ("desired", "live_doc", "applied", "patch", "reasons"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_rules(
    desired: dict[str, Any],
    live_doc: dict[str, Any],
    applied: dict[str, Any] | None,
    patch: Any,
    reasons: dict[str, str],
) -> None:
    diff = diff_nodepool(desired, live_doc, applied)
    assert diff.patch == patch
    assert {c.path: c.reason for c in diff.changes} == reasons
    if patch is not None:  # the trio leads the body, in wire order
        assert list(patch)[:3] == ["flavor", "count", "maxCount"]


def test_drift_reports_managed_values_only() -> None:
    applied = {"count": 2, "labels": {"team": "ml"}, "tags": [{"key": "o", "value": "1"}]}
    current = live(count=4, labels={"team": "ai", "extra": "x"}, tags=[{"key": "o", "value": "2"}])
    found = {
        (d.path, json.dumps(d.applied), json.dumps(d.live)) for d in drift_of(applied, current)
    }
    assert found == {("count", "2", "4"), ("labels.team", '"ml"', '"ai"'), ("tags.o", '"1"', '"2"')}


# --- properties ---------------------------------------------------------------------------

keys = st.sampled_from(["a", "b", "c", "d"])
values = st.sampled_from(["x", "y", "z"])
maps = st.dictionaries(keys, values, max_size=4)
effects = st.sampled_from(["NoSchedule", "NoExecute"])
taint_lists = st.lists(
    st.fixed_dictionaries({"key": keys, "value": values, "effect": effects}),
    max_size=4,
    unique_by=lambda t: (t["key"], t["effect"]),
)
tag_lists = st.lists(
    st.fixed_dictionaries({"key": keys, "value": values}), max_size=4, unique_by=lambda t: t["key"]
)
counts = st.integers(0, 5)

managed_fields = st.fixed_dictionaries(
    {},
    optional={
        "count": counts,
        "labels": maps,
        "extendParams": maps,
        "tags": tag_lists,
        "taints": taint_lists,
        "network": st.fixed_dictionaries({}, optional={"vpc": values, "subnet": values}),
    },
)
live_docs = st.fixed_dictionaries(
    {"flavor": st.just("f"), "count": counts, "maxCount": counts},
    optional={
        "labels": maps,
        "extendParams": maps,
        "tags": tag_lists,
        "taints": taint_lists,
        "network": st.fixed_dictionaries({}, optional={"vpc": values, "subnet": values}),
        "rootVolume": st.fixed_dictionaries({"size": counts}),
    },
)


def _with_max(doc: dict[str, Any]) -> dict[str, Any]:
    return doc | {"maxCount": doc["count"]} if "count" in doc else doc


@settings(max_examples=300, deadline=None)
@given(desired=managed_fields, live_doc=live_docs, applied=st.none() | managed_fields)
def test_patch_reaches_desired_and_keeps_the_rest(
    desired: dict[str, Any], live_doc: dict[str, Any], applied: dict[str, Any] | None
) -> None:
    desired, applied = _with_max(desired), None if applied is None else _with_max(applied)
    diff = diff_nodepool(desired, live_doc, applied)
    after = live_doc if diff.patch is None else apply_merge_patch(live_doc, diff.patch)

    # Every managed field now has its desired value (maps and keyed arrays: the managed part).
    for field, want in desired.items():
        got = after.get(field)
        if field in ("labels", "extendParams", "network", "tags", "taints"):
            got = got or ({} if isinstance(want, dict) else [])  # empty == absent
        if field in ("labels", "extendParams", "network"):
            assert {k: got.get(k) for k in want} == want
        elif field == "tags":
            assert {(t["key"], t["value"]) for t in want} <= {(t["key"], t["value"]) for t in got}
        elif field == "taints":
            assert all(t in got for t in want)
        else:
            assert got == want

    # Fields np never managed are byte-identical.
    for field in (
        set(live_doc) - set(desired) - set(applied or {}) - {"flavor", "count", "maxCount"}
    ):
        assert json.dumps(after.get(field)) == json.dumps(live_doc.get(field))

    # The patch holds only what changes, besides the required trio.
    for field, value in (diff.patch or {}).items():
        if field not in ("flavor", "count", "maxCount"):
            assert live_doc.get(field) != apply_merge_patch(live_doc, {field: value}).get(field)

    # A second plan after apply is a no-op.
    assert diff_nodepool(desired, after, desired).patch is None
