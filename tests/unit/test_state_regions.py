"""State over several providers: each resource's provider and each provider's identity are
recorded, old states read unchanged, and the identity check holds per provider."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from support import local_backend

from reconciler.errors import StateError
from reconciler.state.document import Identity, ResourceState, State, parse, render
from reconciler.state.manager import StateManager, check_identity

TRAIN = ResourceState("pool-prod", "train", {"count": 2}, {"count": 2}, "2026-01-01T00:00:00Z")
HK = Identity("p-hk", "https://modelarts.ap-southeast-1.myhuaweicloud.com")
BJ = Identity("p-bj", "https://modelarts.cn-north-4.myhuaweicloud.com")


def test_a_resource_of_the_default_provider_is_written_as_before() -> None:
    assert "provider" not in TRAIN.to_json()
    hk = replace(TRAIN, provider="modelarts.hk")
    assert hk.to_json()["provider"] == "modelarts.hk"
    assert ResourceState.from_json(hk.to_json(), "r", "s") == hk


def test_each_providers_identity_round_trips_and_the_default_stays_identity() -> None:
    state = State("l", 3, {"nodepool.a": TRAIN}, BJ, {"modelarts.hk": HK})
    doc = json.loads(render(state))
    assert doc["identity"] == BJ.to_json()
    assert doc["providers"] == {"modelarts.hk": HK.to_json()}
    assert parse(render(state), "s") == state
    assert "providers" not in json.loads(render(replace(state, providers={})))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda doc: doc["resources"]["nodepool.a"].update(provider="aws.x"),
            "s: resources[\"nodepool.a\"].provider: 'aws.x' is not a provider address",
        ),
        (
            lambda doc: doc["resources"]["nodepool.a"].update(provider="modelarts.r[x]"),
            "s: resources[\"nodepool.a\"].provider: 'modelarts.r[x]' is not written as np "
            'writes it (modelarts.r["x"])',
        ),
        (
            lambda doc: doc.update(providers={"modelarts": HK.to_json()}),
            "s: providers: modelarts's identity is written as identity",
        ),
        (
            lambda doc: doc.update(providers={"modelarts.hk": {"project_id": ".."}}),
            's: providers["modelarts.hk"]: missing key "endpoint"',
        ),
    ],
)
def test_a_malformed_provider_in_state_is_refused_naming_where(edit: object, message: str) -> None:
    doc = State("l", 1, {"nodepool.a": TRAIN}).to_json()
    edit(doc)  # type: ignore[operator]
    with pytest.raises(StateError) as info:
        State.from_json(doc, "s")
    assert str(info.value).startswith(message)


def test_the_identity_check_holds_per_provider() -> None:
    state = State("l", 1, {}, BJ, {"modelarts.hk": HK})
    assert check_identity(state, BJ, "state") is None
    assert check_identity(state, HK, "state", "modelarts.hk") is None
    assert check_identity(state, HK, "state", "modelarts.sg") is None  # a new region: adopted
    with pytest.raises(StateError) as refused:
        check_identity(state, Identity("p-other", HK.endpoint), "state", "modelarts.hk")
    assert str(refused.value) == (
        "state was written for project p-hk; this configuration uses project p-other for "
        "provider modelarts.hk"
    )
    moved = Identity("p-hk", "https://proxy.example")
    assert check_identity(state, moved, "state", "modelarts.hk") == (
        "Warning: state was written for modelarts.hk endpoint "
        "https://modelarts.ap-southeast-1.myhuaweicloud.com; this configuration uses "
        "https://proxy.example (the same project p-hk, so np goes on and records the new "
        "endpoint on its next write)"
    )


def test_a_session_records_each_providers_identity_with_its_next_write(tmp_path: Path) -> None:
    manager = StateManager(local_backend(tmp_path / "np.state.json"))
    with manager.locked("apply") as session:
        session.adopt_identity(BJ)
        session.adopt_identity(HK, "modelarts.hk")
        session.record({"nodepool.a": replace(TRAIN, provider="modelarts.hk")})
    state = manager.load()
    assert (state.identity, state.providers) == (BJ, {"modelarts.hk": HK})
    assert state.resources["nodepool.a"].provider == "modelarts.hk"
