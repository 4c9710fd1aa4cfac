"""Shared fixtures. Helpers live in support.py (in-process) and procs.py (subprocesses), not in
test modules, so that test modules never import each other."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from support import Workspace

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
