"""Planning rules on constructed configurations (pure: no files, no requests): moved blocks,
ignore_changes by key and `all`, and re-planning against a fresh read before a request."""

from __future__ import annotations

from typing import Any

import pytest
from planning import LIVE, config, desired, managed, state, world

from reconciler.config.configuration import Lifecycle, Moved
from reconciler.errors import PlanError
from reconciler.plan.changes import ResourceChange
from reconciler.plan.planner import make_plan, replan


def test_a_moved_block_renames_the_state_entry_without_a_request() -> None:
    plan = make_plan(
        config(
            desired("b", "a", count=2),
            moved=(Moved("nodepool.a", "nodepool.b"),),
        ),
        state(a=managed("a", {"count": 2})),
        world(a=LIVE, other=LIVE),
    )
    [change] = plan.resources
    assert (change.address, change.moved_from, change.action) == (
        "nodepool.b",
        "nodepool.a",
        "no-op",
    )
    assert change.records_state and not change.adopted


def test_a_moved_block_whose_both_ends_are_in_state_is_an_error() -> None:
    with pytest.raises(PlanError) as info:
        make_plan(
            config(desired("b", count=2), moved=(Moved("nodepool.a", "nodepool.b"),)),
            state(a=managed("a", {"count": 2}), b=managed("b", {"count": 2})),
            world(a=LIVE, b=LIVE),
        )
    assert "cannot move nodepool.a to nodepool.b: both are in state" in str(info.value)


def test_a_moved_block_already_carried_out_is_ignored() -> None:
    plan = make_plan(
        config(desired("b", count=2), moved=(Moved("nodepool.a", "nodepool.b"),)),
        state(b=managed("b", {"count": 2})),
        world(b=LIVE),
    )
    assert [(c.address, c.moved_from) for c in plan.resources] == [("nodepool.b", None)]


def test_two_state_addresses_for_one_node_pool_are_an_error_not_a_delete() -> None:
    with pytest.raises(PlanError) as info:
        make_plan(
            config(desired("c", "a", count=2)),
            state(a=managed("a", {"count": 2}), b=managed("a", {"count": 2})),
            world(a=LIVE),
        )
    assert "state records p/a under 2 addresses (nodepool.a, nodepool.b)" in str(info.value)


def test_ignoring_one_label_key_neither_patches_nor_reports_it() -> None:
    lifecycle = Lifecycle(ignore_keys=(("labels", "owner"),))
    applied = {"labels": {"team": "ml", "owner": "me"}}
    plan = make_plan(
        config(desired("a", labels={"team": "ai", "owner": "me"}, lifecycle=lifecycle)),
        state(a=managed("a", applied)),
        world(a=LIVE),
    )
    [change] = plan.resources
    assert change.body == {
        "spec": {"resources": {"flavor": "f", "count": 2, "maxCount": 2, "labels": {"team": "ai"}}}
    }
    assert change.drift == ()  # owner moved "me" -> "ops", but it is ignored
    assert change.applied == {"labels": {"team": "ai"}}


def test_ignore_changes_all_manages_nothing_after_creation() -> None:
    lifecycle = Lifecycle(ignore_all=True)
    plan = make_plan(
        config(desired("a", count=9, labels={"team": "x"}, lifecycle=lifecycle)),
        state(a=managed("a", {"count": 2, "labels": {"team": "ml"}})),
        world(a=LIVE),
    )
    [change] = plan.resources
    assert (change.action, change.drift, change.body) == ("no-op", (), None)


def test_ignore_changes_all_still_creates_with_the_written_fields() -> None:
    lifecycle = Lifecycle(ignore_all=True)
    plan = make_plan(
        config(desired("new", flavor="f", count=3, lifecycle=lifecycle)),
        state(),
        world(a=LIVE),
    )
    [change] = plan.resources
    assert change.action == "create"
    assert change.body is not None
    assert change.body["spec"]["resources"] == {"flavor": "f", "count": 3, "maxCount": 3}


def reviewed(fresh: dict[str, Any], labels: dict[str, str]) -> ResourceChange | None:
    lifecycle = Lifecycle(ignore_changes=("count",))
    cfg = config(desired("a", count=2, labels=labels, lifecycle=lifecycle))
    live = world(a=LIVE)
    [change] = make_plan(cfg, state(), live).resources
    again = replan(cfg, state(), live, change, fresh)
    return change if again is None or not change.same_changes(again) else again


def test_a_fresh_read_keeps_what_others_changed_meanwhile() -> None:
    fresh = LIVE | {"count": 8, "maxCount": 8, "tags": [{"key": "finance", "value": "1"}]}
    again = reviewed(fresh, {"team": "ml", "owner": "ops", "stage": "prod"})
    assert again is not None and again.body is not None
    assert again.body["spec"]["resources"] == {
        "flavor": "f",
        "count": 8,
        "maxCount": 8,
        "labels": {"stage": "prod"},
    }


def test_a_value_changed_meanwhile_is_not_overwritten() -> None:
    lifecycle = Lifecycle(ignore_changes=("count",))
    cfg = config(desired("a", labels={"stage": "prod"}, lifecycle=lifecycle))
    live = world(a=LIVE)
    [change] = make_plan(cfg, state(), live).resources
    fresh = LIVE | {"labels": {"team": "ml", "owner": "ops", "stage": "dev"}}
    again = replan(cfg, state(), live, change, fresh)
    assert again is not None and not change.same_changes(again)


def test_ignoring_one_tag_key_keeps_the_live_tag_in_the_list_sent() -> None:
    live = LIVE | {"tags": [{"key": "owner", "value": "ops"}, {"key": "cost", "value": "1"}]}
    lifecycle = Lifecycle(ignore_keys=(("tags", "owner"),))
    plan = make_plan(
        config(desired("a", tags={"owner": "me", "cost": "2"}, lifecycle=lifecycle)),
        state(a=managed("a", {"tags": [{"key": "cost", "value": "1"}]})),
        world(a=live),
    )
    [change] = plan.resources
    assert change.body is not None
    assert change.body["spec"]["resources"]["tags"] == [
        {"key": "owner", "value": "ops"},
        {"key": "cost", "value": "2"},
    ]
    assert change.reasons == {"tags.cost": "config"}
