"""Reading live state: one ListPools, one ListNodePools per wanted pool, garbage refused."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from reconciler.api.client import ModelArtsClient
from reconciler.errors import NpError
from reconciler.plan import LiveWorld, fetch_live

POOLS = {"items": [{"metadata": {"name": n}, "spec": {"type": "Logical"}} for n in "abc"]}


def fetch(nodepools: dict[str, Any], wanted: set[str]) -> tuple[LiveWorld, list[str]]:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path.endswith("/pools"):
            return httpx.Response(200, json=POOLS)
        pool = request.url.path.split("/")[-2]
        return httpx.Response(200, content=json.dumps({"items": nodepools[pool]}))

    async def go() -> LiveWorld:
        transport = httpx.MockTransport(answer)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
            return await fetch_live(ModelArtsClient(http, "p"), wanted, parallelism=2)

    return asyncio.run(go()), seen


def nodepool(name: str, count: int) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"resources": {"flavor": "f", "count": count}}}


def test_one_list_per_wanted_pool_and_nothing_else() -> None:
    live, seen = fetch({"a": [nodepool("x", 1)], "b": [nodepool("y", 2)]}, {"a", "b", "gone"})
    assert sorted(seen) == ["/v2/p/pools", "/v2/p/pools/a/nodepools", "/v2/p/pools/b/nodepools"]
    assert live.nodepool("b", "y") == {"flavor": "f", "count": 2}
    assert live.nodepool("c", "z") is None and "gone" not in live.pools


@pytest.mark.parametrize(
    ("item", "complaint"),
    [
        ({"metadata": {}}, "metadata.name: Field required"),
        (
            {"metadata": {"name": "x"}, "spec": {"resources": {"count": 1}}},
            "flavor: Field required",
        ),
    ],
)
def test_a_malformed_node_pool_is_a_clear_error(item: Any, complaint: str) -> None:
    with pytest.raises(NpError) as info:
        fetch({"a": [item]}, {"a"})
    assert str(info.value).startswith("unexpected node pool in pool a from the API: ")
    assert complaint in str(info.value)


@pytest.mark.parametrize("items", [None, "x", ["nonsense"], {"a": 1}])
def test_a_list_without_a_list_of_objects_is_an_error_not_an_empty_pool(items: Any) -> None:
    """Read as "no node pools", garbage would make np create what exists and forget state."""
    with pytest.raises(NpError) as info:
        fetch({"a": items}, {"a"})
    assert str(info.value).startswith("GET /v2/p/pools/a/nodepools: HTTP 200")
    assert "no list of objects in 'items'" in str(info.value)
