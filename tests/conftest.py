"""Shared fixtures (helpers live in support.py so test modules can import them)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support import Workspace


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
