"""Reading live state: one ListPools, one ListNodePools per wanted pool, garbage refused, and
nothing believed gone on the word of a list alone."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from reconciler.api.client import ModelArtsClient
from reconciler.errors import NpError
from reconciler.live import LiveWorld, fetch_live

POOLS = {"items": [{"metadata": {"name": n}, "spec": {"type": "Logical"}} for n in "abc"]}
NOT_FOUND = {"error_code": "ModelArts.50015001", "error_msg": "not found"}


def fetch(
    nodepools: dict[str, Any],
    wanted: set[str],
    *,
    managed: set[tuple[str, str]] = frozenset(),  # type: ignore[assignment]
    elsewhere: dict[str, dict[str, Any]] | None = None,
    workspace_id: str | None = None,
) -> tuple[LiveWorld, list[str]]:
    """``elsewhere``: pools another workspace holds (absent from ListPools, found by GET),
    each mapping node pool names to specs that only a direct GET returns."""
    seen: list[str] = []
    hidden = elsewhere or {}

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        seen.append(path + (f"?{request.url.query.decode()}" if request.url.query else ""))
        parts = path.split("/")[4:]  # after /v2/p/pools
        if not parts:
            return httpx.Response(200, json=POOLS)
        pool = parts[0]
        if len(parts) == 1:
            if pool in hidden:
                return httpx.Response(200, json={"metadata": {"name": pool}, "spec": {}})
            return httpx.Response(404, json=NOT_FOUND)
        if len(parts) == 2:
            return httpx.Response(200, content=json.dumps({"items": nodepools.get(pool, [])}))
        spec = hidden.get(pool, {}).get(parts[2])
        if spec is None:
            return httpx.Response(404, json=NOT_FOUND)
        return httpx.Response(200, json=nodepool(parts[2], spec["count"]))

    async def go() -> LiveWorld:
        transport = httpx.MockTransport(answer)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
            client = ModelArtsClient(http, "p")
            return await fetch_live(
                client, wanted, parallelism=2, managed=managed, workspace_id=workspace_id
            )

    return asyncio.run(go()), seen


def nodepool(name: str, count: int) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"resources": {"flavor": "f", "count": count}}}


def test_one_list_per_wanted_pool_and_nothing_else() -> None:
    live, seen = fetch({"a": [nodepool("x", 1)], "b": [nodepool("y", 2)]}, {"a", "b"})
    assert sorted(seen) == ["/v2/p/pools", "/v2/p/pools/a/nodepools", "/v2/p/pools/b/nodepools"]
    assert live.nodepool("b", "y") == {"flavor": "f", "count": 2}
    assert live.nodepool("c", "z") is None


def test_a_wanted_pool_missing_from_the_list_is_confirmed_gone_by_a_direct_read() -> None:
    live, seen = fetch({"a": [nodepool("x", 1)]}, {"a", "gone"})
    assert "/v2/p/pools/gone" in seen and "gone" not in live.pools


def test_a_pool_of_another_workspace_is_found_by_a_direct_read_and_listed() -> None:
    """ListPools leaves out other workspaces' pools: they must not look deleted."""
    live, seen = fetch({"w": [nodepool("n", 4)]}, {"w"}, elsewhere={"w": {}})
    assert live.nodepool("w", "n") == {"flavor": "f", "count": 4}
    assert seen[:2] == ["/v2/p/pools", "/v2/p/pools/w"]


def test_a_managed_node_pool_missing_from_its_list_is_read_directly() -> None:
    live, seen = fetch(
        {"a": [nodepool("x", 1)]},
        {"a"},
        managed={("a", "x"), ("a", "hidden"), ("a", "deleted")},
        elsewhere={"a": {"hidden": {"count": 7}}},
    )
    assert live.nodepool("a", "hidden") == {"flavor": "f", "count": 7}
    assert live.nodepool("a", "deleted") is None
    assert {"/v2/p/pools/a/nodepools/hidden", "/v2/p/pools/a/nodepools/deleted"} <= set(seen)
    assert "/v2/p/pools/a/nodepools/x" not in seen  # listed: no extra read


def test_the_workspace_id_filters_the_pool_list() -> None:
    _, seen = fetch({}, set(), workspace_id="ws-1")
    assert seen == ["/v2/p/pools?workspaceId=ws-1"]


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
