"""The backend contract (tests/backend_contract.py) on the memory and local backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from backend_contract import *  # noqa: F403  (the suite's tests run here)
from remote import Place, local_place, memory_place


@pytest.fixture(params=["memory", "local"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Place]:
    made = memory_place() if request.param == "memory" else local_place(tmp_path)
    yield made
    made.close()
