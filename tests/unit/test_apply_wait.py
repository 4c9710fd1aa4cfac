"""Convergence waits: what ends a wait, and the message each ending gives."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reconciler.apply import WaitPolicy, wait_until_converged
from reconciler.errors import NpError
from reconciler.plan.changes import ResourceChange
from reconciler.render.progress import WaitProgress

CHANGE = ResourceChange(
    "nodepool.train",
    "pool-prod",
    "train",
    "update",
    before={"flavor": "f", "count": 2},
    after={"flavor": "f", "count": 4},
)


class ScriptedPool:
    """Answers GETs from a script of status buckets, as the API would while scaling."""

    def __init__(self, statuses: list[Any], phase: str = "Running") -> None:
        self.statuses = statuses
        self.phase = phase
        self.gets = 0

    async def get_nodepool(self, pool: str, name: str) -> dict[str, Any]:
        status = self.statuses[min(self.gets, len(self.statuses) - 1)]
        self.gets += 1
        return {"metadata": {"name": name}, "status": {"resources": status}}

    async def get_pool(self, pool: str) -> dict[str, Any]:
        return {"metadata": {"name": pool}, "status": {"phase": self.phase}}


def wait(pool: ScriptedPool, timeout: float = 5.0) -> list[str]:
    lines: list[str] = []
    policy = WaitPolicy(timeout, first_delay=0.001, max_delay=0.002)
    progress = WaitProgress(False, lines.append, interval=0)
    asyncio.run(
        wait_until_converged(pool, CHANGE, policy, progress, asyncio.Event())  # type: ignore[arg-type]
    )
    return lines


def test_waits_until_available_equals_count_in_either_bucket_shape() -> None:
    pool = ScriptedPool(
        [
            {"available": {"count": 2}, "creating": {"count": 2}},  # SDK: one object
            {"available": [{"count": 3}], "creating": [{"count": 1}]},  # docs: a list
            {"available": [{"count": 1}, {"count": 3}], "creating": []},
        ]
    )
    lines = wait(pool)
    assert pool.gets == 3
    assert lines[-1] == "nodepool.train: 4 node(s) available"
    assert "2 available, 2 creating" in lines[0]


def test_abnormal_nodes_fail_the_wait() -> None:
    pool = ScriptedPool([{"available": {"count": 3}, "abnormal": {"count": 1}}])
    with pytest.raises(NpError, match=r"1 abnormal node\(s\) in node pool pool-prod/train"):
        wait(pool)


def test_a_failed_pool_phase_fails_the_wait() -> None:
    pool = ScriptedPool([{"available": {"count": 2}, "creating": {"count": 2}}], phase="Error")
    with pytest.raises(NpError, match="pool pool-prod is Error while node pool train scales"):
        wait(pool)


def test_timeout_names_the_node_pool_and_what_was_seen() -> None:
    pool = ScriptedPool([{"available": {"count": 2}, "creating": {"count": 2}}])
    with pytest.raises(NpError) as info:
        wait(pool, timeout=0.01)
    message = str(info.value)
    assert "timed out after 0.01s waiting for node pool pool-prod/train" in message
    assert "2 available, 2 creating" in message and "recorded in state" in message
