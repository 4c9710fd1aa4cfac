"""The backend contract, in the style of Terraform's ``statemgr.TestFull``: every backend passes
these (memory and local in tests/unit, pg and s3 against real servers in tests/process):
compare-and-swap writes, an ordered journal folded by checkpoints, a reader's snapshot of one
moment, one lock holder at a time who is named to the others, a lock removed only by its id,
and one state per workspace.

A test module runs the suite by importing it and defining the ``place`` fixture."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from remote import Place, holder

from reconciler.errors import LockError, StateError
from reconciler.state.document import ResourceState, State
from reconciler.state.manager import StateManager
from reconciler.state.protocols import (
    NOTHING_STORED,
    JournalRecord,
    LockHeldError,
    LockLostError,
    StateConflict,
    Version,
)


def resource(count: int) -> ResourceState:
    doc = {"flavor": "modelarts.vm.cpu.8u", "count": count, "maxCount": count}
    return ResourceState("pool-prod", "train", doc, doc, "2026-11-27T04:31:00Z")


def state_of(lineage: str, serial: int, **counts: int) -> State:
    return State(lineage, serial, {f"nodepool.{n}": resource(c) for n, c in counts.items()})


def race(*actions: Callable[[], object]) -> list[object]:
    """Run the actions at the same instant in threads; each result or exception, in order."""
    results: list[object] = [None] * len(actions)
    start = threading.Barrier(len(actions))

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = actions[i]()
        except Exception as exc:  # collected for the test to judge
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_nothing_stored_then_the_first_write_creates(place: Place) -> None:
    store = place.open().store
    assert store.read().state is None
    assert store.read().version == NOTHING_STORED
    first = state_of("lin-1", 1, a=1, b=2)
    version = store.write(first, NOTHING_STORED)
    assert (version.lineage, version.serial) == ("lin-1", 1)
    stored = place.open().store.read()
    assert stored.state == first
    assert stored.version == version


def test_a_write_from_a_stale_version_is_refused_and_changes_nothing(place: Place) -> None:
    store = place.open().store
    v1 = store.write(state_of("lin-1", 1, a=1), NOTHING_STORED)
    v2 = store.write(state_of("lin-1", 2, a=2), v1)
    with pytest.raises(StateConflict, match="another run wrote it"):
        place.open().store.write(state_of("lin-1", 2, a=99), v1)  # a lost update
    with pytest.raises(StateConflict):
        store.write(state_of("lin-1", 1, a=99), NOTHING_STORED)  # "create" over a state
    stored = store.read()
    assert stored.state == state_of("lin-1", 2, a=2)
    assert stored.version == v2


@pytest.mark.parametrize("first", [True, False], ids=["first-write", "update"])
def test_of_two_writers_racing_exactly_one_wins(place: Place, first: bool) -> None:
    base = NOTHING_STORED if first else place.open().store.write(state_of("L", 1), NOTHING_STORED)
    serial = base.serial + 1
    mine, theirs = state_of("L", serial, a=1), state_of("L", serial, a=2)
    one, two = place.open().store, place.open().store
    one.read(), two.read()  # both connected before the race
    results = race(lambda: one.write(mine, base), lambda: two.write(theirs, base))
    won = [i for i, r in enumerate(results) if isinstance(r, Version)]
    lost = [r for r in results if isinstance(r, StateConflict)]
    assert len(won) == 1 and len(lost) == 1, results
    assert place.open().store.read().state == (mine, theirs)[won[0]]


def test_the_journal_keeps_append_order_and_a_checkpoint_folds_it(place: Place) -> None:
    backend = place.open()
    v1 = backend.store.write(state_of("L", 1, a=1), NOTHING_STORED)
    batches = [
        [JournalRecord("L", 1, "nodepool.a", resource(2))],
        [
            JournalRecord("L", 1, "nodepool.b", resource(3)),
            JournalRecord("L", 1, "nodepool.a", None),
        ],
    ]
    for batch in batches:
        backend.journal.append(batch)
    assert place.open().journal.read() == [*batches[0], *batches[1]]

    # The checkpoint of serial 1 + 3 records; records appended after it extend serial 4.
    backend.store.write(state_of("L", 4, b=3), v1)
    later = [JournalRecord("L", 4, "nodepool.c", resource(1))]
    backend.journal.append(later)
    backend.journal.clear(Version("L", 4))
    assert place.open().journal.read() == later


def test_clear_drops_records_of_another_lineage(place: Place) -> None:
    journal = place.open().journal
    journal.append([JournalRecord("old", 7, "nodepool.a", resource(1))])
    journal.append([JournalRecord("new", 1, "nodepool.b", resource(1))])
    journal.clear(Version("new", 1))
    assert [r.lineage for r in place.open().journal.read()] == ["new"]


def test_the_lock_has_one_holder_who_is_named_to_the_others(place: Place) -> None:
    first, second = place.open().locker, place.open().locker
    first.acquire(holder(1), timeout=0)
    with pytest.raises(LockHeldError) as err:
        second.acquire(holder(2), timeout=0.3)
    assert err.value.holder == holder(1)
    assert f"np force-unlock {holder(1).id}" in str(err.value)
    assert "alice@ci-runner-7 (pid 4242)" in str(err.value)
    assert second.read() == holder(1)
    first.refresh()
    first.release()
    assert second.read() is None
    second.acquire(holder(2), timeout=0)
    assert first.read() == holder(2)


def test_of_many_racing_for_the_lock_exactly_one_wins(place: Place) -> None:
    lockers = [place.open().locker for _ in range(4)]
    for locker in lockers:
        locker.read()  # connected (pg) before the race starts
    results = race(*(lambda i=i, k=k: k.acquire(holder(i), 0) for i, k in enumerate(lockers)))
    winners = [i for i, r in enumerate(results) if r is None]
    assert len(winners) == 1, results
    assert all(isinstance(r, LockHeldError) for r in results if r is not None)
    assert all(r.holder == holder(winners[0]) for r in results if isinstance(r, LockHeldError))


def test_force_unlock_takes_only_the_named_lock(place: Place) -> None:
    stuck, rescuer = place.open().locker, StateManager(place.open())
    stuck.acquire(holder(1), timeout=0)
    with pytest.raises(LockError, match="does not match") as err:
        rescuer.force_unlock(holder(9).id)
    assert "nothing removed" in str(err.value) and holder(1).id in str(err.value)
    assert rescuer.lock_holder() == holder(1)
    assert rescuer.force_unlock(holder(1).id, lambda held: held == holder(1)) == holder(1)
    with pytest.raises(LockLostError):
        stuck.refresh()
    again = place.open().locker
    again.acquire(holder(2), timeout=2)
    stuck.release()  # no longer ours: must not remove the new holder's lock
    assert rescuer.lock_holder() == holder(2)
    again.release()
    with pytest.raises(LockError, match="no lock is held"):
        rescuer.force_unlock(holder(2).id)


def test_a_declined_force_unlock_removes_nothing(place: Place) -> None:
    stuck = place.open().locker
    stuck.acquire(holder(1), timeout=0)
    assert StateManager(place.open()).force_unlock(holder(1).id, lambda _held: False) is None
    stuck.refresh()  # still ours
    assert place.open().locker.read() == holder(1)


def test_remove_is_a_compare_and_delete(place: Place) -> None:
    first = place.open().locker
    first.acquire(holder(1), timeout=0)
    other = place.open().locker
    assert other.remove(holder(2)) is False  # another id: nothing removed
    assert other.read() == holder(1)
    assert other.remove(holder(1)) is True
    assert other.read() is None
    assert other.remove(holder(1)) is False  # gone already


def test_a_snapshot_is_the_state_and_its_journal_of_one_moment(place: Place) -> None:
    backend = place.open()
    assert backend.snapshot() == (backend.store.read(), [])
    v1 = backend.store.write(state_of("L", 1, a=1), NOTHING_STORED)
    batch = [JournalRecord("L", 1, "nodepool.b", resource(2))]
    backend.journal.append(batch)
    stored, records = place.open().snapshot()
    assert (stored.state, records) == (state_of("L", 1, a=1), batch)
    # a checkpoint folds the journal: a new snapshot has the new state and no records
    v2 = backend.store.write(state_of("L", 2, a=1, b=2), v1)
    backend.journal.clear(v2)
    stored, records = place.open().snapshot()
    assert (stored.state, records) == (state_of("L", 2, a=1, b=2), [])


def test_a_reader_never_sees_a_state_older_than_one_it_saw(place: Place) -> None:
    """Readers racing a writer that checkpoints again and again: the serial a reader replays
    never goes back, and never misses records a checkpoint folded."""
    writer = StateManager(place.open())
    stop = threading.Event()
    seen: list[int] = []
    problems: list[BaseException] = []

    def read() -> None:
        reader = StateManager(place.open())
        while not stop.is_set():
            try:
                seen.append(reader.load().serial)
            except StateError as exc:  # "kept changing": allowed, never a wrong answer
                if "kept changing" not in str(exc):
                    problems.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        with writer.locked("apply") as session:
            for n in range(40):
                session.record({f"nodepool.n{n % 5}": resource(n)})
                if n % 4 == 3:
                    session.checkpoint()
    finally:
        stop.set()
        thread.join()
    assert problems == []
    assert seen == sorted(seen), seen
    assert StateManager(place.open()).load().serial == 40


def test_closing_the_backend_releases_its_lock(place: Place) -> None:
    backend = place.open()
    backend.locker.acquire(holder(1), timeout=0)
    backend.close()
    other = place.open().locker
    other.acquire(holder(2), timeout=0)
    assert other.read() == holder(2)


def test_each_workspace_has_its_own_state_journal_and_lock(place: Place) -> None:
    default, staging = place.open(), place.open("staging")
    default.store.write(state_of("D", 1, a=1), NOTHING_STORED)
    staging.store.write(state_of("S", 1, b=1), NOTHING_STORED)
    staging.journal.append([JournalRecord("S", 1, "nodepool.c", resource(1))])
    place.open("empty").store.read()
    default.locker.acquire(holder(1), timeout=0)
    staging.locker.acquire(holder(2), timeout=0)  # another workspace: not in the way
    assert default.store.read().state == state_of("D", 1, a=1)
    assert default.journal.read() == []
    assert place.open().workspaces.list() == ["default", "staging"]

    staging.workspaces.delete("staging")
    assert place.open().workspaces.list() == ["default"]
    assert place.open("staging").store.read().state is None
    assert place.open("staging").journal.read() == []
    with pytest.raises(StateError, match="default workspace cannot be deleted"):
        place.open().workspaces.delete("default")
