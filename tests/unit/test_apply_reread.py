"""Each node pool is read again just before its request, and the request follows that read:
what the API saw when the plan was made is never trusted for longer than necessary."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from support import local_backend

from reconciler.api.client import ModelArtsClient
from reconciler.apply import Outcome, Rebuild, WaitPolicy, apply_plan
from reconciler.plan.changes import Plan, ResourceChange
from reconciler.render.progress import WaitProgress
from reconciler.state.document import ResourceState, State
from reconciler.state.manager import Session, StateManager

SPEC = {"flavor": "f", "count": 2, "maxCount": 2}
NOT_FOUND = {"error_code": "ModelArts.50015001", "error_msg": "not found"}


def nodepool(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"resources": spec}}


def run(
    tmp_path: Path,
    change: ResourceChange,
    live: dict[str, dict[str, Any]],
    rebuild: Rebuild | None = None,
) -> tuple[Outcome, list[tuple[str, str, Any]], State]:
    sent: list[tuple[str, str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        sent.append((request.method, request.url.path.rsplit("/", 1)[-1], body))
        name = request.url.path.rsplit("/", 1)[-1]
        if request.method == "GET":
            if name in live:
                return httpx.Response(200, json=nodepool(name, live[name]))
            return httpx.Response(404, json=NOT_FOUND)
        if request.method == "POST":
            return httpx.Response(200, json=nodepool(body["metadata"]["name"], SPEC))
        return httpx.Response(200, json=nodepool(name, SPEC))

    async def go(session: Session) -> list[Outcome]:
        transport = httpx.MockTransport(answer)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
            return await apply_plan(
                Plan("lin", 0, (change,)),
                ModelArtsClient(http, "p"),
                session,
                parallelism=1,
                wait=WaitPolicy(0),
                progress=WaitProgress(False, lambda _line: None),
                rebuild=rebuild,
            )

    with manager(tmp_path) as states, states.locked("apply") as session:
        [outcome] = asyncio.run(go(session))
    with manager(tmp_path) as states:
        return outcome, sent, states.load()


def manager(tmp_path: Path) -> StateManager:
    return StateManager(local_backend(tmp_path / "np.state.json"))


def update(before: dict[str, Any]) -> ResourceChange:
    body = {"spec": {"resources": {**SPEC, "count": 3, "maxCount": 3}}}
    return ResourceChange(
        "nodepool.a", "pool", "a", "update", before=before, after=SPEC, body=body, applied=SPEC
    )


def test_an_unchanged_node_pool_gets_the_reviewed_body(tmp_path: Path) -> None:
    outcome, sent, state = run(tmp_path, update(SPEC), {"a": SPEC})
    assert outcome.ok
    assert [(m, n) for m, n, _ in sent] == [("GET", "a"), ("PATCH", "a")]
    assert sent[1][2] == {"spec": {"resources": {"flavor": "f", "count": 3, "maxCount": 3}}}
    assert list(state.resources) == ["nodepool.a"]


def test_a_saved_plan_whose_node_pool_moved_is_refused_before_the_request(
    tmp_path: Path,
) -> None:
    outcome, sent, state = run(tmp_path, update(SPEC), {"a": {**SPEC, "count": 5}})
    assert outcome.error == "changed since the plan was shown; run np plan again"
    assert [m for m, _, _ in sent] == ["GET"]
    assert state.resources == {}


def test_a_moved_node_pool_is_sent_the_rebuilt_body_when_the_same_change_applies(
    tmp_path: Path,
) -> None:
    rebuilt = ResourceChange(
        "nodepool.a",
        "pool",
        "a",
        "update",
        before=SPEC | {"labels": {"x": "1"}},
        body={"spec": {"resources": {"flavor": "f", "count": 3, "maxCount": 3, "rebuilt": 1}}},
        applied=SPEC,
    )
    outcome, sent, _ = run(
        tmp_path, update(SPEC), {"a": SPEC | {"labels": {"x": "1"}}}, lambda c, f: rebuilt
    )
    assert outcome.ok
    assert sent[1][2]["spec"]["resources"]["rebuilt"] == 1


def test_a_create_whose_node_pool_appeared_meanwhile_is_refused(tmp_path: Path) -> None:
    create = ResourceChange(
        "nodepool.a",
        "pool",
        "a",
        "create",
        after=SPEC,
        body={"metadata": {"name": "a"}, "spec": {"resources": SPEC}},
        applied=SPEC,
    )
    outcome, sent, _ = run(tmp_path, create, {"a": SPEC})
    assert outcome.error == (
        "node pool pool/a was created outside np; changed since the plan was shown; "
        "run np plan again"
    )
    assert [m for m, _, _ in sent] == ["GET"]


def test_a_delete_whose_node_pool_is_already_gone_sends_nothing_and_forgets_it(
    tmp_path: Path,
) -> None:
    with manager(tmp_path) as states, states.locked("seed") as session:
        session.record({"nodepool.a": ResourceState("pool", "a", SPEC, SPEC, "t")})
    delete = ResourceChange("nodepool.a", "pool", "a", "delete", before=SPEC, records_state=True)
    outcome, sent, state = run(tmp_path, delete, {})
    assert outcome.ok
    assert [m for m, _, _ in sent] == ["GET"]
    assert state.resources == {}
