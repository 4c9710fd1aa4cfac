"""The simulator's ASGI app over httpx: routes, wire shapes, every API rule, persistence."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import FakeClock

from reconciler.sim import World, create_app

T0 = 1_700_000_000.0
CREATED = "2023-11-14T22:13:20Z"
NP = "/v2/proj/pools/pool-prod/nodepools"
LITE = "/v2/proj/pools/pool-lite/nodepools"
MERGE = {"Content-Type": "application/merge-patch+json"}

WORLD: dict[str, Any] = {
    "pools": {
        "pool-prod": {
            "type": "Dedicate",
            "privileged": True,
            "nodepools": {
                "train": {
                    "flavor": "gpu.t4",
                    "count": 2,
                    "maxCount": 2,
                    "labels": {"team": "ml", "env": "prod"},
                },
                "infer": {"flavor": "gpu.t4", "count": 1, "maxCount": 1},
            },
        },
        "pool-lite": {
            "type": "Logical",
            "nodepools": {"default": {"flavor": "cpu.8u", "count": 1, "maxCount": 3}},
        },
    },
    "settings": {"scale_seconds": 30},
}


class Sim:
    """Synchronous calls into the ASGI app through httpx's ASGI transport."""

    def __init__(self, path: Path, clock: FakeClock) -> None:
        self.path = path
        self.app = create_app(World.load(path, clock=clock))

    def __call__(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
                return await client.request(method, url, **kwargs)

        return asyncio.run(go())

    def patch(self, url: str, resources: dict[str, Any], **extra: Any) -> httpx.Response:
        body = json.dumps({"spec": {"resources": resources}, **extra})
        return self("PATCH", url, content=body, headers=MERGE)

    def saved(self) -> dict[str, Any]:
        """The world file, once the app has written what it holds."""
        self.app.flush()
        return json.loads(self.path.read_text())  # type: ignore[no-any-return]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def sim(world_path: Path, clock: FakeClock) -> Sim:
    return Sim(world_path, clock)


def resources(count: Any = 2, **extra: Any) -> dict[str, Any]:
    return {"flavor": "gpu.t4", "count": count, "maxCount": count, **extra}


def error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error_code"], body["error_msg"]


# -- reads ---------------------------------------------------------------------------------------


def test_list_pools_has_the_sdk_shape(sim: Sim) -> None:
    response = sim("GET", "/v2/proj/pools")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert (body["apiVersion"], body["kind"]) == ("v2", "PoolList")
    assert body["items"][1] == {
        "apiVersion": "v2",
        "kind": "Pool",
        "metadata": {
            "name": "pool-lite",
            "creationTimestamp": CREATED,
            "labels": {"os.modelarts/workspace.id": "0"},
        },
        "spec": {
            "type": "Logical",
            "resources": [{"flavor": "cpu.8u", "count": 1, "maxCount": 3, "nodePool": "default"}],
        },
        "status": {
            "phase": "Running",
            "resources": {
                "creating": {"count": 0},
                "available": {"flavor": "cpu.8u", "count": 1},
                "abnormal": {"count": 0},
                "deleting": {"count": 0},
            },
        },
    }


def test_get_pool_and_any_project_id(sim: Sim) -> None:
    body = sim("GET", "/v2/another-project/pools/pool-prod").json()
    assert body["metadata"]["name"] == "pool-prod"
    assert [r["nodePool"] for r in body["spec"]["resources"]] == ["train", "infer"]


def test_nodepool_has_the_sdk_shape(sim: Sim) -> None:
    response = sim("GET", f"{NP}/train")
    assert response.json() == {
        "apiVersion": "v2",
        "kind": "NodePool",
        "metadata": {"name": "train", "creationTimestamp": CREATED},
        "spec": {"resources": resources(2, labels={"team": "ml", "env": "prod"})},
        "status": {
            "resources": {
                "creating": {"flavor": "gpu.t4", "count": 0},
                "available": {"flavor": "gpu.t4", "count": 2},
                "abnormal": {"flavor": "gpu.t4", "count": 0},
                "deleting": {"flavor": "gpu.t4", "count": 0},
            }
        },
    }


def test_list_nodepools(sim: Sim) -> None:
    body = sim("GET", NP).json()
    assert (body["apiVersion"], body["kind"]) == ("v2", "NodePoolList")
    assert [item["metadata"]["name"] for item in body["items"]] == ["train", "infer"]


def test_percent_encoded_names_are_decoded(sim: Sim) -> None:
    assert sim("GET", "/v2/proj/pools/pool%2Dprod/nodepools/tr%61in").status_code == 200


@pytest.mark.parametrize(
    ("method", "url", "message"),
    [
        ("GET", "/v2/proj/pools/nope", "pool nope not found"),
        ("GET", "/v2/proj/pools/nope/nodepools", "pool nope not found"),
        ("GET", f"{NP}/nope", "node pool nope not found in pool pool-prod"),
        ("DELETE", f"{NP}/nope", "node pool nope not found in pool pool-prod"),
        ("GET", f"{NP}/nope/nodes", "node pool nope not found in pool pool-prod"),
    ],
)
def test_unknown_pool_or_nodepool_is_404(sim: Sim, method: str, url: str, message: str) -> None:
    response = sim(method, url)
    assert error(response) == (404, "ModelArts.50015001", message)
    assert "request_id" not in response.json()
    assert len(response.headers["x-request-id"]) == 32


def test_patch_of_unknown_nodepool_is_404_before_body_checks(sim: Sim) -> None:
    response = sim("PATCH", f"{NP}/nope", content=b"{}", headers=MERGE)
    assert error(response)[:2] == (404, "ModelArts.50015001")


@pytest.mark.parametrize(
    ("method", "url"),
    [("GET", "/v3/proj/pools"), ("GET", "/v2/proj/poolz"), ("DELETE", "/v2/proj/pools/pool-prod"),
     ("PUT", f"{NP}/train"), ("GET", "/v2//pools"), ("GET", f"{NP}/train/nodes/x")],
)  # fmt: skip
def test_unknown_api_is_a_gateway_404(sim: Sim, method: str, url: str) -> None:
    response = sim(method, url)
    assert error(response) == (404, "APIGW.0101", f"no API for {method} {url}")
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_every_response_has_its_own_request_id(sim: Sim) -> None:
    ids = {sim("GET", "/v2/proj/pools").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


# -- PATCH ---------------------------------------------------------------------------------------


def test_patch_merges_labels_and_persists(sim: Sim) -> None:
    response = sim.patch(f"{NP}/train", resources(2, labels={"env": None, "tier": "gold"}))
    assert response.status_code == 200
    assert response.json()["spec"]["resources"]["labels"] == {"team": "ml", "tier": "gold"}
    assert sim.saved()["pools"]["pool-prod"]["nodepools"]["train"] == {
        **resources(2, labels={"team": "ml", "tier": "gold"}),
        "_created": CREATED,
    }
    assert sim("GET", f"{NP}/train").json()["spec"]["resources"]["labels"] == {
        "team": "ml",
        "tier": "gold",
    }


def test_patch_null_removes_a_whole_field(sim: Sim) -> None:
    response = sim.patch(f"{NP}/train", resources(2, labels=None))
    assert response.json()["spec"]["resources"] == resources(2)


def test_patch_annotations_are_shown_in_metadata(sim: Sim) -> None:
    annotations = {"os.modelarts/billing.mode": "0"}
    response = sim.patch(f"{NP}/train", resources(2), metadata={"annotations": annotations})
    assert response.json()["metadata"]["annotations"] == annotations


def test_logical_pool_allows_max_count_above_count(sim: Sim) -> None:
    response = sim.patch(f"{LITE}/default", {"flavor": "cpu.8u", "count": 2, "maxCount": 5})
    assert response.status_code == 200
    assert response.json()["spec"]["resources"]["maxCount"] == 5


def test_privileged_pool_accepts_taints_tags_network(sim: Sim) -> None:
    extra = {
        "taints": [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}],
        "tags": [{"key": "cost", "value": "ml"}],
        "network": {"vpc": "v", "subnet": "s", "securityGroups": ["sg"]},
    }
    response = sim.patch(f"{NP}/train", resources(2, **extra))
    assert response.status_code == 200
    assert {k: response.json()["spec"]["resources"][k] for k in extra} == extra


@pytest.mark.parametrize(
    "content_type",
    [
        "application/merge-patch+json",
        "application/json",
        "application/json;charset=utf-8",
        "application/merge-patch+json; charset=UTF-8",
    ],
)
def test_patch_accepts_json_content_types(sim: Sim, content_type: str) -> None:
    body = json.dumps({"spec": {"resources": resources(3)}})
    response = sim("PATCH", f"{NP}/train", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/json; charset=latin-1"]
)
def test_patch_rejects_other_content_types(sim: Sim, content_type: str) -> None:
    body = json.dumps({"spec": {"resources": resources(3)}})
    response = sim("PATCH", f"{NP}/train", content=body, headers={"Content-Type": content_type})
    assert error(response) == (
        400,
        "ModelArts.50004100",
        f"content type '{content_type}' is not supported; "
        "use application/merge-patch+json or application/json",
    )


def test_patch_without_content_type_is_rejected(sim: Sim) -> None:
    response = sim("PATCH", f"{NP}/train", content=b"{}")
    assert error(response)[:2] == (400, "ModelArts.50004100")
    assert "'(none)'" in error(response)[2]


def test_patch_with_invalid_json(sim: Sim) -> None:
    response = sim("PATCH", f"{NP}/train", content=b"{spec:", headers=MERGE)
    assert error(response) == (
        400,
        "ModelArts.50004000",
        "request body: line 1: invalid JSON: Expecting property name enclosed in double quotes",
    )


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


def patch_text(**extra: Any) -> str:
    return json.dumps({"spec": {"resources": resources(**extra)}})  # ensure_ascii: \\u escapes


LONE = "request body: line 1: a string holds a lone surrogate ({}), which is not Unicode text"
TOO_DEEP = "request body: nested deeper than 32 levels"


@pytest.mark.parametrize(
    ("method", "url", "text", "message"),
    [
        ("PATCH", f"{NP}/train", patch_text(labels={"team": "a\ud800"}), LONE.format("\\ud800")),
        ("PATCH", f"{NP}/train", patch_text(labels={"\udc00": "x"}), LONE.format("\\udc00")),
        (
            "POST",
            NP,
            json.dumps(
                {
                    "metadata": {"name": "new"},
                    "spec": {"resources": resources(labels={"a": "\udfff"})},
                }
            ),
            LONE.format("\\udfff"),
        ),
        ("PATCH", f"{NP}/train", patch_text(extendParams=deep(40)), TOO_DEEP),
        ("PATCH", f"{NP}/train", "[" * 100_000 + "]" * 100_000, TOO_DEEP),  # RecursionError
    ],
)
def test_a_body_the_world_could_not_keep_is_refused_before_anything_is_stored(
    sim: Sim, method: str, url: str, text: str, message: str
) -> None:
    """A lone surrogate, once stored, made every later write of the world fail; deep nesting
    ended in a RecursionError. Refused at the door, they leave the world as it was and later
    changes are written as usual."""
    before = sim.saved()
    response = sim(method, url, content=text, headers={"Content-Type": "application/json"})
    assert error(response) == (400, "ModelArts.50004000", message)
    assert sim.saved() == before
    assert sim.patch(f"{NP}/train", resources(3)).status_code == 200
    assert sim.saved()["pools"]["pool-prod"]["nodepools"]["train"]["count"] == 3


def test_a_body_that_is_not_utf8_is_refused(sim: Sim) -> None:
    text = json.dumps({"spec": {"resources": resources(labels={"team": "x"})}}).encode()
    response = sim(
        "PATCH", f"{NP}/train", content=text.replace(b"x", b"\xed\xa0\x80"), headers=MERGE
    )
    assert error(response) == (400, "ModelArts.50004000", "request body is not UTF-8")


def test_surrogate_pairs_are_text(sim: Sim) -> None:
    body = {"spec": {"resources": resources(labels={"team": "\U0001f600", "pair": "\ud83d\ude00"})}}
    response = sim("PATCH", f"{NP}/train", content=json.dumps(body), headers=MERGE)
    assert response.status_code == 200
    labels = sim.saved()["pools"]["pool-prod"]["nodepools"]["train"]["labels"]
    assert labels == {"team": "\U0001f600", "pair": "\U0001f600", "env": "prod"}


@pytest.mark.parametrize(
    ("url", "body", "message"),
    [
        (f"{NP}/train", [], "request body must be a JSON object"),
        (f"{NP}/train", {}, "spec.resources is required"),
        (f"{NP}/train", {"spec": {}}, "spec.resources is required"),
        (f"{NP}/train", {"spec": {"resources": 1}}, "spec.resources must be a JSON object"),
        (f"{NP}/train", {"spec": {"resources": resources(2)}, "status": {}},
         "unknown field status"),
        (f"{NP}/train", {"spec": {"resources": resources(2), "x": 1}}, "unknown field spec.x"),
        (
            f"{NP}/train",
            {"spec": {"resources": resources(2)}, "metadata": {"labels": {}}},
            "unknown field metadata.labels",
        ),
        (
            f"{NP}/train",
            {"spec": {"resources": resources(2)}, "metadata": {"annotations": {"a": 1}}},
            "metadata.annotations.a must be a string",
        ),
        (f"{NP}/train", {"spec": {"resources": {"count": 2, "maxCount": 2}}},
         "spec.resources.flavor is required"),
        (f"{NP}/train", {"spec": {"resources": {"flavor": "gpu.t4", "maxCount": 2}}},
         "spec.resources.count is required"),
        (f"{NP}/train", {"spec": {"resources": {"flavor": "gpu.t4", "count": 2}}},
         "spec.resources.maxCount is required"),
        (f"{NP}/train", {"spec": {"resources": resources(2, maxCount=None)}},
         "spec.resources.maxCount is required"),
        (f"{NP}/train", {"spec": {"resources": resources(2, foo=1)}},
         "unknown field spec.resources.foo"),
        (f"{NP}/train", {"spec": {"resources": resources(2, _scale_at=1)}},
         "unknown field spec.resources._scale_at"),
        (f"{NP}/train", {"spec": {"resources": resources(2, flavor="gpu.v100")}},
         "flavor cannot be changed (from gpu.t4 to gpu.v100)"),
        (f"{NP}/train", {"spec": {"resources": resources(2, maxCount=3)}},
         "maxCount (3) must equal count (2) on a physical (Dedicate) pool"),
        (f"{NP}/train", {"spec": {"resources": resources("2")}},
         "spec.resources.count must be an integer"),
        (f"{NP}/train", {"spec": {"resources": resources(True)}},
         "spec.resources.count must be an integer"),
        (f"{NP}/train", {"spec": {"resources": resources(-1)}},
         "spec.resources.count must not be negative"),
        (f"{NP}/train", {"spec": {"resources": resources(2, labels={"team": 1})}},
         "spec.resources.labels.team must be a string"),
        (f"{NP}/train", {"spec": {"resources": resources(2, labels=[])}},
         "spec.resources.labels must be an object"),
        (f"{NP}/train", {"spec": {"resources": resources(2, tags=[{"value": "x"}])}},
         "every entry of spec.resources.tags needs a string key"),
        (f"{NP}/train", {"spec": {"resources": resources(2, tags=[{"key": "CCE-owner"}])}},
         'tag key "CCE-owner" is reserved: keys must not start with CCE- or __type_baremetal'),
        (f"{NP}/train", {"spec": {"resources": resources(2, tags=[{"key": "__type_baremetal"}])}},
         'tag key "__type_baremetal" is reserved: keys must not start with CCE- or '
         "__type_baremetal"),
        (f"{NP}/train",
         {"spec": {"resources": resources(2, tags=[{"key": f"k{i}"} for i in range(21)])}},
         "at most 20 tags are allowed, got 21"),
        (f"{NP}/train",
         {"spec": {"resources": resources(2, taints=[{"key": "k", "effect": "Never"}])}},
         'taint effect must be one of NoSchedule, PreferNoSchedule, NoExecute, got "Never"'),
        (f"{NP}/train",
         {"spec": {"resources": resources(3, creatingStep={"step": 2, "type": "rack"})}},
         "count and maxCount must be multiples of creatingStep.step (2)"),
        (f"{LITE}/default", {"spec": {"resources": {"flavor": "cpu.8u", "count": 1, "maxCount": 1,
                                                     "taints": []}}},
         "taints can only be set on a privileged pool"),
        (f"{LITE}/default", {"spec": {"resources": {"flavor": "cpu.8u", "count": 1, "maxCount": 1,
                                                     "tags": [{"key": "a", "value": "b"}]}}},
         "tags can only be set on a privileged pool"),
        (f"{LITE}/default", {"spec": {"resources": {"flavor": "cpu.8u", "count": 1, "maxCount": 1,
                                                     "network": {"vpc": "v"}}}},
         "network can only be set on a privileged pool"),
    ],
)  # fmt: skip
def test_patch_rules_answer_400_and_change_nothing(
    sim: Sim, url: str, body: Any, message: str
) -> None:
    before = sim.path.read_bytes()
    response = sim("PATCH", url, content=json.dumps(body), headers=MERGE)
    assert error(response) == (400, "ModelArts.50004000", message)
    assert sim.path.read_bytes() == before


def test_removing_privileged_fields_is_allowed_on_any_pool(sim: Sim) -> None:
    body = {"flavor": "cpu.8u", "count": 1, "maxCount": 1, "taints": None, "tags": None}
    assert sim.patch(f"{LITE}/default", body).status_code == 200


def test_count_change_is_asynchronous(sim: Sim, clock: FakeClock) -> None:
    response = sim.patch(f"{NP}/train", resources(5))
    assert response.json()["spec"]["resources"]["count"] == 5
    buckets = response.json()["status"]["resources"]
    assert (buckets["creating"]["count"], buckets["available"]["count"]) == (3, 2)
    pool = sim("GET", "/v2/proj/pools/pool-prod").json()
    assert pool["status"]["phase"] == "Running"
    assert pool["status"]["resources"]["creating"] == {"flavor": "gpu.t4", "count": 3}
    assert pool["status"]["resources"]["available"] == {"flavor": "gpu.t4", "count": 3}
    clock.now += 30
    buckets = sim("GET", f"{NP}/train").json()["status"]["resources"]
    assert (buckets["creating"]["count"], buckets["available"]["count"]) == (0, 5)


def test_pool_status_totals_several_flavors_without_naming_one(sim: Sim, clock: FakeClock) -> None:
    create = {"metadata": {"name": "cpu"}, "spec": {"resources": {**resources(4), "flavor": "c8"}}}
    assert sim("POST", NP, json=create).status_code == 200
    status = sim("GET", "/v2/proj/pools/pool-prod").json()["status"]["resources"]
    assert status["available"] == {"flavor": "gpu.t4", "count": 3}
    assert status["creating"] == {"flavor": "c8", "count": 4}
    clock.now += 30
    status = sim("GET", "/v2/proj/pools/pool-prod").json()["status"]["resources"]
    assert status["available"] == {"count": 7}


def test_scale_seconds_zero_is_instant(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "world.json"
    path.write_text(json.dumps({**WORLD, "settings": {"scale_seconds": 0}}))
    buckets = Sim(path, clock).patch(f"{NP}/train", resources(5)).json()["status"]["resources"]
    assert (buckets["creating"]["count"], buckets["available"]["count"]) == (0, 5)


# -- POST / DELETE -------------------------------------------------------------------------------


def create(sim: Sim, name: Any, count: int = 2, **metadata: Any) -> httpx.Response:
    body = {
        "apiVersion": "v2",
        "kind": "NodePool",
        "metadata": {"name": name, **metadata},
        "spec": {"resources": resources(count, labels={"team": "new"})},
    }
    return sim("POST", NP, json=body)


def test_create_adds_a_nodepool_that_scales_up(sim: Sim, clock: FakeClock) -> None:
    response = create(sim, "serve-2")
    assert response.status_code == 200
    body = response.json()
    assert body["metadata"] == {"name": "serve-2", "creationTimestamp": CREATED}
    assert body["spec"]["resources"] == resources(2, labels={"team": "new"})
    assert body["status"]["resources"]["creating"] == {"flavor": "gpu.t4", "count": 2}
    assert list(sim.saved()["pools"]["pool-prod"]["nodepools"]) == ["train", "infer", "serve-2"]
    clock.now += 30
    status = sim("GET", f"{NP}/serve-2").json()["status"]["resources"]
    assert status["available"] == {"flavor": "gpu.t4", "count": 2}


def test_create_of_an_existing_name_is_409(sim: Sim) -> None:
    assert error(create(sim, "train")) == (
        409,
        "ModelArts.50015000",
        "node pool train already exists in pool pool-prod",
    )


@pytest.mark.parametrize("name", ["ab", "a" * 50, "gpu-2-pool", "x1"])
def test_create_accepts_valid_names(sim: Sim, name: str) -> None:
    assert create(sim, name).status_code == 200


@pytest.mark.parametrize(
    "name", ["a", "a" * 51, "Gpu", "1gpu", "-gpu", "gpu-", "gpu-default", "gpu_1", "gpu.1", 7, None]
)
def test_create_rejects_invalid_names(sim: Sim, name: Any) -> None:
    assert error(create(sim, name)) == (
        400,
        "ModelArts.50004000",
        f"invalid node pool name {json.dumps(name)}: 2-50 lowercase letters, digits and -, "
        "starting with a letter, not ending with - or -default",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "Pool", "metadata": {"name": "ab"}, "spec": {"resources": resources()}},
         'kind must be "NodePool"'),
        ({"apiVersion": "v1", "metadata": {"name": "ab"}, "spec": {"resources": resources()}},
         'apiVersion must be "v2"'),
        ({"spec": {"resources": resources()}}, "metadata must be a JSON object"),
        ({"metadata": {"name": "ab"}}, "spec.resources is required"),
        ({"metadata": {"name": "ab"}, "spec": {"resources": resources(maxCount=3)}},
         "maxCount (3) must equal count (2) on a physical (Dedicate) pool"),
    ],
)  # fmt: skip
def test_create_body_rules(sim: Sim, body: Any, message: str) -> None:
    assert error(sim("POST", NP, json=body)) == (400, "ModelArts.50004000", message)


def test_create_requires_json_content_type(sim: Sim) -> None:
    response = sim("POST", NP, content=b"{}", headers=MERGE)
    assert error(response) == (
        400,
        "ModelArts.50004100",
        "content type 'application/merge-patch+json' is not supported; use application/json",
    )


def test_delete_answers_the_nodepool_and_removes_it(sim: Sim) -> None:
    response = sim("DELETE", f"{NP}/infer")
    assert response.status_code == 200
    assert response.json()["metadata"]["name"] == "infer"
    assert sim("GET", f"{NP}/infer").status_code == 404
    assert list(sim.saved()["pools"]["pool-prod"]["nodepools"]) == ["train"]


def test_delete_of_the_last_nodepool_is_refused(sim: Sim) -> None:
    assert error(sim("DELETE", f"{LITE}/default")) == (
        400,
        "ModelArts.50004000",
        "node pool default is the last node pool of pool pool-lite",
    )


def test_delete_of_a_yearly_monthly_nodepool_is_refused(sim: Sim) -> None:
    billing = {"annotations": {"os.modelarts/billing.mode": "1"}}
    assert sim.patch(f"{NP}/infer", resources(1), metadata=billing).status_code == 200
    assert error(sim("DELETE", f"{NP}/infer")) == (
        400,
        "ModelArts.50004000",
        "node pool infer is billed yearly/monthly and cannot be deleted",
    )


# -- nodes ---------------------------------------------------------------------------------------


def test_nodes_are_paginated_with_continue(sim: Sim) -> None:
    sim.patch(f"{NP}/train", resources(5))
    pages, token = [], None
    while True:
        params = {"limit": "2", **({"continue": token} if token else {})}
        body = sim("GET", f"{NP}/train/nodes", params=params).json()
        assert (body["apiVersion"], body["kind"]) == ("v2", "NodeList")
        pages.append(([n["metadata"]["name"] for n in body["items"]], body["metadata"]))
        token = body["metadata"].get("continue")
        if not token:
            break
    assert [names for names, _ in pages] == [
        ["train-0000", "train-0001"],
        ["train-0002", "train-0003"],
        ["train-0004"],
    ]
    assert [meta["remainingItemCount"] for _, meta in pages] == [3, 1, 0]
    assert "continue" not in pages[-1][1]


def test_nodes_default_page_is_500(tmp_path: Path, clock: FakeClock) -> None:
    world = json.loads(json.dumps(WORLD))
    world["pools"]["pool-lite"]["nodepools"]["default"].update(count=600, maxCount=600)
    path = tmp_path / "world.json"
    path.write_text(json.dumps(world))
    body = Sim(path, clock)("GET", f"{LITE}/default/nodes").json()
    assert len(body["items"]) == 500
    assert body["metadata"]["remainingItemCount"] == 100


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "501"}, "limit must be between 0 and 500, got 501"),
        ({"limit": "-1"}, "limit must be between 0 and 500, got -1"),
        ({"limit": "ten"}, "limit must be an integer, got 'ten'"),
        ({"continue": "not-a-token"}, "invalid continue token"),
    ],
)
def test_nodes_reject_bad_paging(sim: Sim, params: dict[str, str], message: str) -> None:
    response = sim("GET", f"{NP}/train/nodes", params=params)
    assert error(response) == (400, "ModelArts.50004000", message)


# -- the world file ------------------------------------------------------------------------------


def test_hand_edit_between_requests_is_seen(sim: Sim) -> None:
    edited = sim.saved()
    edited["pools"]["pool-prod"]["nodepools"]["train"]["labels"]["team"] = "console"
    sim.path.write_text(json.dumps(edited))
    labels = sim("GET", f"{NP}/train").json()["spec"]["resources"]["labels"]
    assert labels == {"team": "console", "env": "prod"}


def test_broken_hand_edit_is_a_500_until_fixed(sim: Sim) -> None:
    sim.path.write_text('{"pools": ')
    assert error(sim("GET", "/v2/proj/pools")) == (
        500,
        "ModelArts.50005000",
        f"simulator world: {sim.path}:1: invalid JSON: Expecting value",
    )
    sim.path.write_text(json.dumps(WORLD))
    assert sim("GET", "/v2/proj/pools").status_code == 200


def test_a_failed_write_is_a_500_until_the_world_can_be_written_again(
    sim: Sim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes happen after the answer (coalesced), so the failure shows on the next request and
    on /_sim/flush; the answered change is kept in memory and written once the disk recovers."""
    assert sim.patch(f"{NP}/train", resources(5)).status_code == 200
    with monkeypatch.context() as patched:

        def disk_full(path: Path, data: str) -> None:
            raise OSError(28, "No space left on device")

        patched.setattr("reconciler.sim.world.atomic_write", disk_full)
        failure = (
            500,
            "ModelArts.50005000",
            f"simulator world: cannot write {sim.path}: [Errno 28] No space left on device",
        )
        assert error(sim("POST", "/_sim/flush")) == failure
        assert error(sim("GET", f"{NP}/train")) == failure
    assert sim("GET", f"{NP}/train").json()["spec"]["resources"]["count"] == 5
    assert sim.saved()["pools"]["pool-prod"]["nodepools"]["train"]["count"] == 5


def test_list_pools_filters_by_workspace_id(tmp_path: Path, clock: FakeClock) -> None:
    world = json.loads(json.dumps(WORLD))
    world["pools"]["pool-lite"]["workspace_id"] = "ws-1"
    path = tmp_path / "world.json"
    path.write_text(json.dumps(world))
    sim = Sim(path, clock)

    def names(**params: str) -> list[str]:
        answer = sim("GET", "/v2/proj/pools", params=params).json()
        return [pool["metadata"]["name"] for pool in answer["items"]]

    assert names() == names(workspaceId="0") == ["pool-prod"]
    assert names(workspaceId="ws-1") == ["pool-lite"]
    assert sim("GET", "/v2/proj/pools/pool-lite").status_code == 200  # any workspace
    assert sim("GET", f"{LITE}/default").status_code == 200


def test_oversized_body_is_refused(sim: Sim) -> None:
    response = sim("PATCH", f"{NP}/train", content=b" " * ((1 << 20) + 1), headers=MERGE)
    assert error(response) == (400, "ModelArts.50004000", "request body exceeds 1048576 bytes")


def test_lifespan_is_acknowledged(sim: Sim) -> None:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    async def run() -> None:
        await sim.app({"type": "lifespan"}, receive, send)

    asyncio.run(run())
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
