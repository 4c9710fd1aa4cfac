"""The journal beside the local state: each recorded change is one appended record (the state
file is not rewritten per change); readers replay it, lock holders fold it into the state; a
torn last batch is ignored, serial never goes back, and a lost state is never a fresh start."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import local_backend

from reconciler.errors import StateError
from reconciler.state import manager as manager_module
from reconciler.state.document import ResourceState, State
from reconciler.state.local import LocalJournal, LocalStore
from reconciler.state.manager import StateManager
from reconciler.state.protocols import JournalRecord, StateConflict, Version


def resource(count: int, name: str = "train") -> ResourceState:
    return ResourceState(
        "pool-prod", name, {"count": count}, {"count": count}, f"2026-11-27T04:31:{count:02d}Z"
    )


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "np.state.json"


def journal_of(path: Path) -> Path:
    return Path(f"{path}.journal")


def manager(path: Path) -> StateManager:
    return StateManager(local_backend(path))


def lines(path: Path) -> list[Any]:
    return [json.loads(line) for line in journal_of(path).read_text().splitlines()]


def crashed_run(path: Path, lineage: str, base: int, *batches: dict[str, Any]) -> None:
    """What a run killed before its next checkpoint leaves: its batches in the journal."""
    journal = LocalJournal(journal_of(path))
    for batch in batches:
        journal.append([JournalRecord(lineage, base, a, r) for a, r in batch.items()])
    journal.close()


def test_each_batch_is_one_line_and_the_state_file_is_not_rewritten(path: Path) -> None:
    with manager(path).locked("apply") as session:
        session.record({"nodepool.a": resource(1, "a")})
        lineage = session.state.lineage
    before = path.read_bytes()

    with manager(path).locked("apply") as session:
        for i in range(1, 6):
            size = journal_of(path).stat().st_size if journal_of(path).exists() else 0
            session.record({f"nodepool.n{i}": resource(i, f"n{i}")})
            record = JournalRecord(lineage, 1, f"nodepool.n{i}", resource(i, f"n{i}"))
            line = json.dumps([record.to_json()], separators=(",", ":")) + "\n"
            # O(1): the journal grows by exactly this change; the state file is untouched
            assert journal_of(path).stat().st_size == size + len(line.encode())
            assert path.read_bytes() == before
        session.record({"nodepool.a": None, "nodepool.b": resource(1, "b")})  # a move: one line
        assert [len(batch) for batch in lines(path)] == [1, 1, 1, 1, 1, 2]
        assert lines(path)[-1] == [
            JournalRecord(lineage, 1, "nodepool.a", None).to_json(),
            JournalRecord(lineage, 1, "nodepool.b", resource(1, "b")).to_json(),
        ]
        assert stat.S_IMODE(journal_of(path).stat().st_mode) == 0o600
        replayed = manager(path).load()  # a reader sees every change, nothing written
        assert replayed.serial == 1 + 7
        assert sorted(replayed.resources) == [
            "nodepool.b",
            *(f"nodepool.n{i}" for i in range(1, 6)),
        ]
        assert path.read_bytes() == before

    # leaving the session folds the journal into a checkpoint of exactly that serial
    assert not journal_of(path).exists()
    assert LocalStore(path).read().state == replayed
    assert Path(f"{path}.backup").read_bytes() == before


def test_a_torn_last_batch_is_ignored_and_cut_before_the_next_one(path: Path) -> None:
    crashed_run(path, "L", 0, {"nodepool.a": resource(1, "a")}, {"nodepool.b": resource(1, "b")})
    saved = journal_of(path).read_bytes()
    torn = json.dumps([JournalRecord("L", 0, "nodepool.c", resource(1, "c")).to_json()])
    journal_of(path).write_bytes(saved + torn[: len(torn) // 2].encode())  # killed mid-write

    state = manager(path).load()
    assert (state.lineage, state.serial) == ("L", 2)
    assert sorted(state.resources) == ["nodepool.a", "nodepool.b"]

    # a complete last line that does not parse (a power cut) is torn too
    journal_of(path).write_bytes(saved + b"\x00\x00\x00\n")
    assert manager(path).load().serial == 2

    # the next writer cuts a torn tail first, so that its own batch is a line of its own
    journal_of(path).write_bytes(saved + torn[:10].encode())
    crashed_run(path, "L", 0, {"nodepool.d": resource(1, "d")})
    addresses = [r.address for r in LocalJournal(journal_of(path)).read()]
    assert addresses == ["nodepool.a", "nodepool.b", "nodepool.d"]


def test_damage_before_the_last_line_is_an_error_naming_the_line(path: Path) -> None:
    with manager(path).locked("apply") as session:
        session.record({"nodepool.a": resource(1, "a")})
        session.record({"nodepool.b": resource(1, "b")})
        saved = journal_of(path).read_bytes()
    first, second = saved.splitlines(keepends=True)
    journal_of(path).write_bytes(b"{oops\n" + second)
    with pytest.raises(StateError) as err:
        manager(path).load()
    assert str(err.value).startswith(f"{journal_of(path)}:1: not valid JSON: ")
    journal_of(path).write_bytes(first + b'[{"lineage": "x"}]\n' + second)
    with pytest.raises(StateError) as err:
        manager(path).load()
    assert str(err.value) == f'{journal_of(path)}:2: missing key "base_serial"'


def test_records_already_folded_are_skipped_then_cleared(path: Path) -> None:
    """A crash between writing a checkpoint and clearing the journal: replaying the old
    records again must not count them twice."""
    with manager(path).locked("apply") as session:
        session.record({"nodepool.a": resource(1, "a")})
        session.record({"nodepool.a": resource(2, "a")})
        leftover = journal_of(path).read_bytes()
    assert manager(path).load().serial == 2
    journal_of(path).write_bytes(leftover)  # the clear never reached the disk
    state = manager(path).load()
    assert (state.serial, state.resources["nodepool.a"]) == (2, resource(2, "a"))
    before = path.read_bytes()
    with manager(path).locked("plan") as session:
        assert session.state == state
    assert not journal_of(path).exists()  # the lock holder dropped them
    assert path.read_bytes() == before  # and wrote nothing: there was nothing new


def test_a_lock_holder_folds_a_leftover_journal_first(path: Path) -> None:
    with manager(path).locked("apply") as session:
        session.record({"nodepool.a": resource(1, "a")})
        lineage = session.state.lineage
    crashed_run(path, lineage, 1, {"nodepool.b": resource(1, "b")})
    assert LocalStore(path).read().version.serial == 1
    assert manager(path).load().serial == 2  # readers replay in memory ...
    assert journal_of(path).exists()  # ... and write nothing

    with manager(path).locked("plan") as session:
        # plans and saved-plan checks see the serial of a checkpointed state
        assert session.state.serial == 2
        assert LocalStore(path).read().version.serial == 2
        assert not journal_of(path).exists()


def test_records_before_the_first_checkpoint_keep_their_lineage(path: Path) -> None:
    crashed_run(path, "L", 0, {"nodepool.a": resource(1, "a")})  # killed before a checkpoint
    assert not path.exists()
    state = manager(path).load()
    assert (state.lineage, state.serial, list(state.resources)) == ("L", 1, ["nodepool.a"])
    with manager(path).locked("plan"):
        pass
    assert LocalStore(path).read().version == Version("L", 1)


def test_a_journal_whose_state_is_gone_is_not_a_fresh_start(path: Path) -> None:
    with manager(path).locked("apply") as session:
        session.record({"nodepool.a": resource(1, "a")})
        lineage = session.state.lineage
    crashed_run(path, lineage, 1, {"nodepool.b": resource(1, "b")})
    path.unlink()  # the first checkpoint of a state has no backup
    journal = journal_of(path)
    with pytest.raises(StateError) as err:
        manager(path).load()
    assert str(err.value) == (
        f"{path} is missing, but its journal {journal} holds 1 change(s) recorded on top of "
        "serial 1: restore the state (from its backup, version control or `np state push "
        f"FILE`), or delete {journal} to start from an empty state"
    )
    with pytest.raises(StateError), manager(path).locked("plan"):
        pass
    assert journal.exists()


def test_checkpoints_come_every_n_records_and_every_few_seconds(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manager_module, "CHECKPOINT_RECORDS", 3)
    clock = [1000.0]
    monkeypatch.setattr(manager_module.time, "monotonic", lambda: clock[0])
    with manager(path).locked("apply") as session:
        session.record({"nodepool.a": resource(1, "a")})
        session.record({"nodepool.b": resource(1, "b")})
        assert not path.exists()
        session.record({"nodepool.c": resource(1, "c")})
        assert LocalStore(path).read().version.serial == 3  # the third record folded them
        assert not journal_of(path).exists()
        session.record({"nodepool.d": resource(1, "d")})
        assert LocalStore(path).read().version.serial == 3
        clock[0] += manager_module.CHECKPOINT_SECONDS
        session.record({"nodepool.e": resource(1, "e")})
        assert LocalStore(path).read().version.serial == 5  # time folded the next one
        session.record({"nodepool.f": resource(1, "f")})
        assert lines(path) == [
            [JournalRecord(session.state.lineage, 5, "nodepool.f", resource(1, "f")).to_json()]
        ]
    assert LocalStore(path).read().version.serial == 6


def test_group_commit_shares_appends_and_is_durable_when_awaited(path: Path) -> None:
    async def many(session: Any) -> None:
        await asyncio.gather(
            *(session.commit({f"nodepool.n{i}": resource(i, f"n{i}")}) for i in range(40))
        )
        state = manager(path).load()  # every awaited change is in the journal
        assert state.serial == 40 and len(state.resources) == 40

    with manager(path).locked("apply") as session:
        asyncio.run(many(session))
        batches = lines(path)
        assert sum(len(batch) for batch in batches) == 40
        assert len(batches) < 40  # successes that landed together shared an append


def test_a_failed_append_breaks_the_session_and_claims_nothing(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def full_disk(self: LocalJournal, records: Any) -> None:
        calls.append(len(records))
        raise StateError(f"cannot write {self.path}: No space left on device")

    with pytest.raises(StateError), manager(path).locked("apply") as session:
        session.record({"nodepool.a": resource(1, "a")})
        monkeypatch.setattr(LocalJournal, "append", full_disk)
        with pytest.raises(StateError):
            session.record({"nodepool.b": resource(1, "b")})
        # what was staged with the failed batch is never reported durable by a later flush
        session.stage({"nodepool.c": resource(1, "c")})
        session.flush()
    assert calls == [1]
    monkeypatch.undo()
    assert sorted(manager(path).load().resources) == ["nodepool.a"]


def test_a_state_replaced_under_a_session_is_not_overwritten(path: Path) -> None:
    with manager(path).locked("apply") as session:
        session.record({"nodepool.a": resource(1, "a")})
    stored = LocalStore(path).read().state
    assert stored is not None
    with pytest.raises(StateConflict), manager(path).locked("apply") as session:
        session.record({"nodepool.b": resource(1, "b")})
        other = State(stored.lineage, 9, {})
        LocalStore(path).write(other, Version(stored.lineage, 1))  # behind the lock's back
        session.checkpoint()
    assert LocalStore(path).read().state == State(stored.lineage, 9, {})


def test_push_never_lets_the_serial_go_back(path: Path) -> None:
    with manager(path).locked("apply") as session:
        for i in range(1, 5):
            session.record({"nodepool.a": resource(i, "a")})
    current = manager(path).load()
    assert current.serial == 4
    old = State(current.lineage, 2, {"nodepool.a": resource(2, "a")})
    with pytest.raises(StateError) as err:
        manager(path).push(old, force=False)
    assert str(err.value) == (
        f"{path}: refusing to replace state serial 4 with the older serial 2 (--force replaces "
        "it anyway)"
    )
    written = manager(path).push(old, force=True)
    assert written is not None and written.serial == 5
    assert manager(path).load() == State(current.lineage, 5, old.resources)
    assert manager(path).push(manager(path).load(), force=False) is None  # already stored


def test_push_restores_a_state_lost_beside_its_journal(path: Path) -> None:
    with manager(path).locked("apply") as session:
        session.record({"nodepool.a": resource(1, "a")})
        lineage = session.state.lineage
    kept = path.read_bytes()
    crashed_run(path, lineage, 1, {"nodepool.a": resource(7, "a")})
    path.unlink()
    restored = State.from_json(json.loads(kept), "kept")
    written = manager(path).push(restored, force=False)
    assert written is not None and written.serial == 2  # above the journal's base serial 1
    assert not journal_of(path).exists()
    assert manager(path).load() == State(lineage, 2, restored.resources)


def test_a_big_state_is_not_rewritten_before_a_tenth_of_it_changed(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint rewrites the whole state: at 50 node pools, not before 5 changes, however
    long a slow apply takes (so checkpoints cost O(1) per change)."""
    clock = [1000.0]
    monkeypatch.setattr(manager_module.time, "monotonic", lambda: clock[0])
    with manager(path).locked("apply") as session:
        session.record({f"nodepool.n{i}": resource(1, f"n{i}") for i in range(50)})
    with manager(path).locked("apply") as session:
        for i in range(5):
            clock[0] += 60.0
            assert LocalStore(path).read().version.serial == 50
            session.record({f"nodepool.n{i}": resource(2, f"n{i}")})
        assert LocalStore(path).read().version.serial == 55
