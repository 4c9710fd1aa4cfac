"""The local state file: shape, serial/lineage rules, backup, 0600 modes and crash safety;
the journal's replay and checkpoints are in test_state_journal.py."""

from __future__ import annotations

import json
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import local_backend

from reconciler import fsutil
from reconciler.errors import StateError
from reconciler.identifiers import address
from reconciler.state.document import ResourceState, State
from reconciler.state.local import LocalStore
from reconciler.state.manager import StateManager
from reconciler.state.protocols import NOTHING_STORED, StateConflict, Stored, Version

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


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "np.state.json"


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def with_resources(state: State, serial: int, **resources: ResourceState) -> State:
    return State(state.lineage, serial, {f"nodepool.{k}": v for k, v in resources.items()})


def manager(path: Path) -> StateManager:
    return StateManager(local_backend(path))


def write(store: LocalStore, state: State) -> Version:
    """Write ``state`` over whatever the store holds now (a compare-and-swap that cannot lose)."""
    return store.write(state, LocalStore(store.path).read().version)


def test_missing_file_is_a_new_state_that_is_not_written(path: Path) -> None:
    assert LocalStore(path).read() == Stored(None, NOTHING_STORED)
    state = manager(path).load()
    assert state.serial == 0 and state.resources == {}
    assert uuid.UUID(state.lineage).version == 4
    with manager(path).locked("plan") as session:
        assert session.state.resources == {}
    assert sorted(p.name for p in path.parent.iterdir()) == []  # only the lock came and went


def test_first_write_creates_dir_and_file_with_exact_content(path: Path) -> None:
    store = LocalStore(path)
    state = State.new()
    written = with_resources(state, 1, train=TRAIN, infer=INFER)
    assert store.write(written, NOTHING_STORED) == Version(state.lineage, 1)
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
    assert not store.backup_path.exists()  # nothing to back up yet


def test_round_trip_through_a_new_store(path: Path) -> None:
    written = with_resources(State.new(), 1, train=TRAIN, infer=INFER)
    LocalStore(path).write(written, NOTHING_STORED)
    assert LocalStore(path).read() == Stored(written, Version(written.lineage, 1))


def test_a_state_file_saved_with_a_byte_order_mark_is_read(path: Path) -> None:
    written = with_resources(State.new(), 1, train=TRAIN)
    LocalStore(path).write(written, NOTHING_STORED)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as some editors save it
    assert LocalStore(path).read() == Stored(written, Version(written.lineage, 1))


def test_a_state_file_that_is_not_utf8_names_the_path(path: Path) -> None:
    path.parent.mkdir()
    path.write_bytes(b'{"version": 1, "lineage": "\xff"}')
    with pytest.raises(StateError) as err:
        LocalStore(path).read()
    assert str(err.value).startswith(f"{path}: not valid JSON: 'utf-8' codec can't decode")


def test_serial_grows_only_when_content_changes(path: Path) -> None:
    with manager(path).locked("apply") as session:
        session.record({"nodepool.train": TRAIN})
    first = manager(path).load()
    assert first.serial == 1
    before = path.read_bytes()
    with manager(path).locked("apply") as session:
        session.record({"nodepool.train": TRAIN})
        assert session.state.serial == 1
    assert path.read_bytes() == before
    assert not LocalStore(path).backup_path.exists()

    with manager(path).locked("apply") as session:
        session.record({"nodepool.infer": INFER})
    reread = LocalStore(path).read().state
    assert reread is not None
    assert (reread.serial, reread.lineage) == (2, first.lineage)


def test_a_write_against_a_version_that_moved_on_is_refused(path: Path) -> None:
    """Serial never goes back: a writer holding an older version loses, and changes nothing."""
    store = LocalStore(path)
    old = with_resources(State.new(), 1, train=TRAIN)
    first = store.write(old, NOTHING_STORED)
    store.write(with_resources(old, 2, infer=INFER), first)
    before = path.read_bytes()
    with pytest.raises(StateConflict) as err:
        store.write(with_resources(old, 2, train=TRAIN), first)
    assert str(err.value) == (
        f"{path} changed while np was using it (lineage {old.lineage} serial 1 → lineage "
        f"{old.lineage} serial 2): another run wrote it; nothing more was written"
    )
    assert path.read_bytes() == before
    with pytest.raises(StateConflict):
        LocalStore(path).write(old, NOTHING_STORED)  # "nothing stored" is no longer true


def test_a_write_notices_a_file_replaced_behind_its_back(path: Path) -> None:
    store = LocalStore(path)
    state = with_resources(State.new(), 1, train=TRAIN)
    version = store.write(state, NOTHING_STORED)
    LocalStore(path).write(with_resources(state, 5, infer=INFER), version)  # another run
    with pytest.raises(StateConflict):
        store.write(with_resources(state, 2, train=TRAIN), version)


def test_backup_holds_the_previous_version_with_mode_0600(path: Path) -> None:
    store = LocalStore(path)
    state = with_resources(State.new(), 1, train=TRAIN)
    version = store.write(state, NOTHING_STORED)
    previous = path.read_bytes()
    assert store.read().version == version  # a new run reads it
    store.write(with_resources(state, 2, infer=INFER), version)
    store.write(with_resources(state, 3, train=TRAIN), Version(state.lineage, 2))
    assert store.backup_path.read_bytes() == previous  # the state before this run, not serial 2
    assert store.backup_path == path.parent / "np.state.json.backup"
    assert store.backup_path.read_bytes() == previous
    assert mode(store.backup_path) == 0o600
    assert mode(path) == 0o600


def test_write_without_read_continues_the_file_on_disk(path: Path) -> None:
    first = with_resources(State.new(), 1, train=TRAIN)
    LocalStore(path).write(first, NOTHING_STORED)
    assert LocalStore(path).write(with_resources(first, 2, infer=INFER), Version(first.lineage, 1))
    assert manager(path).load().serial == 2


def test_other_lineage_is_refused(path: Path) -> None:
    first = with_resources(State.new(), 1, train=TRAIN)
    LocalStore(path).write(first, NOTHING_STORED)
    stranger = with_resources(State.new(), 7, infer=INFER)
    with pytest.raises(StateError) as err:
        manager(path).push(stranger, force=False)
    assert str(err.value) == (
        f"{path}: refusing to replace state of lineage {first.lineage} "
        f"with a state of lineage {stranger.lineage} (it is another state; --force replaces "
        "it anyway)"
    )


def test_failed_replace_keeps_old_file_and_leaves_no_temp(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = with_resources(State.new(), 1, train=TRAIN)
    version = LocalStore(path).write(state, NOTHING_STORED)
    store = LocalStore(path)
    store.read()
    before = path.read_bytes()
    real_replace = os.replace

    def crash_on_state(src: Any, dst: Any) -> None:
        if Path(dst) == path:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_state)
    with pytest.raises(StateError) as err:
        store.write(with_resources(state, 2, infer=INFER), version)
    assert str(err.value) == f"cannot write state {path}: No space left on device"
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "np.state.json",
        "np.state.json.backup",
    ]


def test_failed_data_write_leaves_no_temp(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(path)
    state = with_resources(State.new(), 1, train=TRAIN)
    version = store.write(state, NOTHING_STORED)
    before = path.read_bytes()

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(StateError):
        store.write(with_resources(state, 2, infer=INFER), version)
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
        LocalStore(path).read()
    assert str(err.value) == f"cannot read state {path}: Is a directory"


def test_bad_json_names_the_path(path: Path) -> None:
    path.parent.mkdir()
    path.write_text('{"version": 1,')
    with pytest.raises(StateError) as err:
        LocalStore(path).read()
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
        LocalStore(path).read()
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
api_names = st.from_regex(r"[A-Za-z0-9._-]{1,8}", fullmatch=True).filter(
    lambda n: n not in (".", "..")
)
addresses = st.builds(
    address,
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True),
    st.none() | st.text(max_size=6),
)
resource_states = st.builds(
    ResourceState,
    pool=api_names,
    name=api_names,
    applied=st.dictionaries(st.text(max_size=5), json_value, max_size=3),
    live=st.dictionaries(st.text(max_size=5), json_value, max_size=3),
    updated_at=st.just("2026-11-27T04:31:00Z"),
    prevent_destroy=st.booleans(),
    provider=st.sampled_from(["modelarts", "modelarts.hk", 'modelarts.region["cn-north-4"]']),
)


@given(
    serial=st.integers(min_value=0, max_value=2**40),
    resources=st.dictionaries(addresses, resource_states, max_size=4),
)
def test_to_json_from_json_round_trip(serial: int, resources: dict[str, ResourceState]) -> None:
    state = State("lineage-x", serial, resources)
    assert State.from_json(json.loads(json.dumps(state.to_json())), "s.json") == state


def test_journal_writes_what_is_staged_at_each_flush(path: Path) -> None:
    with manager(path).locked("apply") as session:
        session.stage({"nodepool.train": TRAIN})
        assert sorted(p.name for p in path.parent.iterdir()) == ["np.state.json.lock"]  # staged
        session.flush()
        on_disk = manager(path).load()
        assert (on_disk.serial, list(on_disk.resources)) == (1, ["nodepool.train"])

        session.stage({"nodepool.infer": INFER})
        session.flush()
        on_disk = manager(path).load()
        assert (on_disk.serial, sorted(on_disk.resources)) == (
            2,
            ["nodepool.infer", "nodepool.train"],
        )

        session.stage({"nodepool.train": None})
        session.flush()
        on_disk = manager(path).load()
        assert (on_disk.serial, list(on_disk.resources)) == (3, ["nodepool.infer"])
        assert session.state == on_disk


def test_journal_unchanged_or_unknown_address_does_not_write(path: Path) -> None:
    with manager(path).locked("apply") as session:
        for address, resource in (("nodepool.train", TRAIN), ("nodepool.train", TRAIN)):
            session.stage({address: resource})
            session.flush()
        session.stage({"nodepool.nope": None})
        session.flush()
        assert session.state.serial == 1
    assert manager(path).load().serial == 1
    assert not LocalStore(path).backup_path.exists()


def test_a_state_without_its_file_but_with_a_backup_is_not_a_fresh_start(path: Path) -> None:
    state = with_resources(State.new(), 1, train=TRAIN)
    version = LocalStore(path).write(state, NOTHING_STORED)
    LocalStore(path).write(with_resources(state, 2, infer=INFER), version)  # a later run
    path.unlink()
    backup = f"{path}.backup"
    message = (
        f"{path} is missing, but its backup {backup} is there: if the state was removed by "
        f"mistake, restore it with `cp {backup} {path}`; to start from an empty state, delete "
        "the backup"
    )
    for attempt in (LocalStore(path).read, manager(path).load):
        with pytest.raises(StateError) as err:
            attempt()
        assert str(err.value) == message
