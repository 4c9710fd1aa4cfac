"""Planning cases that mutation testing found unpinned (`make mutate`, docs/testing.md).

Each test fixes something a user reads or np sends: the request body, the reason per key, the
values a plan shows, the last-applied document state records, or the plan error's words. They
call the pure planner directly, so each takes milliseconds and a mutant dies at the first one.
"""

from __future__ import annotations

import hashlib

import pytest
from planning import LIVE, config, desired, managed, plan_errors, plan_one, state, world

from reconciler.config.configuration import Lifecycle, Moved
from reconciler.diff import DriftChange, FieldChange
from reconciler.errors import Pos
from reconciler.live import LiveWorld
from reconciler.plan.changes import ResourceChange, fingerprint
from reconciler.plan.planner import adoption, make_plan, replan

# --- creating a node pool ------------------------------------------------------------------------


def test_a_create_shows_every_written_value_and_records_only_what_np_manages() -> None:
    block = desired(
        "new",
        flavor="f",
        count=3,
        labels={"team": "ml"},
        lifecycle=Lifecycle(ignore_changes=("labels",)),
    )
    change = plan_one(block, world(a=LIVE))
    resources = {"flavor": "f", "count": 3, "maxCount": 3, "labels": {"team": "ml"}}
    assert change.body == {
        "apiVersion": "v2",
        "kind": "NodePool",
        "metadata": {"name": "new"},
        "spec": {"resources": resources},
    }
    assert change.after == resources  # what the plan shows as the result, and apply waits for
    assert change.changes == (
        FieldChange("flavor", "config", None, "f"),
        FieldChange("count", "config", None, 3),
        FieldChange("maxCount", "default", None, 3),
        FieldChange("labels", "config", None, {"team": "ml"}),
    )
    # Labels are sent on creation, but ignore_changes keeps them out of last-applied.
    assert change.applied == {"flavor": "f", "count": 3}


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"labels": {"a": "1"}}, "flavor and count are required to create it"),
        ({"flavor": "f"}, "count is required to create it"),
    ],
)
def test_a_create_names_what_it_lacks(fields: dict[str, object], words: str) -> None:
    errors = plan_errors(config(desired("new", **fields)), state(), world(a=LIVE))
    missing = "flavor" if "flavor" not in fields else "count"
    assert errors == [
        f'nodepool.new: {missing}: node pool "new" does not exist in pool "p"; {words}'
    ]


@pytest.mark.parametrize("name", ["Bad_Name", "gpu-default", "x"])
def test_a_create_refuses_a_name_the_api_would_refuse(name: str) -> None:
    errors = plan_errors(config(desired("new", name, flavor="f", count=1)), state(), world())
    assert errors == [
        f'nodepool.new: name: "{name}" is not a valid name for a new node pool: 2-50 lowercase '
        "letters, digits and '-', starting with a letter, not ending with '-' or '-default'"
    ]


def test_a_create_on_a_physical_pool_refuses_a_different_max_count() -> None:
    block = desired("new", flavor="f", count=2, max_count=4)
    errors = plan_errors(config(block), state(), world("Dedicate"))
    assert errors == [
        "nodepool.new: max_count: max_count (4) must equal count (2) "
        'on physical (Dedicate) pool "p"'
    ]


def test_a_create_refuses_az_counts_that_do_not_add_up() -> None:
    block = desired("new", flavor="f", count=3, azs=[{"az": "a", "count": 1}])
    errors = plan_errors(config(block), state(), world())
    assert errors == ["nodepool.new: azs: the AZ counts add up to 1, but count is 3"]


def test_a_create_on_a_physical_pool_records_max_count_and_keeps_ignored_keys_out() -> None:
    block = desired(
        "new",
        flavor="f",
        count=2,
        labels={"team": "ml", "owner": "me"},
        lifecycle=Lifecycle(prevent_destroy=True, ignore_keys=(("labels", "owner"),)),
    )
    change = plan_one(block, world("Dedicate", a=LIVE))
    assert change.applied == {"flavor": "f", "count": 2, "maxCount": 2, "labels": {"team": "ml"}}
    assert change.prevent_destroy is True


def test_a_create_body_lists_fields_in_wire_order() -> None:
    block = desired("new", labels={"a": "1"}, count=2, flavor="f", os={"name": "n"})
    change = plan_one(block, world(a=LIVE))
    assert change.body is not None
    assert list(change.body["spec"]["resources"]) == ["flavor", "count", "maxCount", "labels", "os"]
    assert change.applied is not None
    assert list(change.applied) == ["flavor", "count", "labels", "os"]


# --- updating one --------------------------------------------------------------------------------


def test_tags_added_to_a_node_pool_without_tags() -> None:
    change = plan_one(desired("a", tags={"owner": "ml"}), world(a=LIVE))
    assert change.body == {
        "spec": {
            "resources": {
                "flavor": "f",
                "count": 2,
                "maxCount": 2,
                "tags": [{"key": "owner", "value": "ml"}],
            }
        }
    }


def test_an_update_shows_live_as_it_will_be() -> None:
    change = plan_one(desired("a", labels={"team": "ai"}), world(a=LIVE | {"nodePool": "x"}))
    assert change.after == LIVE | {"nodePool": "x", "labels": {"team": "ai", "owner": "ops"}}


def test_setting_prevent_destroy_alone_is_recorded_without_a_request() -> None:
    block = desired("a", count=2, lifecycle=Lifecycle(prevent_destroy=True))
    change = plan_one(block, world(a=LIVE), {"count": 2})
    assert (change.action, change.records_state, change.prevent_destroy) == ("no-op", True, True)
    unchanged = plan_one(desired("a", count=2), world(a=LIVE), {"count": 2})
    assert (unchanged.action, unchanged.records_state) == ("no-op", False)


def test_a_flavor_change_names_both_flavors() -> None:
    assert plan_errors(config(desired("a", flavor="g")), state(), world(a=LIVE)) == [
        'nodepool.a: flavor: flavor cannot change on an existing node pool (live "f", config '
        '"g"); create a new node pool instead'
    ]


def test_a_last_applied_value_of_the_wrong_shape_is_drift_not_a_crash() -> None:
    """A hand-edited state may hold a list where a map belongs: np reports it and plans on."""
    change = plan_one(desired("a", labels={"team": "ml"}), world(a=LIVE), {"labels": ["team"]})
    assert (change.action, change.body) == ("no-op", None)
    assert change.drift == (DriftChange("labels", ["team"], LIVE["labels"]),)
    assert change.applied == {"labels": {"team": "ml"}}


# --- what the API would refuse, refused at plan time ---------------------------------------------


def test_az_counts_add_up_only_whole_numbers() -> None:
    """An AZ the configuration does not list counts only when live gives it a number."""
    azs = [{"az": "a", "count": 2}, {"az": "b", "count": "1"}, {"az": "c", "count": None}]
    block = desired("a", count=4, azs=[{"az": "a", "count": 3}])
    assert plan_errors(config(block), state(), world(a=LIVE | {"azs": azs})) == [
        "nodepool.a: azs: the AZ counts add up to 3, but count is 4; live also has b (1), "
        "c (None), which the configuration does not list: add each of them to azs (with "
        "count = 0 to empty it)"
    ]


def test_an_empty_azs_list_against_a_node_pool_without_azs_adds_up_to_zero() -> None:
    block = desired("a", count=3, azs=[])
    assert plan_errors(config(block), state(), world(a=LIVE)) == [
        "nodepool.a: azs: the AZ counts add up to 0, but count is 3"
    ]


def test_a_tags_change_names_every_reserved_tag_once() -> None:
    live = LIVE | {
        "tags": [
            {"key": "__type_baremetal", "value": "1"},
            {"key": "CCE-cluster", "value": "c"},
            {"key": "owner", "value": "ops"},
        ]
    }
    block = desired("a", tags={"owner": "ml"})
    assert plan_errors(config(block), state(), world(a=live)) == [
        "nodepool.a: tags: this node pool carries tags reserved by the service "
        "(CCE-cluster, __type_baremetal); the API refuses a request that carries them, and np "
        "sends tags whole, so np cannot change tags here: leave tags out of this block or add "
        "it to lifecycle.ignore_changes"
    ]


# --- max_count: physical (Dedicate) and Logical pools --------------------------------------------


def test_a_physical_pool_records_the_default_max_count_it_owns() -> None:
    change = plan_one(desired("a", count=3), world("Dedicate", a=LIVE), {"count": 2})
    assert change.body == {"spec": {"resources": {"flavor": "f", "count": 3, "maxCount": 3}}}
    assert change.reasons == {"count": "config", "maxCount": "config"}
    assert change.applied == {"count": 3, "maxCount": 3}


def test_a_physical_node_pool_without_max_count_live_plans_nothing_np_does_not_manage() -> None:
    live = {"flavor": "f", "count": 2, "labels": {"team": "ml"}}
    change = plan_one(desired("a", labels={"team": "ml"}), world("Dedicate", a=live))
    assert (change.action, change.body) == ("no-op", None)


def test_an_ignored_max_count_that_differs_from_count_names_count() -> None:
    block = desired("a", count=3, lifecycle=Lifecycle(ignore_changes=("max_count",)))
    assert plan_errors(config(block), state(), world("Dedicate", a=LIVE)) == [
        'nodepool.a: count: max_count (2) must equal count (3) on physical (Dedicate) pool "p"'
    ]


def test_an_ignored_count_on_a_physical_pool_takes_max_count_with_it() -> None:
    """An autoscaler owns both: neither drift nor a request when it moves them together."""
    block = desired("a", count=2, lifecycle=Lifecycle(ignore_changes=("count",)))
    live = world("Dedicate", a=LIVE | {"count": 5, "maxCount": 5})
    change = plan_one(block, live, {"count": 2, "maxCount": 2})
    assert (change.action, change.drift, change.applied) == ("no-op", (), {})


def test_a_written_max_count_on_a_logical_pool_is_owned_and_drifts() -> None:
    block = desired("a", count=2, max_count=4)
    change = plan_one(block, world(a=LIVE | {"maxCount": 6}), {"count": 2, "maxCount": 4})
    assert change.drift == (DriftChange("maxCount", 4, 6),)
    assert change.reasons == {"maxCount": "drift"}


def test_a_written_max_count_stays_managed_when_count_is_ignored() -> None:
    block = desired("a", count=2, max_count=8, lifecycle=Lifecycle(ignore_changes=("count",)))
    change = plan_one(block, world(a=LIVE | {"count": 3, "maxCount": 4}))
    assert change.body == {"spec": {"resources": {"flavor": "f", "count": 3, "maxCount": 8}}}


# --- adopting a node pool as it is (np import) ---------------------------------------------------


def test_adoption_records_live_values_for_exactly_what_the_block_manages() -> None:
    live = {
        "flavor": "f",
        "count": 4,
        "maxCount": 4,
        "azs": [{"az": "a", "count": 3, "extra": 1}, {"az": "b", "count": 1}],
        "labels": None,  # null live: nothing to adopt, and the fields after it still are
        "taints": [
            {"key": "gpu", "value": "1", "effect": "NoSchedule"},
            {"key": "ext", "value": "y", "effect": "NoSchedule"},
        ],
        "tags": [{"key": "owner", "value": "ops"}, {"key": "cost", "value": "1"}],
        "extendParams": {"dockerBaseSize": None, "runtime": "docker"},
        "network": {"vpc": "v0", "subnet": "s0"},
    }
    block = desired(
        "a",
        count=2,
        azs=[{"az": "a", "count": 2}],
        labels={"team": "ml"},
        taints=[{"key": "gpu", "value": "2", "effect": "NoSchedule"}],
        tags={"owner": "ml"},
        extend_params={"dockerBaseSize": "50"},
        network={"vpc": "v1"},
    )
    assert adoption(block, world(a=live)) == {
        "count": 4,
        "azs": [{"az": "a", "count": 3, "extra": 1}],
        "taints": [{"key": "gpu", "value": "1", "effect": "NoSchedule"}],
        "tags": [{"key": "owner", "value": "ops"}],
        "network": {"vpc": "v0"},
    }


def test_adoption_on_a_physical_pool_records_the_live_maximum_it_owns() -> None:
    live = LIVE | {"count": 4, "maxCount": 4}
    assert adoption(desired("a", count=2), world("Dedicate", a=live)) == {
        "count": 4,
        "maxCount": 4,
    }


def test_adoption_leaves_out_ignored_keys() -> None:
    block = desired("a", labels={"team": "x", "owner": "y"}, lifecycle=_ignore_owner())
    assert adoption(block, world(a=LIVE)) == {"labels": {"team": "ml"}}


def test_adoption_of_a_missing_node_pool_is_none() -> None:
    assert adoption(desired("gone", count=1), world(a=LIVE)) is None
    assert adoption(desired("a", count=1), LiveWorld({})) is None


def _ignore_owner() -> Lifecycle:
    return Lifecycle(ignore_keys=(("labels", "owner"),))


# --- node pools no block declares ----------------------------------------------------------------


def test_a_managed_node_pool_gone_live_is_forgotten_by_name() -> None:
    plan = make_plan(config(), state(gone=managed("gone", {"count": 1})), world(a=LIVE))
    assert plan.resources == (
        ResourceChange("nodepool.gone", "p", "gone", "no-op", records_state=True, forgets=True),
    )


def test_a_removed_block_deletes_its_node_pool_showing_every_live_value() -> None:
    live = {"flavor": "f", "count": 1, "maxCount": 1, "labels": {"team": "ai"}}
    st = state(old=managed("old", {"count": 1, "labels": {"team": "ml"}}))
    [change] = make_plan(config(), st, world(old=live, a=LIVE)).resources
    assert change == ResourceChange(
        "nodepool.old",
        "p",
        "old",
        "delete",
        before=live,
        changes=(
            FieldChange("flavor", "removed-from-config", "f", None),
            FieldChange("count", "removed-from-config", 1, None),
            FieldChange("maxCount", "removed-from-config", 1, None),
            FieldChange("labels", "removed-from-config", {"team": "ai"}, None),
        ),
        drift=(DriftChange("labels.team", "ml", "ai"),),
        records_state=True,
    )


def test_a_node_pool_another_address_declares_is_never_deleted() -> None:
    st = state(a=managed("x", {"count": 1}), b=managed("x", {"count": 1}))
    assert plan_errors(config(desired("b", "x", count=1)), st, world(x=LIVE, y=LIVE)) == [
        "nodepool.a: not in the configuration, but nodepool.b declares its node pool p/x; np "
        "will not delete it. Run `np state mv nodepool.a nodepool.b` to give it the new address"
    ]


def test_prevent_destroy_and_the_last_node_pool_are_refused_by_address() -> None:
    kept = managed("a", {"count": 1}, prevent_destroy=True)
    assert plan_errors(config(), state(a=kept), world(a=LIVE, b=LIVE)) == [
        "nodepool.a: removed from the configuration, but lifecycle.prevent_destroy was set when "
        "it was last applied; restore the block, or run `np state rm nodepool.a` to stop "
        "managing it without deleting it"
    ]
    assert plan_errors(config(), state(a=managed("a", {"count": 1})), world(a=LIVE)) == [
        'nodepool.a: cannot delete the last node pool of pool "p"; a pool keeps at least one '
        "node pool (run `np state rm nodepool.a` to stop managing it)"
    ]


# --- moves and targeting -------------------------------------------------------------------------


def test_moved_blocks_after_one_carried_out_still_move() -> None:
    cfg = config(
        desired("b", count=2),
        desired("d", "c", count=2),
        moved=(Moved("nodepool.a", "nodepool.b"), Moved("nodepool.c", "nodepool.d")),
    )
    plan = make_plan(
        cfg,
        state(b=managed("b", {"count": 2}), c=managed("c", {"count": 2})),
        world(b=LIVE, c=LIVE),
    )
    assert [(r.address, r.moved_from, r.adopted) for r in plan.resources] == [
        ("nodepool.b", None, False),
        ("nodepool.d", "nodepool.c", False),
    ]
    assert plan.resources[1].adopted is False  # the plan's JSON says false, not null


def test_a_moved_block_that_also_renames_the_node_pool_is_refused() -> None:
    """Carried-out moved blocks before it do not hide it: a move never changes the name."""
    cfg = config(
        desired("b", count=2),
        desired("d", "y", count=2),
        moved=(Moved("nodepool.a", "nodepool.b"), Moved("nodepool.c", "nodepool.d")),
    )
    st = state(b=managed("b", {"count": 2}), c=managed("c", {"count": 2}))
    [error] = plan_errors(cfg, st, world(b=LIVE, c=LIVE))
    assert error.startswith(
        "nodepool.d: name: name cannot change on a managed node pool (state: p/c, "
        "configuration: p/y)."
    )


def test_every_impossible_move_is_reported_where_it_is_written() -> None:
    cfg = config(
        desired("b", count=2),
        desired("d", count=2),
        moved=(
            Moved("nodepool.a", "nodepool.b", Pos("moves.hcl", 1)),
            Moved("nodepool.c", "nodepool.d", Pos("moves.hcl", 5)),
        ),
    )
    st = state(**{n: managed(n, {"count": 2}) for n in "abcd"})
    assert plan_errors(cfg, st, world(**dict.fromkeys("abcd", LIVE))) == [
        "moves.hcl:1: moved: cannot move nodepool.a to nodepool.b: both are in state; run "
        "`np state rm` on the one that is wrong",
        "moves.hcl:5: moved: cannot move nodepool.c to nodepool.d: both are in state; run "
        "`np state rm` on the one that is wrong",
    ]


def test_a_renamed_block_after_a_managed_one_is_a_move() -> None:
    cfg = config(desired("a", count=2), desired("c", "y", count=2))
    st = state(a=managed("a", {"count": 2}), b=managed("y", {"count": 2}))
    plan = make_plan(cfg, st, world(a=LIVE, y=LIVE))
    assert [(r.address, r.moved_from, r.action) for r in plan.resources] == [
        ("nodepool.a", None, "no-op"),
        ("nodepool.c", "nodepool.b", "no-op"),
    ]


def test_two_state_addresses_for_a_declared_node_pool_are_named_at_the_block() -> None:
    cfg = config(desired("c", "x", count=2, pos=Pos("main.hcl", 3)))
    st = state(a=managed("x", {"count": 2}), b=managed("x", {"count": 2}))
    [holders, *removed] = plan_errors(cfg, st, world(x=LIVE))
    assert holders == (
        "main.hcl:3: nodepool.c: state records p/x under 2 addresses (nodepool.a, nodepool.b); "
        "run `np state rm` on all but one"
    )
    assert [r.split(":")[0] for r in removed] == ["nodepool.a", "nodepool.b"]


def test_excluding_the_old_address_of_a_moved_block_excludes_the_new_one() -> None:
    cfg = config(desired("b", "a", count=2), moved=(Moved("nodepool.a", "nodepool.b"),))
    st = state(a=managed("a", {"count": 2}))
    plan = make_plan(cfg, st, world(a=LIVE), excludes=["nodepool.a"])
    assert plan.resources == ()
    assert tuple(str(w) for w in plan.warnings) == (
        "Resource targeting is in effect: the plan may be incomplete. Use --target and "
        "--exclude only for exceptional situations, and run a full plan afterwards.",
    )


# --- re-planning one change against a fresh read -------------------------------------------------


def test_replan_rebuilds_the_change_it_was_given_among_several() -> None:
    cfg = config(desired("a", labels={"team": "x"}), desired("b", labels={"team": "y"}))
    live = world(a=LIVE, b=LIVE)
    plan = make_plan(cfg, state(), live)
    second = plan.resources[1]
    again = replan(cfg, state(), live, second, LIVE | {"count": 5, "maxCount": 5})
    assert again is not None
    assert again.address == "nodepool.b"
    assert again.body == {
        "spec": {"resources": {"flavor": "f", "count": 5, "maxCount": 5, "labels": {"team": "y"}}}
    }


def _with(*changes: FieldChange) -> ResourceChange:
    return ResourceChange("nodepool.a", "p", "a", "update", changes=changes)


def test_same_changes_ignores_key_order_and_compares_both_ends() -> None:
    taint = FieldChange(
        "taints.k:NoSchedule",
        "config",
        {"key": "k", "value": "1", "effect": "NoSchedule"},
        {"key": "k", "value": "2", "effect": "NoSchedule"},
    )
    reordered = FieldChange(
        taint.path,
        "drift",
        {"effect": "NoSchedule", "value": "1", "key": "k"},
        {"effect": "NoSchedule", "value": "2", "key": "k"},
    )
    assert _with(taint).same_changes(_with(reordered))
    elsewhere = FieldChange(
        taint.path, "config", taint.before, {"key": "k", "effect": "NoSchedule"}
    )
    assert not _with(taint).same_changes(_with(elsewhere))


# --- fingerprints compared across runs -----------------------------------------------------------


def test_a_fingerprint_is_the_digest_of_canonical_json() -> None:
    """Saved plans compare fingerprints taken by two runs (maybe two np versions): the form
    is fixed, and the order of keys in the API's answer does not matter."""
    spec = {"flavor": "f", "count": 2, "labels": {"b": "1", "a": "é"}}
    again = {"labels": {"a": "é", "b": "1"}, "count": 2, "flavor": "f"}
    canonical = '{"count":2,"flavor":"f","labels":{"a":"\\u00e9","b":"1"}}'
    assert fingerprint(spec) == fingerprint(again)
    assert fingerprint(spec) == hashlib.sha256(canonical.encode()).hexdigest()
