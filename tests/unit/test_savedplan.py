"""Saved plans: what the file holds, and every reason np refuses to apply one."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from reconciler import __version__
from reconciler.config.configuration import Configuration, DesiredNodePool, Provider
from reconciler.errors import NpError
from reconciler.live import LivePool, LiveWorld
from reconciler.plan.changes import Plan, fingerprint
from reconciler.plan.planner import make_plan
from reconciler.plan.saved import (
    PlanTarget,
    Recipe,
    check_same,
    check_still_valid,
    check_target,
    config_digest,
    load_plan,
    save_plan,
)
from reconciler.state.document import ResourceState, State

FLAVOR = "modelarts.vm.gpu.t4u8"
TRAIN_LIVE = {"flavor": FLAVOR, "count": 2, "maxCount": 2, "labels": {"team": "ml"}}
INFER_LIVE = {"flavor": FLAVOR, "count": 1, "maxCount": 1}
TARGET = PlanTarget(endpoint="sim://world.json", project_id="p1", workspace="default")
TARGETS = {"modelarts": TARGET}
RECIPE = Recipe(variables={"n": 4, "zones": ["a", "b"]}, targets=(), excludes=())


def _world(**nodepools: dict[str, Any] | None) -> LiveWorld:
    specs = {"train": TRAIN_LIVE, "infer": INFER_LIVE, "old": INFER_LIVE} | nodepools
    found = {name: spec for name, spec in specs.items() if spec is not None}
    return LiveWorld({"pool-prod": LivePool("pool-prod", "Logical", found)})


def _state(lineage: str = "lin-1", serial: int = 3) -> State:
    def managed(name: str, applied: dict[str, Any]) -> ResourceState:
        return ResourceState("pool-prod", name, applied, applied, "2026-01-01T00:00:00Z")

    return State(
        lineage,
        serial,
        {
            "nodepool.infer": managed("infer", {"flavor": FLAVOR, "count": 1, "maxCount": 1}),
            "nodepool.old": managed("old", {"count": 1}),
        },
    )


def _config() -> Configuration:
    def desired(name: str, fields: dict[str, Any]) -> DesiredNodePool:
        return DesiredNodePool(f"nodepool.{name}", "pool-prod", name, fields)

    return Configuration(
        Provider(),
        (
            desired("train", {"flavor": FLAVOR, "count": 4}),  # adopted and updated
            desired("infer", {"flavor": FLAVOR, "count": 1}),  # no-op, nothing to record
            desired("fresh", {"flavor": FLAVOR, "count": 1}),  # created
        ),  # nodepool.old: in state, not in config -> deleted
    )


@pytest.fixture
def plan() -> Plan:
    return make_plan(_config(), _state(), _world())


@pytest.fixture
def plan_file(tmp_path: Path, plan: Plan) -> Path:
    path = tmp_path / "p.plan"
    save_plan(path, plan, RECIPE, environ={}, config_digest="cfg-digest", targets=TARGETS)
    return path


def _rewrite(path: Path, edit: Any, *, fix_checksum: bool) -> None:
    doc = json.loads(path.read_text())
    edit(doc)
    if fix_checksum:  # as a forger would: any signature is left as it was
        del doc["checksum"]
        signature = doc.pop("signature", None)
        canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        doc["checksum"] = hashlib.sha256(canonical.encode()).hexdigest()
        if signature is not None:
            doc["signature"] = signature
    path.write_text(json.dumps(doc))


def test_round_trip_rebuilds_the_same_plan(plan: Plan, plan_file: Path) -> None:
    saved = load_plan(plan_file, {})
    assert saved.plan == plan
    assert (saved.lineage, saved.serial) == ("lin-1", 3)
    assert saved.config_digest == "cfg-digest"
    assert saved.np_version == __version__


def test_file_is_private_json_with_bodies_fingerprints_and_checksum(plan_file: Path) -> None:
    assert stat.S_IMODE(plan_file.stat().st_mode) == 0o600
    doc = json.loads(plan_file.read_text())
    assert sorted(doc) == [
        "checksum",
        "config_digest",
        "created_at",
        "fingerprints",
        "format_version",
        "np_version",
        "plan",
        "providers",
        "recipe",
    ]
    assert doc["format_version"] == "4"
    assert doc["recipe"] == {
        "variables": {"n": 4, "zones": ["a", "b"]},
        "targets": [],
        "excludes": [],
    }
    assert doc["providers"] == {
        "modelarts": {
            "endpoint": "sim://world.json",
            "project_id": "p1",
            "workspace": "default",
            "workspace_id": None,
        }
    }
    assert doc["plan"]["lineage"] == "lin-1"
    assert doc["plan"]["serial"] == 3
    # Touched addresses only (infer is a no-op with nothing to record); create -> missing live.
    assert doc["fingerprints"] == {
        "nodepool.fresh": fingerprint(None),
        "nodepool.old": fingerprint(INFER_LIVE),
        "nodepool.train": fingerprint(TRAIN_LIVE),
    }
    train = next(r for r in doc["plan"]["resources"] if r["address"] == "nodepool.train")
    assert train["body"] == {"spec": {"resources": {"flavor": FLAVOR, "count": 4, "maxCount": 4}}}
    # max_count is not written: maxCount is raised with count, but on a Logical pool np does
    # not record it as applied (a console change of the maximum is not drift).
    assert train["applied"] == {"flavor": FLAVOR, "count": 4}
    fresh = next(r for r in doc["plan"]["resources"] if r["address"] == "nodepool.fresh")
    assert fresh["body"]["metadata"] == {"name": "fresh"}


def test_tampered_file_is_refused(plan_file: Path) -> None:
    def more_nodes(doc: dict[str, Any]) -> None:
        doc["plan"]["resources"][-1]["body"]["spec"]["resources"]["count"] = 40

    _rewrite(plan_file, more_nodes, fix_checksum=False)
    with pytest.raises(NpError) as err:
        load_plan(plan_file, {})
    assert str(err.value) == (
        f"plan file {plan_file} was modified after it was written (checksum mismatch); "
        f"run np plan -out {plan_file} again"
    )


def test_newer_format_is_refused(plan_file: Path) -> None:
    _rewrite(plan_file, lambda doc: doc.update(format_version="5"), fix_checksum=True)
    with pytest.raises(NpError) as err:
        load_plan(plan_file, {})
    assert str(err.value) == (
        f'plan file {plan_file} has format version "5", but np {__version__} reads format '
        f'version "4"; run np plan -out {plan_file} again with this np'
    )


def test_malformed_content_is_refused_even_with_a_valid_checksum(plan_file: Path) -> None:
    def bad_action(doc: dict[str, Any]) -> None:
        doc["plan"]["resources"][0]["action"] = "replace"

    _rewrite(plan_file, bad_action, fix_checksum=True)
    with pytest.raises(NpError, match=r"p\.plan is malformed: plan\.resources\.0\.action: "):
        load_plan(plan_file, {})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json", "is not a saved np plan (not valid JSON: "),
        (b'{"format_version": "1"}', "is not a saved np plan (no checksum)"),
        (b"[1, 2]", "is not a saved np plan (no checksum)"),
    ],
)
def test_not_a_plan_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(NpError) as err:
        load_plan(path, {})
    assert str(err.value).startswith(f"{path} {message}")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(NpError) as err:
        load_plan(tmp_path / "absent.plan", {})
    assert (
        str(err.value)
        == f"cannot read plan file {tmp_path / 'absent.plan'}: No such file or directory"
    )


def test_still_valid_when_nothing_moved(plan_file: Path) -> None:
    check_still_valid(load_plan(plan_file, {}), _state(), _world())


def test_lineage_change_is_refused(plan_file: Path) -> None:
    with pytest.raises(NpError) as err:
        check_still_valid(load_plan(plan_file, {}), _state(lineage="lin-2"), _world())
    assert str(err.value) == (
        "the saved plan is out of date: state lineage changed (lin-1 → lin-2); run np plan again"
    )


def test_serial_change_is_refused(plan_file: Path) -> None:
    with pytest.raises(NpError) as err:
        check_still_valid(load_plan(plan_file, {}), _state(serial=4), _world())
    assert str(err.value) == (
        "the saved plan is out of date: state changed since the plan was made (serial 3 → 4); "
        "run np plan again"
    )


@pytest.mark.parametrize(
    ("live", "moved"),
    [
        ({"train": TRAIN_LIVE | {"labels": {"team": "ai"}}}, "nodepool.train"),
        ({"old": None}, "nodepool.old"),  # deleted by someone else
        ({"fresh": INFER_LIVE}, "nodepool.fresh"),  # created by someone else
        ({"train": TRAIN_LIVE | {"count": 3}, "old": {"count": 9}}, "nodepool.old, nodepool.train"),
    ],
)
def test_live_change_of_a_touched_node_pool_is_refused(
    plan_file: Path, live: dict[str, Any], moved: str
) -> None:
    with pytest.raises(NpError) as err:
        check_still_valid(load_plan(plan_file, {}), _state(), _world(**live))
    assert str(err.value) == (
        f"the saved plan is out of date: {moved} changed live since the plan was made; "
        "run np plan again"
    )


def test_live_change_of_an_untouched_node_pool_is_ignored(plan_file: Path) -> None:
    check_still_valid(load_plan(plan_file, {}), _state(), _world(infer=INFER_LIVE | {"count": 7}))


def test_plan_made_without_state_matches_a_state_that_still_does_not_exist(
    tmp_path: Path,
) -> None:
    path = tmp_path / "p.plan"
    save_plan(
        path,
        make_plan(_config(), State("first", 0, {}), _world()),
        RECIPE,
        environ={},
        config_digest="d",
        targets=TARGETS,
    )
    saved = load_plan(path, {})
    check_still_valid(saved, State("drawn-again", 0, {}), _world())
    with pytest.raises(NpError, match=r"serial 0 → 1\)"):
        check_still_valid(saved, State("someone-else", 1, {}), _world())


def test_config_digest_covers_names_and_content(tmp_path: Path) -> None:
    a, b = tmp_path / "a.hcl", tmp_path / "b.yaml"
    a.write_text("x")
    b.write_text("y")
    first = config_digest([a, b])
    assert config_digest([b, a]) == first
    b.write_text("y2")
    assert config_digest([a, b]) != first
    renamed = tmp_path / "c.yaml"
    renamed.write_text("y")
    assert config_digest([a, renamed]) != first


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (
            PlanTarget(endpoint="sim://worldB.json", project_id="p1", workspace="default"),
            "the saved plan was made for endpoint sim://world.json, but this run uses endpoint "
            "sim://worldB.json; nothing was sent. Run np plan again for this target",
        ),
        (
            PlanTarget(endpoint="sim://world.json", project_id="p2", workspace="default"),
            "the saved plan was made for project id p1, but this run uses project id p2; "
            "nothing was sent. Run np plan again for this target",
        ),
        (
            PlanTarget(endpoint="sim://world.json", project_id="p1", workspace="staging"),
            "the saved plan was made for workspace default, but this run uses workspace "
            "staging; nothing was sent. Run np plan again for this target",
        ),
    ],
)
def test_a_plan_for_another_target_is_refused(
    plan_file: Path, other: PlanTarget, message: str
) -> None:
    saved = load_plan(plan_file, {})
    check_target(saved, TARGETS)
    with pytest.raises(NpError) as err:
        check_target(saved, {"modelarts": other})
    assert str(err.value) == message


def test_the_file_reads_as_written_stamped_in_utc(tmp_path: Path) -> None:
    """A reviewer may open the file: indented JSON, text as the configuration wrote it."""
    cfg = Configuration(
        Provider(),
        (DesiredNodePool("nodepool.train", "pool-prod", "train", {"labels": {"team": "機械"}}),),
    )
    path = tmp_path / "p.plan"
    save_plan(
        path,
        make_plan(cfg, _state(), _world()),
        RECIPE,
        environ={},
        config_digest="d",
        targets=TARGETS,
    )
    text = path.read_text()
    assert '\n  "format_version": "4",\n' in text
    assert '"team": "機械"' in text
    saved = load_plan(path, {})
    assert saved.created_at == json.loads(text)["created_at"]
    assert saved.created_at.endswith("+00:00")
    # The checksum is the SHA-256 of the content as compact, sorted, UTF-8 JSON: a file
    # rewritten by that rule (another tool, another np) still loads.
    _rewrite(path, lambda doc: None, fix_checksum=True)
    assert load_plan(path, {}).plan == saved.plan


def test_a_plan_file_that_cannot_be_written_names_the_reason(tmp_path: Path, plan: Plan) -> None:
    path = tmp_path / "missing-dir" / "p.plan"
    with pytest.raises(NpError) as err:
        save_plan(path, plan, RECIPE, environ={}, config_digest="d", targets=TARGETS)
    assert str(err.value) == f"cannot write plan file {path}: No such file or directory"


def test_an_update_that_records_nothing_is_still_checked_against_live(tmp_path: Path) -> None:
    """Correcting drift sends a request but leaves last-applied as it was: still touched."""
    st = State(
        "lin-1",
        3,
        {
            "nodepool.train": ResourceState(
                "pool-prod", "train", {"labels": {"team": "ml"}}, TRAIN_LIVE, "2026-01-01T00:00:00Z"
            )
        },
    )
    cfg = Configuration(
        Provider(),
        (DesiredNodePool("nodepool.train", "pool-prod", "train", {"labels": {"team": "ml"}}),),
    )
    drifted = _world(train=TRAIN_LIVE | {"labels": {"team": "ai"}})
    plan = make_plan(cfg, st, drifted)
    [change] = [r for r in plan.resources if r.address == "nodepool.train"]
    assert (change.action, change.records_state) == ("update", False)
    path = tmp_path / "p.plan"
    save_plan(path, plan, RECIPE, environ={}, config_digest="d", targets=TARGETS)
    saved = load_plan(path, {})
    check_still_valid(saved, st, drifted)
    with pytest.raises(NpError, match=r"nodepool\.train changed live since the plan was made"):
        check_still_valid(saved, st, _world(train=TRAIN_LIVE | {"labels": {"team": "x"}}))


# --- the plan made again must equal the saved one ----------------------------------------------


def test_the_same_plan_made_again_passes(plan: Plan, plan_file: Path) -> None:
    check_same(load_plan(plan_file, {}).plan, make_plan(_config(), _state(), _world()))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda doc: doc["plan"]["resources"][0].update(action="delete", body=None),
            'nodepool.fresh: action: the saved plan has "delete", np plans "create"',
        ),
        (
            lambda doc: doc["plan"]["resources"][3]["body"]["spec"]["resources"].update(
                evilField=1
            ),
            "nodepool.train: request body: the saved plan has {",
        ),
        (
            lambda doc: doc["plan"]["resources"][0]["body"]["metadata"].update(name="Evil_Name!"),
            "nodepool.fresh: request body: the saved plan has",
        ),
        (
            lambda doc: doc["plan"]["resources"].pop(2),
            "nodepool.old: the saved plan would leave it alone, np plans to delete it",
        ),
    ],
    ids=["delete-instead", "extra-field", "create-renamed", "dropped-change"],
)
def test_a_forged_plan_is_refused_naming_the_first_difference(
    plan_file: Path, edit: Any, message: str
) -> None:
    """Anyone who can write the file can recompute its checksum: what it says is checked
    against what np plans itself."""
    _rewrite(plan_file, edit, fix_checksum=True)
    saved = load_plan(plan_file, {})
    with pytest.raises(NpError) as err:
        check_same(saved.plan, make_plan(_config(), _state(), _world()))
    assert message in str(err.value)
    assert str(err.value).startswith("the saved plan is not what np plans from this configuration")
    assert str(err.value).endswith("nothing was sent. Run np plan -out again and review it")


def test_with_a_plan_key_the_file_is_signed_and_checked(tmp_path: Path, plan: Plan) -> None:
    path = tmp_path / "p.plan"
    key = {"NP_PLAN_KEY": "k-1"}
    save_plan(path, plan, RECIPE, environ=key, config_digest="d", targets=TARGETS)
    assert load_plan(path, key).plan == plan
    assert load_plan(path, {}).plan == plan  # no key here: the re-plan check still holds
    with pytest.raises(NpError, match="has a signature that does not match"):
        load_plan(path, {"NP_PLAN_KEY": "another"})
    _rewrite(
        path, lambda doc: doc.update(created_at="2030-01-01T00:00:00+00:00"), fix_checksum=True
    )
    with pytest.raises(NpError, match="has a signature that does not match"):
        load_plan(path, key)
    unsigned = tmp_path / "u.plan"
    save_plan(unsigned, plan, RECIPE, environ={}, config_digest="d", targets=TARGETS)
    with pytest.raises(NpError) as err:
        load_plan(unsigned, key)
    assert str(err.value) == (
        f"plan file {unsigned} is not signed with the key in NP_PLAN_KEY; nothing was sent. "
        "Make the plan with the same NP_PLAN_KEY set"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "not valid JSON: nested too deeply"),
        ('{"checksum": "x", "a": "\\ud800"}', "was modified after it was written"),
    ],
)
def test_hostile_plan_files_are_one_message(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "p.plan"
    path.write_text(content)
    with pytest.raises(NpError, match=message):
        load_plan(path, {})


def test_a_plan_file_that_is_a_symlink_is_not_read(tmp_path: Path, plan_file: Path) -> None:
    link = tmp_path / "link.plan"
    link.symlink_to(plan_file)
    with pytest.raises(NpError, match="symbolic link"):
        load_plan(link, {})
