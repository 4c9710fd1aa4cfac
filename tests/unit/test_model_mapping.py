"""The configuration ↔ wire mapping: what np sends for a block, and how it names wire values
and paths back in the configuration's words (plan text, drift reports, generated blocks)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.model import (
    desired_to_wire,
    wire_path_to_config,
    wire_to_config,
    wire_value_to_config,
    without_keys,
)

BLOCK = {
    "os": {"name": "EulerOS", "image_id": "img", "image_type": "private", "auto_match": False},
    "tags": {"owner": "ml", "cost": "1"},
    "max_count": 4,
    "network": {"vpc": "v", "subnet": "s", "security_groups": ["sg"]},
    "count": 4,
    "extend_params": {"dockerBaseSize": "50", "image_id": "kept as written"},
    "labels": {"team": "ml", "imageId": "kept"},
    "creating_step": {"step": 1, "type": "rack"},
    "taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}],
    "azs": [{"az": "a", "count": 4}],
    "flavor": "f",
}
WIRE = {
    "flavor": "f",
    "count": 4,
    "maxCount": 4,
    "azs": [{"az": "a", "count": 4}],
    "labels": {"team": "ml", "imageId": "kept"},
    "taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}],
    "tags": [{"key": "owner", "value": "ml"}, {"key": "cost", "value": "1"}],
    "extendParams": {"dockerBaseSize": "50", "image_id": "kept as written"},
    "network": {"vpc": "v", "subnet": "s", "securityGroups": ["sg"]},
    "creatingStep": {"step": 1, "type": "rack"},
    "os": {"name": "EulerOS", "imageId": "img", "imageType": "private", "autoMatch": False},
}


def test_a_block_maps_to_the_wire_in_wire_order() -> None:
    wire = desired_to_wire(BLOCK)
    assert wire == WIRE
    assert list(wire) == list(WIRE)  # bodies read the same every time


def test_ignored_fields_are_left_out() -> None:
    assert desired_to_wire(BLOCK, frozenset({"labels", "max_count", "os"})) == {
        k: v for k, v in WIRE.items() if k not in ("labels", "maxCount", "os")
    }


def test_the_wire_maps_back_to_the_block_a_user_writes() -> None:
    extra = {"rootVolume": {"size": 100}, "nodePool": "np"}  # fields np does not know stay
    assert wire_to_config(WIRE | extra) == BLOCK | extra


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("tags", [{"key": "a", "value": "1"}, {"key": "b"}], {"a": "1", "b": None}),
        ("tags", [{"value": "no key"}], [{"value": "no key"}]),  # not a tag list: as written
        ("tags", None, None),
        (
            "network",
            {"securityGroups": ["sg"], "vpc": "v"},
            {"security_groups": ["sg"], "vpc": "v"},
        ),
        ("os", {"imageId": "i", "other": 1}, {"image_id": "i", "other": 1}),
        ("labels", {"imageId": "x"}, {"imageId": "x"}),  # map keys are the user's, not renamed
        ("taints", [{"key": "k", "effect": "NoSchedule"}], [{"key": "k", "effect": "NoSchedule"}]),
        ("network", None, None),
    ],
)
def test_a_wire_value_in_the_configuration_shape(field: str, value: Any, shown: Any) -> None:
    assert wire_value_to_config(field, value) == shown


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("maxCount", "max_count"),
        ("count", "count"),
        ("extendParams.dockerBaseSize", "extend_params.dockerBaseSize"),
        ("network.securityGroups", "network.security_groups"),
        ("os.imageId", "os.image_id"),
        ("creatingStep.step", "creating_step.step"),
        ("labels.topology.kubernetes.io/zone", "labels.topology.kubernetes.io/zone"),
        ("labels.securityGroups", "labels.securityGroups"),
        ("taints.k:NoSchedule", "taints.k:NoSchedule"),
        ("rootVolume.size", "rootVolume.size"),
    ],
)
def test_a_wire_path_in_the_configuration_words(path: str, shown: str) -> None:
    assert wire_path_to_config(path) == shown


def test_ignoring_single_keys_drops_them_and_fields_left_empty() -> None:
    wire = desired_to_wire(
        {"labels": {"team": "ml"}, "tags": {"owner": "a", "cost": "1"}, "network": {"vpc": "v"}}
    ) | {"count": 2}
    keys = {("labels", "team"), ("tags", "owner"), ("network", "vpc"), ("count", "x")}
    assert without_keys(wire, keys) == {"tags": [{"key": "cost", "value": "1"}], "count": 2}
    assert without_keys(wire, {("network", "subnet")}) == wire
    assert without_keys(wire, set()) is wire


def test_an_ignored_key_of_an_absent_field_does_not_stop_the_others() -> None:
    """Set order decides which ignored key is looked at first: many orders, each must hold."""
    wire = desired_to_wire({"tags": {f"t{j}": "v" for j in range(5)}, "count": 2})
    for i in range(30):
        keys = {("labels", f"absent{i}")} | {("tags", f"t{j}") for j in range(5)}
        assert without_keys(wire, keys) == {"count": 2}


def test_an_ignored_object_key_is_named_as_the_configuration_writes_it() -> None:
    wire = desired_to_wire({"network": {"vpc": "v", "security_groups": ["sg"]}})
    assert without_keys(wire, {("network", "security_groups")}) == {"network": {"vpc": "v"}}


names = st.sampled_from(["a", "b", "team", "imageId"])
texts = st.text(max_size=3)
blocks = st.fixed_dictionaries(
    {},
    optional={
        "flavor": texts,
        "count": st.integers(0, 9),
        "max_count": st.integers(0, 9),
        "labels": st.dictionaries(names, texts),
        "tags": st.dictionaries(names, texts),
        "extend_params": st.dictionaries(names, texts),
        "network": st.fixed_dictionaries(
            {}, optional={"vpc": texts, "security_groups": st.lists(texts)}
        ),
        "os": st.fixed_dictionaries({}, optional={"image_id": texts, "auto_match": st.booleans()}),
    },
)


@settings(max_examples=100, deadline=None)
@given(block=blocks)
def test_a_block_survives_the_round_trip(block: dict[str, Any]) -> None:
    assert wire_to_config(desired_to_wire(block)) == block
