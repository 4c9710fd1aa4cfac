"""The keeper of a held lock: its heartbeat runs for as long as the lock is held (the approval
prompt included), a refresh that could not reach the store is tried again rather than ending
the heartbeat, and a lock known to be gone is said once and refused to every sender."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from reconciler.errors import LockError, StateError
from reconciler.state.locking import Keeper
from reconciler.state.protocols import LockInfo, LockLostError


class FakeLocker:
    """A locker whose refresh answers from a script: None (ours), or an exception."""

    def __init__(self, answers: list[Exception | None]) -> None:
        self.answers = answers
        self.refreshes = 0
        self.refreshed = threading.Event()

    def refresh(self) -> None:
        self.refreshes += 1
        self.refreshed.set()
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if answer is not None:
            raise answer

    def describe(self) -> str:
        return "fake lock"

    def acquire(self, info: LockInfo, timeout: float) -> None:  # pragma: no cover - unused
        raise NotImplementedError

    def release(self) -> None:  # pragma: no cover - unused
        raise NotImplementedError

    def read(self) -> LockInfo | None:  # pragma: no cover - unused
        return None

    def remove(self, holder: LockInfo) -> bool:  # pragma: no cover - unused
        return False


def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.005)


def test_the_heartbeat_survives_an_unreachable_store_and_keeps_refreshing() -> None:
    down = StateError("s3://b/k.lock: refresh the lock: cannot reach b.s3: connection reset")
    locker = FakeLocker([down, down, None])
    notices: list[str] = []
    keeper = Keeper(locker, notices.append, every=0.01)
    keeper.start()
    try:
        until(lambda: locker.refreshes >= 6)  # went on after the outage, not once and done
    finally:
        keeper.stop()
    assert keeper.lost is None and notices == []
    keeper.prove()  # still ours


def test_a_lost_lock_is_said_once_and_refused_to_every_sender() -> None:
    locker = FakeLocker([LockLostError("lost the state lock fake lock: it was removed")])
    notices: list[str] = []
    keeper = Keeper(locker, notices.append, every=0.01)
    keeper.start()
    try:
        until(lambda: keeper.lost is not None)
    finally:
        keeper.stop()
    for _ in range(3):
        with pytest.raises(LockLostError):
            keeper.prove()
    assert notices == [
        "Warning: lost the state lock fake lock: it was removed; np sends nothing more"
    ]
    assert locker.refreshes == 1  # not asked again once known to be gone


def test_a_store_that_cannot_answer_a_proof_stops_the_sender() -> None:
    locker = FakeLocker([StateError("cannot reach the store")])
    keeper = Keeper(locker, lambda _: None, every=3600)
    with pytest.raises(LockError, match="cannot show that this run still holds the state lock"):
        keeper.prove()
    assert keeper.lost is None  # not known to be lost: the heartbeat would try again


def test_senders_that_ask_together_share_one_round_trip() -> None:
    class Slow(FakeLocker):
        def refresh(self) -> None:
            time.sleep(0.05)
            super().refresh()

    locker = Slow([None])
    keeper = Keeper(locker, lambda _: None, every=3600)
    threads = [threading.Thread(target=keeper.prove) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 1 <= locker.refreshes <= 2  # one proof, or one more for a late asker; never eight
    keeper.prove()
    assert locker.refreshes <= 3  # a later sender is proven afresh
