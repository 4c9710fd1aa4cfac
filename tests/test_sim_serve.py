"""`np sim serve` as a real process: announcement, auth, faults, request log, persistence."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
import pytest
from procs import SimServer

from reconciler.errors import NpError
from reconciler.sim.serve import serve
from reconciler.sim.world import WorldError

WORLD = {
    "pools": {
        "pool-a": {
            "type": "Logical",
            "nodepools": {"train": {"flavor": "cpu.8u", "count": 1, "maxCount": 1}},
        }
    },
    "settings": {"scale_seconds": 600},
}
NODEPOOL = "/v2/proj/pools/pool-a/nodepools/train"
PATCH = {"spec": {"resources": {"flavor": "cpu.8u", "count": 3, "maxCount": 3}}}


@pytest.fixture
def world(tmp_path: Path) -> Path:
    path = tmp_path / "world.json"
    path.write_text(json.dumps(WORLD))
    return path


def test_serves_at_once_persists_and_logs(world: Path, tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    server = SimServer(world, "--request-log", str(log), "--scale-seconds", "0")
    with server, server.client() as client:
        # no retry loop: the announcement promises the socket already accepts
        assert client.get("/v2/proj/pools").status_code == 200
        patched = client.patch(NODEPOOL, json=PATCH)
        assert patched.json()["status"]["resources"]["available"]["count"] == 3  # override: 0 s
        assert client.get("/v2/proj/pools/nope").status_code == 404
        edited = json.loads(world.read_text())
        edited["pools"]["pool-a"]["nodepools"]["train"]["labels"] = {"by": "console"}
        world.write_text(json.dumps(edited))
        assert client.get(NODEPOOL).json()["spec"]["resources"]["labels"] == {"by": "console"}
    assert server.returncode == 0
    assert server.stderr == ""
    saved = json.loads(world.read_text())["pools"]["pool-a"]["nodepools"]["train"]
    assert (saved["count"], saved["labels"]) == (3, {"by": "console"})
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/v2/proj/pools", 200),
        ("PATCH", NODEPOOL, 200),
        ("GET", "/v2/proj/pools/nope", 404),
        ("GET", NODEPOOL, 200),
    ]


def test_token_auth_from_environment(world: Path) -> None:
    server = SimServer(world, "--auth", "token", env={"NP_SIM_TOKEN": "tok"}, stop=signal.SIGINT)
    with server, server.client() as client:
        assert client.get("/v2/proj/pools", headers={"X-Auth-Token": "tok"}).status_code == 200
        denied = client.get("/v2/proj/pools", headers={"X-Auth-Token": "nope"})
        assert denied.status_code == 401
        assert denied.json()["error_code"] == "APIGW.0301"
    assert (server.returncode, server.stderr) == (0, "")  # Ctrl-C is a normal stop


def test_drop_rate_closes_the_connection_without_an_answer(world: Path, tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    server = SimServer(world, "--drop-rate", "1", "--request-log", str(log))
    with server, server.client() as client, pytest.raises(httpx.RemoteProtocolError):
        client.patch(NODEPOOL, json=PATCH)
    assert server.stderr == ""
    assert json.loads(world.read_text())["pools"]["pool-a"]["nodepools"]["train"]["count"] == 3
    assert json.loads(log.read_text())["status"] == 0


def test_fail_rate_and_rate_limit(world: Path) -> None:
    with SimServer(world, "--fail-rate", "1") as server, server.client() as client:
        failed = client.get("/v2/proj/pools")
        assert (failed.status_code, failed.json()["error_code"]) == (500, "ModelArts.50005000")
    with SimServer(world, "--rate-limit", "1") as server, server.client() as client:
        answers = [client.get("/v2/proj/pools") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 429, 429]
        assert answers[1].headers["retry-after"] == "1"
        assert "retry-after" not in answers[2].headers
        assert answers[1].json()["error_code"] == "APIGW.0308"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_refuses_non_loopback_hosts(world: Path, host: str) -> None:
    with pytest.raises(NpError) as err:
        serve(world, host=host)
    assert str(err.value) == (
        f"refusing to listen on {host}: not a loopback address "
        "(pass --allow-remote to expose the simulator)"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"auth": "token"}, "--auth token needs --token"),
        ({"auth": "aksk", "ak": "AK"}, "--auth aksk needs --ak and --sk"),
        ({"auth": "basic"}, "unknown auth mode 'basic': use none, token or aksk"),
    ],
)
def test_incomplete_auth_options(world: Path, options: dict[str, str], message: str) -> None:
    with pytest.raises(NpError) as err:
        serve(world, **options)  # type: ignore[arg-type]
    assert str(err.value) == message


def test_missing_world_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(WorldError) as err:
        serve(tmp_path / "none.json", port=0)
    assert str(err.value) == f"world file not found: {tmp_path / 'none.json'}"


def test_port_in_use_is_an_error(world: Path) -> None:
    with SimServer(world) as server:
        port = int(server.url.rsplit(":", 1)[1])
        with pytest.raises(NpError) as err:
            serve(world, port=port)
    assert str(err.value) == f"cannot listen on 127.0.0.1:{port}: Address already in use"
