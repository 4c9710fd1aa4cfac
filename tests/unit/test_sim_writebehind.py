"""When the simulator writes its world file: once per burst (idle timer, at the latest after
max_delay), on /_sim/flush once nothing is in flight, and at shutdown; never per request."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import FakeClock

from reconciler.sim import Faults, World, create_app
from reconciler.sim.app import SimApp
from reconciler.sim.writebehind import WriteBehind

WORLD = {
    "pools": {
        "pool-a": {
            "type": "Logical",
            "nodepools": {"train": {"flavor": "cpu.8u", "count": 1, "maxCount": 1}},
        }
    }
}
URL = "/v2/proj/pools/pool-a/nodepools/train"
MERGE = {"Content-Type": "application/merge-patch+json"}
NEVER = 3600.0  # an idle time or delay that no test reaches


def body(count: int) -> str:
    return json.dumps({"spec": {"resources": {"flavor": "cpu.8u", "count": count, "maxCount": 9}}})


class Writes:
    """Records what would have been written, instead of writing it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.counts: list[int] = []
        monkeypatch.setattr("reconciler.sim.world.atomic_write", self.write)

    def write(self, path: Path, text: str) -> None:
        self.counts.append(json.loads(text)["pools"]["pool-a"]["nodepools"]["train"]["count"])


def app_for(world_path: Path, saver: Any = None, **kwargs: Any) -> tuple[SimApp, WriteBehind]:
    world = World.load(world_path)
    saver = saver(world) if saver else WriteBehind(world, idle=NEVER, max_delay=NEVER)
    return create_app(world, saver=saver, **kwargs), saver


async def patch(client: httpx.AsyncClient, count: int) -> int:
    return (await client.patch(URL, content=body(count), headers=MERGE)).status_code


def client_for(app: SimApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim")


def test_a_burst_is_written_once_on_flush(
    world_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = Writes(monkeypatch)
    app, _ = app_for(world_path)

    async def burst() -> None:
        async with client_for(app) as client:
            assert [await patch(client, n) for n in range(2, 12)] == [200] * 10
            assert writes.counts == []
            assert (await client.post("/_sim/flush")).json() == {"flushed": True}
            assert writes.counts == [11]
            assert (await client.post("/_sim/flush")).status_code == 200
            await client.get(URL)  # reads change nothing
            app.flush()
            assert writes.counts == [11]  # nothing new to write, nothing written

    asyncio.run(burst())


def test_busy_writes_at_the_latest_after_max_delay(
    world_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = Writes(monkeypatch)
    clock = FakeClock(0.0)
    app, _ = app_for(world_path, lambda w: WriteBehind(w, idle=NEVER, max_delay=1.0, clock=clock))

    async def busy() -> None:
        async with client_for(app) as client:
            await patch(client, 2)
            clock.now += 0.9
            await patch(client, 3)
            assert writes.counts == []
            clock.now += 0.1  # 1.0 s since the first unsaved change
            await patch(client, 4)
            assert writes.counts == [4]
            await patch(client, 5)
            assert writes.counts == [4]  # a new delay starts with the next unsaved change

    asyncio.run(busy())


def test_a_pause_writes_once_the_idle_time_has_passed(
    world_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = Writes(monkeypatch)
    app, _ = app_for(world_path, lambda w: WriteBehind(w, idle=0.01, max_delay=NEVER))

    async def pause() -> None:
        async with client_for(app) as client:
            await patch(client, 2)
            await patch(client, 3)
            assert writes.counts == []
            await asyncio.sleep(0.2)  # the idle timer is due long before this sleep ends
            assert writes.counts == [3]

    asyncio.run(pause())


def test_flush_waits_for_the_requests_in_flight(
    world_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = Writes(monkeypatch)
    release = asyncio.Event()

    async def held(seconds: float) -> None:
        await release.wait()

    app, _ = app_for(world_path, faults=Faults(latency_ms=1, sleep=held))

    async def race() -> None:
        async with client_for(app) as client:
            patching = asyncio.create_task(patch(client, 7))
            await asyncio.sleep(0)
            flushing = asyncio.create_task(client.post("/_sim/flush"))
            for _ in range(20):
                await asyncio.sleep(0)
            assert not flushing.done() and writes.counts == []
            release.set()
            assert await patching == 200
            assert (await flushing).status_code == 200
            assert writes.counts == [7]

    asyncio.run(race())


def test_flush_is_never_faulted_authenticated_or_logged(world_path: Path, tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    app, _ = app_for(world_path, faults=Faults(fail_rate=1), request_log=log)

    async def flush() -> int:
        async with client_for(app) as client:
            return (await client.post("/_sim/flush")).status_code

    assert asyncio.run(flush()) == 200
    assert not log.exists()


def test_shutdown_writes_the_last_changes(world_path: Path) -> None:
    app, _ = app_for(world_path)
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    async def run() -> None:
        async with client_for(app) as client:
            await patch(client, 5)
        await app({"type": "lifespan"}, receive, send)

    asyncio.run(run())
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert json.loads(world_path.read_text())["pools"]["pool-a"]["nodepools"]["train"]["count"] == 5


def test_any_failed_write_behind_answers_500_until_a_write_succeeds(
    world_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only an OSError: whatever stops the idle timer's write (here the encoder's refusal
    of a lone surrogate) must not leave requests answered 200 while nothing is saved."""
    app, _ = app_for(world_path, lambda w: WriteBehind(w, idle=0.01, max_delay=NEVER))

    def refuse(path: Path, text: str) -> None:
        raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")

    failure = {
        "error_code": "ModelArts.50005000",
        "error_msg": f"simulator world: cannot write {world_path}: 'utf-8' codec can't encode "
        "character '\\ud800' in position 0: surrogates not allowed",
    }

    async def run() -> None:
        async with client_for(app) as client:
            with monkeypatch.context() as patched:
                patched.setattr("reconciler.sim.world.atomic_write", refuse)
                assert await patch(client, 2) == 200
                await asyncio.sleep(0.2)  # the idle timer is due long before this sleep ends
                for answer in (
                    await client.get(URL),
                    await client.patch(URL, content=body(3), headers=MERGE),
                ):
                    assert (answer.status_code, answer.json()) == (500, failure)
            answer = await client.get(URL)  # the write is retried first, and now succeeds
            assert answer.json()["spec"]["resources"]["count"] == 2

    asyncio.run(run())
    assert json.loads(world_path.read_text())["pools"]["pool-a"]["nodepools"]["train"]["count"] == 2
