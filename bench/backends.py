"""What a shared state costs: the same apply through the local, pg and s3 backends.

Each run applies the same changes (every node pool's count raised) to a fresh copy of one fleet
that np already manages, against `np sim serve`, with the state in a local file, in a real
PostgreSQL (initdb + pg_ctl, as the tests start it) or in moto_server's S3. Runs are
interleaved (local, pg, s3, local, ...) so that the shared machine's noise hits all alike; the
figures are medians of wall time from spawn to exit. Where the tests' servers are running
(NP_TEST_PG_URL, NP_TEST_S3_URL, as in `.ci/run`), those are used instead of starting two more.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.procs import HTTP_ENV, NP, BenchError, Finished, run
from reconciler.sim.launch import RequestLog, SimServer
from reconciler.state.document import State
from reconciler.state.protocols import NOTHING_STORED
from testkit import servers  # the same real PostgreSQL and S3 the tests start
from testkit.workload import Fleet

KINDS = ("local", "pg", "s3")
S3_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret"}


@dataclass(frozen=True)
class Measured:
    changes: int
    walls: dict[str, list[float]]
    cpus: dict[str, list[float]]

    def median(self, kind: str) -> float:
        return statistics.median(self.walls[kind])

    def median_cpu(self, kind: str) -> float:
        return statistics.median(self.cpus[kind])


def measure(scratch: Path, pools: int, per_pool: int, rounds: int) -> Measured:
    fleet = Fleet(pools, per_pool)
    walls: dict[str, list[float]] = {kind: [] for kind in KINDS}
    cpus: dict[str, list[float]] = {kind: [] for kind in KINDS}
    with ExitStack() as stack:
        urls = {
            "pg": os.environ.get("NP_TEST_PG_URL") or _server(stack, servers.start_postgres),
            "s3": os.environ.get("NP_TEST_S3_URL") or _server(stack, servers.start_moto),
        }
        run_tag = uuid.uuid4().hex[:8]  # a schema and bucket of its own on a shared server
        for round_ in range(rounds):
            for kind in KINDS:
                root = scratch / f"backend-{kind}-{round_}"
                env = _prepare(fleet, root, kind, urls.get(kind, ""), f"{run_tag}r{round_}")
                done = _apply(root, env, len(fleet))
                walls[kind].append(round(done.wall, 3))
                cpus[kind].append(round(done.cpu, 3))
    return Measured(len(fleet), walls, cpus)


def _server(stack: ExitStack, start: Any) -> str:
    home = Path(tempfile.mkdtemp(prefix="np-bench-server-"))
    stack.callback(shutil.rmtree, home, ignore_errors=True)
    started: servers.Started = start(home)
    stack.callback(servers.stop, started.pid, started.stop_signal)
    return started.url


def _prepare(fleet: Fleet, root: Path, kind: str, url: str, tag: str) -> dict[str, str]:
    """The fleet in ``root``, its state already managing every node pool, in backend ``kind``;
    returns the environment np needs for it."""
    fleet.write(root, endpoint=None, changed_every=1, state=kind == "local")
    if kind == "local":
        return {}
    if kind == "pg":
        settings = {"schema_name": f"bench_{tag}"}
        env = {"NP_PG_CONN_STR": url}
    else:
        bucket = f"np-bench-{tag}"
        httpx.put(f"{url}/{bucket}").raise_for_status()
        settings = {"bucket": bucket, "key": "np.state.json", "region": "r", "endpoint": url}
        env = dict(S3_ENV)
    block = "".join(f'  {k} = "{v}"\n' for k, v in settings.items())
    (root / "backend.hcl").write_text(f'backend "{kind}" {{\n{block}}}\n')
    _seed(kind, settings, env, State.from_json(fleet.state(), "bench fleet"))
    return env


def _seed(kind: str, settings: dict[str, str], env: dict[str, str], state: State) -> None:
    from importlib import import_module

    module = import_module(f"reconciler.state.{kind}")
    backend = module.open_backend(settings, workspace="default", environ=env, where="bench")
    try:
        backend.store.write(state, NOTHING_STORED)
    finally:
        backend.close()


def _apply(root: Path, env: dict[str, str], changes: int) -> Finished:
    log = root / "requests.log"
    with SimServer(root / "world.json", request_log=log) as sim:
        argv = [NP, "apply", "--auto-approve", "--no-wait"]
        done = run(argv, cwd=root, env={**HTTP_ENV, "NP_ENDPOINT": sim.url, **env}).check()
    entries = RequestLog(log).read()
    patches = [r for r in entries if r["method"] == "PATCH" and r["status"] == 200]
    if len(patches) != changes:
        raise BenchError(f"apply sent {len(patches)} successful PATCHes, expected {changes}")
    shown = run([NP, "state", "list"], cwd=root, env=env).check()
    if len(shown.stdout.splitlines()) != changes:
        raise BenchError(f"state lists {len(shown.stdout.splitlines())} node pools, not {changes}")
    return done
