"""The types every state backend exchanges: journal records survive JSON whole, malformed ones
are located errors, and a held lock says who holds it and how to remove it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from reconciler.errors import LockError, NpError, StateError
from reconciler.state.document import ResourceState
from reconciler.state.protocols import (
    JournalRecord,
    LockHeldError,
    LockInfo,
    LockLostError,
    StateConflict,
)

TRAIN = ResourceState("pool-prod", "train", {"count": 2}, {"count": 2}, "2026-11-27T04:31:00Z")
HOLDER = LockInfo(
    id="8f1c2d3e-0000-4000-8000-000000000001",
    pid=4242,
    host="ci-7",
    user="alice",
    operation="apply",
    created="2026-11-27T04:31:00Z",
)


@pytest.mark.parametrize("resource", [TRAIN, None])
def test_journal_record_round_trips_through_json(resource: ResourceState | None) -> None:
    record = JournalRecord("lineage-1", 7, "nodepool.train", resource)
    text = json.dumps(record.to_json())
    assert JournalRecord.from_json(json.loads(text), "j:1") == record


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda d: d.pop("address"), 'j:3: missing key "address"'),
        (
            lambda d: d.update(base_serial="7"),
            "j:3: base_serial: expected an integer, got a string",
        ),
        (lambda d: d.update(extra=1), 'j:3: unknown key "extra"'),
        (
            lambda d: d["resource"].update(applied=[]),
            "j:3: resource.applied: expected an object, got an array",
        ),
    ],
)
def test_a_malformed_journal_record_names_where(
    edit: Callable[[dict[str, Any]], object], problem: str
) -> None:
    doc = JournalRecord("lineage-1", 7, "nodepool.train", TRAIN).to_json()
    edit(doc)
    with pytest.raises(StateError) as err:
        JournalRecord.from_json(doc, "j:3")
    assert str(err.value) == problem


def test_lock_held_names_the_holder_and_the_command() -> None:
    err = LockHeldError(HOLDER, "s3://infra/np.state.json.lock", stale="not refreshed for 5m")
    assert err.holder == HOLDER
    assert str(err) == (
        "state is locked (s3://infra/np.state.json.lock)\n"
        f"  ID:        {HOLDER.id}\n"
        "  Operation: apply\n"
        "  Who:       alice@ci-7 (pid 4242)\n"
        "  Created:   2026-11-27T04:31:00Z\n"
        f"The lock is stale: not refreshed for 5m. To remove it, run: np force-unlock {HOLDER.id}"
    )


def test_a_corrupt_lock_also_says_what_to_delete() -> None:
    corrupt = LockInfo(id="corrupt-0123456789ab", corrupt=True)
    err = LockHeldError(corrupt, "state/np.state.json.lock", command="np force-unlock X -w ci")
    assert str(err).splitlines()[1:] == [
        "  The lock file is empty or unreadable, so its holder is unknown.",
        "Another np run may be in progress. If you are sure it is not, run: "
        "np force-unlock X -w ci",
        "(or delete state/np.state.json.lock)",
    ]


def test_the_errors_are_user_facing_errors() -> None:
    assert issubclass(StateConflict, StateError) and issubclass(StateError, NpError)
    assert issubclass(LockLostError, LockError) and issubclass(LockHeldError, LockError)
