"""`np sim serve` as a real process: announcement, auth, faults, request log, persistence."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
import pytest

from reconciler.errors import NpError
from reconciler.sim.launch import SimServer
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


def connect(server: SimServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=5)


def test_serves_at_once_persists_and_logs(world_path: Path, tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    server = SimServer(world_path, "--scale-seconds", "0", request_log=log)
    with server, connect(server) as http:
        # no retry loop: the announcement promises the socket already accepts
        assert http.get("/v2/proj/pools").status_code == 200
        patched = http.patch(NODEPOOL, json=PATCH)
        assert patched.json()["status"]["resources"]["available"]["count"] == 3  # override: 0 s
        assert http.get("/v2/proj/pools/nope").status_code == 404
        server.flush()  # the file holds the PATCH: edit the current world, not an old one
        edited = json.loads(world_path.read_text())
        edited["pools"]["pool-a"]["nodepools"]["train"]["labels"] = {"by": "console"}
        world_path.write_text(json.dumps(edited))
        assert http.get(NODEPOOL).json()["spec"]["resources"]["labels"] == {"by": "console"}
    assert server.returncode == 0
    assert server.stderr == ""
    saved = json.loads(world_path.read_text())["pools"]["pool-a"]["nodepools"]["train"]
    assert (saved["count"], saved["labels"]) == (3, {"by": "console"})
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/v2/proj/pools", 200),
        ("PATCH", NODEPOOL, 200),
        ("GET", "/v2/proj/pools/nope", 404),
        ("GET", NODEPOOL, 200),
    ]


def test_token_auth_from_environment(world_path: Path) -> None:
    server = SimServer(
        world_path, "--auth", "token", env={"NP_SIM_TOKEN": "tok"}, stop=signal.SIGINT
    )
    with server, connect(server) as http:
        assert http.get("/v2/proj/pools", headers={"X-Auth-Token": "tok"}).status_code == 200
        denied = http.get("/v2/proj/pools", headers={"X-Auth-Token": "nope"})
        assert denied.status_code == 401
        assert denied.json()["error_code"] == "APIGW.0301"
    assert (server.returncode, server.stderr) == (0, "")  # Ctrl-C is a normal stop


def test_drop_rate_closes_the_connection_without_an_answer(
    world_path: Path, tmp_path: Path
) -> None:
    log = tmp_path / "requests.jsonl"
    server = SimServer(world_path, "--drop-rate", "1", request_log=log)
    with server, connect(server) as http, pytest.raises(httpx.RemoteProtocolError):
        http.patch(NODEPOOL, json=PATCH)
    assert server.stderr == ""
    assert json.loads(world_path.read_text())["pools"]["pool-a"]["nodepools"]["train"]["count"] == 3
    assert json.loads(log.read_text())["status"] == 0


def test_fail_rate_and_rate_limit(world_path: Path) -> None:
    with SimServer(world_path, "--fail-rate", "1") as server, connect(server) as http:
        failed = http.get("/v2/proj/pools")
        assert (failed.status_code, failed.json()["error_code"]) == (500, "ModelArts.50005000")
    with SimServer(world_path, "--rate-limit", "1") as server, connect(server) as http:
        answers = [http.get("/v2/proj/pools") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 429, 429]
        assert answers[1].headers["retry-after"] == "1"
        assert "retry-after" not in answers[2].headers
        assert answers[1].json()["error_code"] == "APIGW.0308"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_refuses_non_loopback_hosts(world_path: Path, host: str) -> None:
    with pytest.raises(NpError) as err:
        serve(world_path, host=host)
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
def test_incomplete_auth_options(world_path: Path, options: dict[str, str], message: str) -> None:
    with pytest.raises(NpError) as err:
        serve(world_path, **options)  # type: ignore[arg-type]
    assert str(err.value) == message


def test_missing_world_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(WorldError) as err:
        serve(tmp_path / "none.json", port=0)
    assert str(err.value) == f"world file not found: {tmp_path / 'none.json'}"


def test_port_in_use_is_an_error(world_path: Path) -> None:
    with SimServer(world_path) as server:
        port = int(server.url.rsplit(":", 1)[1])
        with pytest.raises(NpError) as err:
            serve(world_path, port=port)
    assert str(err.value) == f"cannot listen on 127.0.0.1:{port}: Address already in use"


@pytest.mark.parametrize(
    ("options", "credentials"),
    [
        (
            (),
            "Credentials: none are checked. With no credential variables set, np sends none to "
            "a loopback http endpoint.",
        ),
        (
            ("--auth", "token", "--token", "tok-sentinel-31"),
            "Credentials: set HW_AUTH_TOKEN to the --token value, and HW_PROJECT_ID to any "
            "project id.",
        ),
        (
            ("--auth", "aksk", "--ak", "AK-sentinel-31", "--sk", "SK-sentinel-31"),
            "Credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK to the --ak and --sk "
            "values, and HUAWEICLOUD_SDK_PROJECT_ID to any project id.",
        ),
    ],
)
def test_the_banner_shows_the_provider_block_and_which_credentials(
    world_path: Path, options: tuple[str, ...], credentials: str
) -> None:
    """The first line is the contract scripts wait for; the rest is for a person to paste."""
    with SimServer(world_path, *options) as server:
        first = server.banner
    assert first == f"np sim listening on {server.url}\n"
    assert server.banner == (
        f"np sim listening on {server.url}\n"
        "Point a configuration at it with:\n"
        '  provider "modelarts" {\n'
        f'    endpoint = "{server.url}"\n'
        "  }\n"
        f"{credentials}\n"
    )
    assert "sentinel" not in server.banner
