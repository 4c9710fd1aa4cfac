"""State file: shape, serial/lineage rules, backup, 0600 modes and crash safety."""

from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler import fsutil
from reconciler.errors import StateError
from reconciler.state import Journal, ResourceState, State, StateFile

TRAIN = ResourceState(
    pool="pool-prod",
    name="train",
    applied={"flavor": "modelarts.vm.gpu.t4u8", "count": 2, "labels": {"team": "ml"}},
    live={"flavor": "modelarts.vm.gpu.t4u8", "count": 2, "maxCount": 2, "labels": {"team": "ml"}},
    updated_at="2026-11-27T04:31:00Z",
)
INFER = ResourceState(
    pool="pool-prod",
    name="infer",
    applied={"count": 1},
    live={"count": 1},
    updated_at="2026-11-27T04:32:00Z",
    prevent_destroy=True,
)


pytestmark = pytest.mark.usefixtures("umask_022")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "np.state.json"


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def with_resources(state: State, **resources: ResourceState) -> State:
    return State(state.lineage, state.serial, {f"nodepool.{k}": v for k, v in resources.items()})


def test_missing_file_is_a_new_state_that_is_not_written(path: Path) -> None:
    store = StateFile(path)
    state = store.read()
    assert state.serial == 0 and state.resources == {}
    assert uuid.UUID(state.lineage).version == 4
    assert store.write(state) is state
    assert not path.parent.exists()


def test_first_write_creates_dir_and_file_with_exact_content(path: Path) -> None:
    store = StateFile(path)
    state = store.read()
    written = store.write(with_resources(state, train=TRAIN, infer=INFER))
    assert written.serial == 1 and written.lineage == state.lineage
    text = path.read_text()
    assert json.loads(text) == {
        "version": 1,
        "lineage": state.lineage,
        "serial": 1,
        "resources": {
            "nodepool.infer": {
                "pool": "pool-prod",
                "name": "infer",
                "applied": {"count": 1},
                "live": {"count": 1},
                "updated_at": "2026-11-27T04:32:00Z",
                "lifecycle": {"prevent_destroy": True},
            },
            "nodepool.train": {
                "pool": "pool-prod",
                "name": "train",
                "applied": TRAIN.applied,
                "live": TRAIN.live,
                "updated_at": "2026-11-27T04:31:00Z",
            },
        },
    }
    assert list(json.loads(text)["resources"]) == ["nodepool.infer", "nodepool.train"]
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert not StateFile(path).backup_path.exists()  # nothing to back up yet


def test_round_trip_through_a_new_store(path: Path) -> None:
    store = StateFile(path)
    written = store.write(with_resources(store.read(), train=TRAIN, infer=INFER))
    assert StateFile(path).read() == written


def test_serial_grows_only_when_content_changes(path: Path) -> None:
    store = StateFile(path)
    first = store.write(with_resources(store.read(), train=TRAIN))
    before = path.read_bytes()
    again = store.write(with_resources(first, train=TRAIN))
    assert again.serial == 1
    assert path.read_bytes() == before
    assert not store.backup_path.exists()

    second = store.write(with_resources(first, train=TRAIN, infer=INFER))
    assert (second.serial, second.lineage) == (2, first.lineage)
    reread = StateFile(path).read()
    assert (reread.serial, reread.lineage) == (2, first.lineage)


def test_serial_never_decreases_when_given_an_older_state(path: Path) -> None:
    store = StateFile(path)
    old = store.write(with_resources(store.read(), train=TRAIN))
    store.write(with_resources(old, infer=INFER))
    assert store.write(with_resources(old, train=TRAIN)).serial == 3


def test_backup_holds_the_previous_version_with_mode_0600(path: Path) -> None:
    store = StateFile(path)
    store.write(with_resources(store.read(), train=TRAIN))
    previous = path.read_bytes()
    store.write(with_resources(store.read(), infer=INFER))
    assert store.backup_path == path.parent / "np.state.json.backup"
    assert store.backup_path.read_bytes() == previous
    assert mode(store.backup_path) == 0o600
    assert mode(path) == 0o600


def test_write_without_read_continues_the_file_on_disk(path: Path) -> None:
    store = StateFile(path)
    first = store.write(with_resources(store.read(), train=TRAIN))
    assert StateFile(path).write(with_resources(first, infer=INFER)).serial == 2


def test_other_lineage_is_refused(path: Path) -> None:
    store = StateFile(path)
    first = store.write(with_resources(store.read(), train=TRAIN))
    stranger = with_resources(State.new(), infer=INFER)
    with pytest.raises(StateError) as err:
        store.write(stranger)
    assert str(err.value) == (
        f"{path}: refusing to replace state of lineage {first.lineage} "
        f"with a state of lineage {stranger.lineage}"
    )


def test_failed_replace_keeps_old_file_and_leaves_no_temp(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StateFile(path)
    store.write(with_resources(store.read(), train=TRAIN))
    before = path.read_bytes()
    real_replace = os.replace

    def crash_on_state(src: Any, dst: Any) -> None:
        if Path(dst) == path:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_state)
    with pytest.raises(StateError) as err:
        store.write(with_resources(store.read(), infer=INFER))
    assert str(err.value) == f"cannot write state {path}: No space left on device"
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "np.state.json",
        "np.state.json.backup",
    ]


def test_failed_data_write_leaves_no_temp(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = StateFile(path)
    store.write(with_resources(store.read(), train=TRAIN))
    before = path.read_bytes()

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(StateError):
        store.write(with_resources(store.read(), infer=INFER))
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["np.state.json"]


def test_atomic_write_replaces_with_mode_0600(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    target.write_text("old")
    target.chmod(0o644)
    fsutil.atomic_write(target, "new")
    assert target.read_text() == "new"
    assert mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_write_new_is_exclusive(tmp_path: Path) -> None:
    target = tmp_path / "x.lock"
    fsutil.write_new(target, b"one")
    with pytest.raises(FileExistsError):
        fsutil.write_new(target, b"two")
    assert target.read_bytes() == b"one"
    assert mode(target) == 0o600


def test_unreadable_state_names_the_path(path: Path) -> None:
    path.mkdir(parents=True)  # a directory where the file should be: unreadable even for root
    with pytest.raises(StateError) as err:
        StateFile(path).read()
    assert str(err.value) == f"cannot read state {path}: Is a directory"


def test_bad_json_names_the_path(path: Path) -> None:
    path.parent.mkdir()
    path.write_text('{"version": 1,')
    with pytest.raises(StateError) as err:
        StateFile(path).read()
    assert str(err.value) == (
        f"{path}: not valid JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 15 (char 14)"
    )


def valid_doc() -> dict[str, Any]:
    return {
        "version": 1,
        "lineage": "0b8f7d0e-2c1e-4e57-9d57-1f1f3f9f6c11",
        "serial": 3,
        "resources": {"nodepool.train": TRAIN.to_json()},
    }


def broken(edit: Any) -> dict[str, Any]:
    doc = valid_doc()
    edit(doc)
    return doc


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ([], "expected an object, got an array"),
        (
            broken(lambda d: d.update(version=2)),
            "unsupported state version 2 (this np reads version 1)",
        ),
        (
            broken(lambda d: d.update(version="1")),
            'unsupported state version "1" (this np reads version 1)',
        ),
        (broken(lambda d: d.pop("version")), 'missing key "version"'),
        (broken(lambda d: d.pop("lineage")), 'missing key "lineage"'),
        (broken(lambda d: d.update(extra=1)), 'unknown key "extra"'),
        (broken(lambda d: d.update(serial="3")), "serial: expected an integer, got a string"),
        (broken(lambda d: d.update(serial=True)), "serial: expected an integer, got a boolean"),
        (broken(lambda d: d.update(serial=-1)), "serial: must be >= 0, got -1"),
        (broken(lambda d: d.update(lineage="")), "lineage: must not be empty"),
        (broken(lambda d: d.update(resources=[])), "resources: expected an object, got an array"),
        (
            broken(lambda d: d["resources"]["nodepool.train"].pop("pool")),
            'resources["nodepool.train"]: missing key "pool"',
        ),
        (
            broken(lambda d: d["resources"]["nodepool.train"].update(applied=None)),
            'resources["nodepool.train"].applied: expected an object, got null',
        ),
        (
            broken(lambda d: d["resources"]["nodepool.train"].update(count=2)),
            'resources["nodepool.train"]: unknown key "count"',
        ),
        (
            broken(
                lambda d: d["resources"]["nodepool.train"].update(
                    lifecycle={"prevent_destroy": "yes"}
                )
            ),
            'resources["nodepool.train"].lifecycle.prevent_destroy: '
            "expected a boolean, got a string",
        ),
    ],
)
def test_bad_shape_names_the_path_and_the_problem(path: Path, doc: Any, problem: str) -> None:
    path.parent.mkdir()
    path.write_text(json.dumps(doc))
    with pytest.raises(StateError) as err:
        StateFile(path).read()
    assert str(err.value) == f"{path}: {problem}"


def test_lifecycle_without_prevent_destroy_reads_as_false() -> None:
    doc = valid_doc()
    doc["resources"]["nodepool.train"]["lifecycle"] = {}
    assert State.from_json(doc, "s.json").resources["nodepool.train"] == TRAIN


json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
resource_states = st.builds(
    ResourceState,
    pool=st.text(max_size=8),
    name=st.text(max_size=8),
    applied=st.dictionaries(st.text(max_size=5), json_value, max_size=3),
    live=st.dictionaries(st.text(max_size=5), json_value, max_size=3),
    updated_at=st.just("2026-11-27T04:31:00Z"),
    prevent_destroy=st.booleans(),
)


@given(
    serial=st.integers(min_value=0, max_value=2**40),
    resources=st.dictionaries(st.text(min_size=1, max_size=12), resource_states, max_size=4),
)
def test_to_json_from_json_round_trip(serial: int, resources: dict[str, ResourceState]) -> None:
    state = State("lineage-x", serial, resources)
    assert State.from_json(json.loads(json.dumps(state.to_json())), "s.json") == state


def test_journal_writes_what_is_staged_at_each_flush(path: Path) -> None:
    store = StateFile(path)
    journal = Journal(store, store.read())

    journal.stage({"nodepool.train": TRAIN})
    assert not path.exists()  # staged only
    journal.flush()
    on_disk = StateFile(path).read()
    assert (on_disk.serial, list(on_disk.resources)) == (1, ["nodepool.train"])

    journal.stage({"nodepool.infer": INFER})
    journal.flush()
    on_disk = StateFile(path).read()
    assert (on_disk.serial, sorted(on_disk.resources)) == (2, ["nodepool.infer", "nodepool.train"])

    journal.stage({"nodepool.train": None})
    journal.flush()
    on_disk = StateFile(path).read()
    assert (on_disk.serial, list(on_disk.resources)) == (3, ["nodepool.infer"])
    assert journal.state == on_disk


def test_journal_unchanged_or_unknown_address_does_not_write(path: Path) -> None:
    store = StateFile(path)
    journal = Journal(store, store.read())
    for address, resource in (("nodepool.train", TRAIN), ("nodepool.train", TRAIN)):
        journal.stage({address: resource})
        journal.flush()
    journal.stage({"nodepool.nope": None})
    journal.flush()
    assert journal.state.serial == 1
    assert not store.backup_path.exists()
