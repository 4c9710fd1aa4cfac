"""Planning over several providers (regions): identity is (provider, pool, name), each region
has its own live world, and a provider never changes under a managed address (pure: no I/O)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from planning import LIVE, config, desired, managed, plan_errors, world

from reconciler.config.configuration import Moved
from reconciler.errors import NpError
from reconciler.live import LiveWorld
from reconciler.plan.planner import make_plan, managed_nodepools, pools_of, providers_needed, replan
from reconciler.plan.saved import check_same
from reconciler.state.document import ResourceState, State

HK = "modelarts.hk"
APPLIED = {"flavor": "f", "count": 2}


def in_hk(block: Any) -> Any:
    return replace(block, provider=HK)


def managed_in(provider: str, name: str, applied: dict[str, Any]) -> ResourceState:
    return replace(managed(name, applied), provider=provider)


def worlds(default: LiveWorld, hk: LiveWorld) -> dict[str, LiveWorld]:
    return {"modelarts": default, HK: hk}


def test_the_same_pool_and_name_in_two_regions_are_two_node_pools() -> None:
    """Each block is planned against its own region: one creates, the other adopts."""
    cfg = config(
        desired("train", flavor="f", count=2),
        in_hk(desired("train_hk", "train", flavor="f", count=2)),
    )
    plan = make_plan(cfg, State("l", 0, {}), worlds(world(), world(train=LIVE)))
    changes = {c.address: (c.provider, c.action, c.adopted) for c in plan.resources}
    assert changes == {
        "nodepool.train": ("modelarts", "create", False),
        "nodepool.train_hk": (HK, "no-op", True),
    }


def test_a_renamed_block_moves_only_within_its_region() -> None:
    """Identity includes the provider: a block of another region with the same pool and name
    is a new node pool there, not the old address's."""
    st = State("l", 1, {"nodepool.old": managed("train", APPLIED)})
    cfg = config(in_hk(desired("new", "train", flavor="f", count=2)))
    both = worlds(world(train=LIVE, other=LIVE), world(train=LIVE))
    by_address = {c.address: c for c in make_plan(cfg, st, both).resources}
    assert by_address["nodepool.new"].moved_from is None
    assert by_address["nodepool.old"].action == "delete"
    assert by_address["nodepool.old"].provider == "modelarts"
    same_region = config(desired("new", "train", flavor="f", count=2))
    [moved] = make_plan(same_region, st, both).resources
    assert (moved.address, moved.moved_from) == ("nodepool.new", "nodepool.old")


def test_a_provider_change_of_a_managed_address_is_refused_naming_both_ways_on() -> None:
    st = State("l", 1, {"nodepool.train": managed("train", APPLIED)})
    cfg = config(in_hk(desired("train", flavor="f", count=2)))
    assert plan_errors(cfg, st, worlds(world(train=LIVE), world(train=LIVE))) == [
        "nodepool.train: provider: provider cannot change on a managed node pool (state: "
        "modelarts, configuration: modelarts.hk): p/train lives where its provider points. To "
        "keep managing it, set provider back to modelarts; to replace it with a node pool of "
        "modelarts.hk, add a new block for that one and remove this one, so that the plan "
        "shows the create and the destroy"
    ]


def test_a_moved_block_cannot_carry_a_node_pool_to_another_region() -> None:
    st = State("l", 1, {"nodepool.old": managed("train", APPLIED)})
    cfg = replace(
        config(in_hk(desired("new", "train", flavor="f", count=2))),
        moved=(Moved("nodepool.old", "nodepool.new"),),
    )
    [error] = plan_errors(cfg, st, worlds(world(train=LIVE), world(train=LIVE)))
    assert error.startswith("nodepool.new: provider: provider cannot change on a managed node")


def test_a_removed_block_is_deleted_in_its_own_region_and_only_there() -> None:
    st = State("l", 1, {"nodepool.gone": managed_in(HK, "train", APPLIED)})
    default_live = world(train=LIVE, other=LIVE)  # the default region holds one of that name
    plan = make_plan(config(), st, worlds(default_live, world(train=LIVE, other=LIVE)))
    [change] = plan.resources
    assert (change.provider, change.action, change.before) == (HK, "delete", LIVE)
    gone = make_plan(config(), st, worlds(default_live, world(other=LIVE)))
    [forgotten] = gone.resources
    assert (forgotten.provider, forgotten.forgets) == (HK, True)


def test_each_region_reads_only_its_own_pools_and_node_pools() -> None:
    st = State(
        "l",
        1,
        {"nodepool.a": managed("a", APPLIED), "nodepool.b": managed_in(HK, "b", APPLIED)},
    )
    st.resources["nodepool.b"] = replace(st.resources["nodepool.b"], pool="q")
    cfg = config(in_hk(desired("c", flavor="f", count=1)))
    assert pools_of(cfg, st) == {"p"}
    assert pools_of(cfg, st, HK) == {"p", "q"}
    assert managed_nodepools(st, HK) == {("q", "b")}


@pytest.mark.parametrize(
    ("targets", "excludes", "needed"),
    [
        ((), (), ["modelarts", HK]),
        (("nodepool.a",), (), ["modelarts"]),
        ((), ("nodepool.a",), [HK]),
        (("nodepool.c", "nodepool.a"), (), ["modelarts", HK]),
    ],
)
def test_only_the_regions_of_the_chosen_addresses_are_read(
    targets: tuple[str, ...], excludes: tuple[str, ...], needed: list[str]
) -> None:
    st = State("l", 1, {"nodepool.a": managed("a", APPLIED)})
    cfg = config(desired("a", flavor="f", count=2), in_hk(desired("c", flavor="f", count=1)))
    assert providers_needed(cfg, st, targets, excludes) == needed


def test_no_address_at_all_still_reads_the_default_region() -> None:
    assert providers_needed(config(), State("l", 0, {})) == ["modelarts"]


def test_a_single_live_world_is_the_default_providers() -> None:
    cfg = config(in_hk(desired("c", flavor="f", count=1)))
    [error] = plan_errors(cfg, State("l", 0, {}), world())
    assert error == "provider modelarts.hk was not read"


def test_a_rebuilt_change_reads_its_own_regions_world() -> None:
    st = State("l", 1, {"nodepool.a": managed_in(HK, "a", APPLIED)})
    cfg = config(in_hk(desired("a", flavor="f", count=3)))
    both = worlds(world(), world(a={**LIVE, "count": 2}))
    [change] = make_plan(cfg, st, both).resources
    fresh = {**LIVE, "count": 2, "labels": {"new": "x"}}
    again = replan(cfg, st, both, change, fresh)
    assert again is not None and change.same_changes(again)
    assert again.provider == HK


def test_a_saved_plan_with_a_change_in_another_region_is_refused() -> None:
    st = State("l", 1, {})
    both = worlds(world(a=LIVE), world(a=LIVE))
    saved = make_plan(config(desired("a", flavor="f", count=3)), st, both)
    again = make_plan(config(in_hk(desired("a", flavor="f", count=3))), st, both)
    with pytest.raises(NpError) as refused:
        check_same(saved, again)
    assert "nodepool.a: provider: the saved plan has" in str(refused.value)
