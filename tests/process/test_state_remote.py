"""The pg and s3 backends keep the backend contract against real servers (PostgreSQL, moto):
compare-and-swap writes, an ordered journal folded by checkpoints, one lock holder at a time
who is named to the others, force-unlock by id only, and one state per workspace."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from remote import Place, holder, pg_place, s3_place

from reconciler.errors import LockError, StateError
from reconciler.state.document import ResourceState, State
from reconciler.state.protocols import (
    NOTHING_STORED,
    JournalRecord,
    LockHeldError,
    LockLostError,
    StateConflict,
    Version,
)


@pytest.fixture(params=["pg", "s3"])
def place(request: pytest.FixtureRequest) -> Iterator[Place]:
    if request.param == "pg":
        made = pg_place(request.getfixturevalue("pg_url"))
    else:
        made = s3_place(request.getfixturevalue("s3_url"))
    yield made
    made.close()


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
    with pytest.raises(StateConflict, match="another run wrote it first"):
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
    stuck, rescuer = place.open().locker, place.open().locker
    stuck.acquire(holder(1), timeout=0)
    with pytest.raises(LockError, match="does not match"):
        rescuer.force_unlock(holder(9).id)
    assert rescuer.read() == holder(1)
    assert rescuer.force_unlock(holder(1).id) == holder(1)
    with pytest.raises(LockLostError):
        stuck.refresh()
    rescuer.acquire(holder(2), timeout=2)
    stuck.release()  # no longer ours: must not remove the rescuer's lock
    assert rescuer.read() == holder(2)
    rescuer.release()
    with pytest.raises(LockError, match="not locked"):
        rescuer.force_unlock(holder(2).id)


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
