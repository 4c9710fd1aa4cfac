"""The backend contract (tests/backend_contract.py) on pg and s3, against real servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from backend_contract import *  # noqa: F403  (the suite's tests run here)
from remote import Place, pg_place, s3_place


@pytest.fixture(params=["pg", "s3"])
def place(request: pytest.FixtureRequest) -> Iterator[Place]:
    if request.param == "pg":
        made = pg_place(request.getfixturevalue("pg_url"))
    else:
        made = s3_place(request.getfixturevalue("s3_url"))
    yield made
    made.close()
