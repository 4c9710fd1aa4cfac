"""Shared fixtures. Helpers live in support.py (in-process) and procs.py (subprocesses), not in
test modules, so that test modules never import each other."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from support import Workspace

from testkit import servers

# Mutation runs (`make mutate`) must score the same every time: the same examples in every run,
# and no example database carrying a failure found under one mutant over to the next.
settings.register_profile("mutation", derandomize=True, database=None)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


@pytest.fixture
def make_ws(tmp_path: Path) -> Callable[[str], Workspace]:
    def make(name: str) -> Workspace:
        root = tmp_path / name
        root.mkdir()
        return Workspace(root)

    return make


@pytest.fixture(autouse=True, scope="session")
def _private_parse_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never read or write the user's parse cache (subprocesses inherit this too)."""
    os.environ["NP_CACHE_DIR"] = str(tmp_path_factory.mktemp("np-parse-cache"))


def _server(variable: str, start: Callable[[Path], servers.Started]) -> Iterator[str]:
    """The address .ci/run exported in ``variable``, else a server of our own for this session.

    Where the server cannot run (no binaries) the tests that need it are skipped, except in CI,
    where a missing server is a failure: CI must never pass by testing less.
    """
    if os.environ.get(variable):
        yield os.environ[variable]
        return
    home = Path(tempfile.mkdtemp(prefix="np-test-server-"))
    try:
        started = start(home)
    except servers.ServerUnavailable as exc:
        shutil.rmtree(home, ignore_errors=True)
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    try:
        yield started.url
    finally:
        servers.stop(started.pid, started.stop_signal)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL superuser URI (with its password) on a loopback port."""
    yield from _server(servers.PG_URL_VARIABLE, servers.start_postgres)


@pytest.fixture(scope="session")
def s3_url() -> Iterator[str]:
    """The http:// address of an S3 server on loopback (any credentials are accepted)."""
    yield from _server(servers.S3_URL_VARIABLE, servers.start_moto)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask: a file np did not make private on purpose would come out 0644."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def world_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The test module's ``WORLD`` written to ``world.json`` in the test's directory."""
    path = tmp_path / "world.json"
    path.write_text(json.dumps(request.module.WORLD))
    return path
