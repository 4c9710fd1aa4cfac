"""The official `huaweicloudsdkmodelarts` SDK against `np sim serve --auth aksk`: proof that the
simulator speaks the real wire format and verifies the SDK's own signatures."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkmodelarts.v1 import (
    CreateNodePoolMetaVO,
    CreateNodePoolRequest,
    CreateNodePoolRequestBody,
    DeleteNodePoolRequest,
    ListNodePoolNodesRequest,
    ListNodePoolsRequest,
    ListPoolsRequest,
    ModelArtsClient,
    NodePoolSpec,
    PatchNodePoolRequest,
    PatchNodePoolRequestBody,
    PoolResource,
    ShowNodePoolRequest,
)

from reconciler.sim.launch import SimServer

AK, SK, PROJECT = "SIMAK0000000000000", "sim-secret-key", "0123456789abcdef"
FLAVOR = "modelarts.vm.gpu.t4u8"
WORLD = {
    "pools": {
        "pool-prod": {
            "type": "Dedicate",
            "privileged": True,
            "nodepools": {
                "train": {"flavor": FLAVOR, "count": 2, "maxCount": 2, "labels": {"team": "ml"}},
                "infer": {"flavor": FLAVOR, "count": 1, "maxCount": 1},
            },
        }
    }
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    world = tmp_path_factory.mktemp("sdk") / "world.json"
    world.write_text(json.dumps(WORLD))
    args = ("--auth", "aksk", "--ak", AK, "--sk", SK, "--scale-seconds", "0.5")
    with SimServer(world, *args) as running:
        yield running


def sdk(server: SimServer, sk: str = SK) -> Any:
    credentials = BasicCredentials(AK, sk, PROJECT)
    builder = ModelArtsClient.new_builder().with_credentials(credentials)
    return builder.with_endpoints([server.url]).build()


def patch(client: Any, name: str, resources: PoolResource) -> Any:
    body = PatchNodePoolRequestBody(spec=NodePoolSpec(resources=resources))
    request = PatchNodePoolRequest(pool_name="pool-prod", nodepool_name=name, body=body)
    return client.patch_node_pool(request)


def show(client: Any, name: str) -> Any:
    return client.show_node_pool(ShowNodePoolRequest(pool_name="pool-prod", nodepool_name=name))


def test_list_pools_and_nodepools(server: SimServer) -> None:
    client = sdk(server)
    pools = client.list_pools(ListPoolsRequest())
    assert [(p.metadata.name, p.spec.type, p.status.phase) for p in pools.items] == [
        ("pool-prod", "Dedicate", "Running")
    ]
    assert pools.items[0].status.resources.available.flavor == FLAVOR  # SDK-shaped buckets
    nodepools = client.list_node_pools(ListNodePoolsRequest(pool_name="pool-prod"))
    assert nodepools.kind == "NodePoolList"
    assert [n.metadata.name for n in nodepools.items] == ["train", "infer"]


def test_show_nodepool(server: SimServer) -> None:
    nodepool = show(sdk(server), "infer")
    resources = nodepool.spec.resources
    assert (resources.flavor, resources.count, resources.max_count) == (FLAVOR, 1, 1)
    assert nodepool.status.resources.available.count == 1


def test_patch_merges_labels_and_scales_asynchronously(server: SimServer) -> None:
    client = sdk(server)
    resources = PoolResource(flavor=FLAVOR, count=4, max_count=4, labels={"tier": "gold"})
    answer = patch(client, "train", resources)
    assert answer.spec.resources.labels == {"team": "ml", "tier": "gold"}
    status = show(client, "train").status.resources
    assert (status.creating.count, status.available.count) == (2, 2)
    nodes = client.list_node_pool_nodes(
        ListNodePoolNodesRequest(pool_name="pool-prod", nodepool_name="train", limit="3")
    )
    assert [n.status.phase for n in nodes.items] == ["Available", "Available", "Creating"]
    assert nodes.metadata.remaining_item_count == 1
    deadline = time.monotonic() + 5
    while show(client, "train").status.resources.creating.count and time.monotonic() < deadline:
        time.sleep(0.1)
    status = show(client, "train").status.resources
    assert (status.creating.count, status.available.count) == (0, 4)
    server.flush()
    world = Path(server.argv[server.argv.index("--world") + 1])
    saved = json.loads(world.read_text())["pools"]["pool-prod"]["nodepools"]["train"]
    assert (saved["count"], saved["labels"]) == (4, {"team": "ml", "tier": "gold"})


def test_patch_without_max_count_is_400(server: SimServer) -> None:
    with pytest.raises(ClientRequestException) as err:
        patch(sdk(server), "train", PoolResource(flavor=FLAVOR, count=2))
    assert (err.value.status_code, err.value.error_code, err.value.error_msg) == (
        400,
        "ModelArts.50004000",
        "spec.resources.maxCount is required",
    )


def test_create_and_delete_nodepool(server: SimServer) -> None:
    client = sdk(server)
    body = CreateNodePoolRequestBody(
        api_version="v2",
        kind="NodePool",
        metadata=CreateNodePoolMetaVO(name="serve-1"),
        spec=NodePoolSpec(resources=PoolResource(flavor=FLAVOR, count=1, max_count=1)),
    )
    created = client.create_node_pool(CreateNodePoolRequest(pool_name="pool-prod", body=body))
    assert created.metadata.name == "serve-1"
    assert show(client, "serve-1").spec.resources.count == 1
    deleted = client.delete_node_pool(
        DeleteNodePoolRequest(pool_name="pool-prod", nodepool_name="serve-1")
    )
    assert deleted.metadata.name == "serve-1"
    with pytest.raises(ClientRequestException) as err:
        show(client, "serve-1")
    assert (err.value.status_code, err.value.error_code) == (404, "ModelArts.50015001")


def test_wrong_secret_key_is_401(server: SimServer) -> None:
    with pytest.raises(ClientRequestException) as err:
        sdk(server, sk="not-the-secret").list_pools(ListPoolsRequest())
    assert (err.value.status_code, err.value.error_code, err.value.error_msg) == (
        401,
        "APIGW.0301",
        "Incorrect IAM authentication information: signature does not match",
    )
    assert err.value.request_id
