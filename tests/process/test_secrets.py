"""Secrets: a sentinel AK/SK and security token go through plan, plan -out,
apply, drift, -v and a wrong-SK run against `np sim serve --auth aksk`, and appear in no output
and no file np writes; those files are private (0600) whatever the umask; TLS verification
cannot be switched off."""

from __future__ import annotations

import http.server
import json
import shutil
import ssl
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from procs import NP, Fleet, Result, clean_env, fleet
from support import PROVIDER, Workspace, pool_world

from reconciler.cli import cli
from reconciler.state.local_lock import LocalLocker

AK = "AKSENTINEL0000000000"
SK = "SKSENTINEL-9f8e7d6c5b4a39281706"
SECURITY_TOKEN = "TOKSENTINEL-5d4c3b2a19"
WRONG_SK = "SKSENTINEL-wrong-0123456789"
NEVER_SHOWN = (SK, SECURITY_TOKEN, WRONG_SK)
SENTINEL_ENV = {
    "HUAWEICLOUD_SDK_AK": AK,
    "HUAWEICLOUD_SDK_SK": SK,
    "HUAWEICLOUD_SDK_SECURITY_TOKEN": SECURITY_TOKEN,
    "HUAWEICLOUD_SDK_PROJECT_ID": "proj",
}
PRIVATE = 0o600


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def catch_lock(f: Fleet, run: subprocess.Popen[str]) -> tuple[bytes, int]:
    """The lock file's bytes and mode, read while `run` holds it."""
    path = LocalLocker(f.ws.state_path).path
    while run.poll() is None:
        try:
            data, seen_mode = path.read_bytes(), mode(path)
        except FileNotFoundError:
            time.sleep(0.005)
            continue
        if data:
            return data, seen_mode
    raise AssertionError("the apply finished before its lock could be read")


@pytest.mark.usefixtures("umask_022")
def test_sentinel_credentials_never_leak(tmp_path: Path) -> None:
    outputs: list[str] = []
    server_env = {"NP_SIM_AK": AK, "NP_SIM_SK": SK}  # not on the server's command line either
    server_args = ("--auth", "aksk", "--latency-ms", "100")
    with fleet(tmp_path, *server_args, live={"train": 1}, server_env=server_env) as f:
        f.env = dict(SENTINEL_ENV)
        f.configure({"train": 2, "infer": 1})

        def step(code: int, *args: str) -> Result:
            run = f.np(*args)
            assert run.code == code, run.stderr
            outputs.extend((run.stdout, run.stderr))
            return run

        step(0, "plan")
        verbose = step(0, "-v", "plan", "-out", "plan.json")
        assert "Authorization: REDACTED" in verbose.stderr
        assert "X-Security-Token: REDACTED" in verbose.stderr

        applying = f.start("-v", "apply", "plan.json")
        lock, lock_mode = catch_lock(f, applying)
        outputs.extend(applying.communicate(timeout=60))
        assert applying.returncode == 0, outputs[-1]

        world = f.ws.world()
        world["pools"]["pool-prod"]["nodepools"]["train"]["count"] = 5  # changed in the console
        f.ws.world(world)
        step(2, "-v", "drift")
        step(0, "apply", "--auto-approve", "--no-wait")  # reverts it: a second write, a backup

        f.env["HUAWEICLOUD_SDK_SK"] = WRONG_SK
        denied = step(1, "-v", "plan")
        assert "HTTP 401 APIGW.0301" in denied.stderr

    files = {
        "state": f.ws.state_path,
        "backup": Path(f"{f.ws.state_path}.backup"),
        "plan": f.ws.root / "plan.json",
    }
    contents = {name: path.read_bytes() for name, path in files.items()} | {"lock": lock}
    modes = {name: mode(path) for name, path in files.items()} | {"lock": lock_mode}
    assert modes == dict.fromkeys(contents, PRIVATE)
    assert mode(f.ws.state_path.parent) == 0o700
    assert json.loads(lock)["operation"] == "apply"
    for secret in NEVER_SHOWN:
        assert not [i for i, text in enumerate(outputs) if secret in text]
        assert not [name for name, data in contents.items() if secret.encode() in data]
    assert not [name for name, data in contents.items() if AK.encode() in data]


@pytest.mark.parametrize(
    ("key", "variables"),
    [
        ("secret_key", "HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK"),
        ("sk", "HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK"),
        (
            "security_token",
            "HUAWEICLOUD_SDK_SECURITY_TOKEN (with HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK)",
        ),
    ],
)
def test_a_secret_in_the_provider_block_is_refused_without_echo(
    ws: Workspace, key: str, variables: str
) -> None:
    ws.world(pool_world({}))
    ws.write("main.hcl", PROVIDER.replace("}\n", f'  {key} = "{SK}"\n}}\n'))
    for command in (("validate",), ("plan",), ("apply", "--auto-approve")):
        run = ws.np(*command)
        assert (run.code, run.stdout) == (1, "")
        assert run.stderr == (
            f"Error: main.hcl:3: provider: {key}: credentials must not be written in "
            f"configuration; set {variables} instead\n"
        )
    assert not ws.state_path.parent.exists()


@pytest.mark.parametrize("command", ["validate", "plan", "drift"])
def test_credentials_in_np_endpoint_are_refused_without_echo(ws: Workspace, command: str) -> None:
    ws.world(pool_world({}))
    ws.write("main.hcl", PROVIDER)
    run = ws.np(command, env={"NP_ENDPOINT": f"https://admin:{SK}@modelarts.example.com"})
    assert (run.code, run.stdout) == (1, "")
    assert run.stderr.startswith("Error: NP_ENDPOINT: ")
    assert "must not contain credentials" in run.stderr
    assert SK not in run.stderr


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


def test_no_option_turns_tls_verification_off() -> None:
    commands = [(), *all_commands(cli)]
    assert ("sim", "serve") in commands and ("state", "rm") in commands
    flagged: set[str] = set()
    for command in commands:
        result = CliRunner().invoke(cli, [*command, "--help"])
        assert result.exit_code == 0
        for line in result.output.lower().splitlines():
            if any(word in line for word in ("insecure", "verify", "tls", "ssl", "cert")):
                flagged.add(line.split()[0])
    assert flagged == {"--allow-insecure-http"}


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


class _Anything(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.requests += 1  # type: ignore[attr-defined]
        body = b'{"apiVersion": "v2", "kind": "PoolList", "items": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Silence: the test reads `requests`."""


def test_a_self_signed_endpoint_is_refused_even_with_allow_insecure_http(tmp_path: Path) -> None:
    key, cert = self_signed(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Anything)
    server.requests = 0  # type: ignore[attr-defined]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ws = Workspace(tmp_path)
    endpoint = f"https://127.0.0.1:{server.server_address[1]}"
    ws.write("main.hcl", f'provider "modelarts" {{\n  endpoint = "{endpoint}"\n}}\n')
    try:
        assert NP is not None
        run = subprocess.run(
            [NP, "plan", "--allow-insecure-http"],
            cwd=tmp_path,
            env=clean_env(SENTINEL_ENV),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.shutdown()
    assert (run.returncode, run.stdout) == (1, "")
    [line] = run.stderr.splitlines()
    assert line.startswith(
        f"Error: GET /v2/proj/pools: TLS verification of 127.0.0.1:{server.server_address[1]} "
        "failed ([SSL: "
        "CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate"
    )
    assert line.endswith("np always verifies certificates")
    assert "after" not in line  # refused at once: a bad certificate is not retried
    assert server.requests == 0  # type: ignore[attr-defined]
    assert SK not in run.stderr
