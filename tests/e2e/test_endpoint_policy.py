"""Endpoints are the operator's decision: a configuration (which a pull request may write) can
only point np at Huawei Cloud's own service domains, loopback, or a world file inside its own
directory; the environment (NP_ENDPOINT, NP_ALLOWED_ENDPOINTS) allows anything else. A refused
endpoint is refused before any connection, and no credential ever leaves np for it."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import PROVIDER, Workspace, pool_world

from reconciler.endpoint import (
    HUAWEI_CLOUD_SUFFIXES,
    check_config_endpoint,
    check_endpoint,
    endpoint_problem,
)
from reconciler.errors import NpError

EXFIL = "np-exfil.invalid"
SENTINEL = "TOKSENTINEL-endpoint-4c1d9e"
TOKEN_ENV = {"HW_AUTH_TOKEN": SENTINEL, "HW_PROJECT_ID": "proj"}
WORLD = pool_world({"train": {"flavor": "f", "count": 1, "maxCount": 1}})


def refusal(host: str, service: str = "modelarts", where: str = "provider: endpoint") -> str:
    return (
        f"{where}: {host} is not a Huawei Cloud {service} endpoint "
        f"({service}.REGION.myhuaweicloud.com or another official domain) nor a loopback host. "
        "np does not take other endpoints from configuration files, so that a change to a "
        "configuration cannot send credentials somewhere new; to allow this one, set "
        f"NP_ALLOWED_ENDPOINTS={host} (or NP_ENDPOINT) in the environment"
    )


def provider_check(
    endpoint: str | None,
    environ: dict[str, str] | None = None,
    *,
    region: str | None = None,
    config_dir: Path | None = None,
    allow_insecure_http: bool = False,
) -> str:
    return check_endpoint(
        endpoint, region, environ or {}, allow_insecure_http, "provider", config_dir=config_dir
    )


def refused(*args: object, **kwargs: object) -> str:
    with pytest.raises(NpError) as caught:
        provider_check(*args, **kwargs)  # type: ignore[arg-type]
    return str(caught.value)


# --- allowed forms --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://modelarts.cn-north-4.myhuaweicloud.com",
        "https://modelarts.cn-north-4.myhuaweicloud.com:443/",
        "https://MODELARTS.CN-NORTH-4.MYHUAWEICLOUD.COM",
        "https://modelarts.ap-southeast-1.myhuaweicloud.cn",
        "https://modelarts.la-south-2.huaweicloud.com",
        "https://modelarts.ru-moscow-1.myhwclouds.com",
        "http://127.0.0.1:8787",
        "http://127.9.9.9",
        "http://localhost:8787/",
        "http://[::1]:8787",
        "https://127.0.0.1:8443",
    ],
)
def test_official_domains_and_loopback_are_allowed(endpoint: str) -> None:
    assert provider_check(endpoint) == endpoint


def test_the_official_suffixes_are_those_the_sdk_recognises() -> None:
    """The list comes from huaweicloudsdkcore's own pattern for Huawei Cloud service hosts."""
    from huaweicloudsdkcore.auth.credentials import DerivedCredentials

    pattern = DerivedCredentials._DEFAULT_ENDPOINT_REG
    import re

    for suffix in HUAWEI_CLOUD_SUFFIXES:
        assert re.match(pattern, f"modelarts.cn-north-4.{suffix}"), suffix


def test_the_region_endpoint_is_allowed() -> None:
    assert provider_check(None, region="cn-north-4") == (
        "https://modelarts.cn-north-4.myhuaweicloud.com"
    )


def test_the_obs_endpoint_for_the_s3_backend() -> None:
    where = 'main.hcl:9: backend "s3": endpoint'
    check_config_endpoint("https://obs.cn-north-4.myhuaweicloud.com", "obs", {}, where=where)
    check_config_endpoint("http://127.0.0.1:9000", "obs", {}, where=where)
    with pytest.raises(NpError) as bucket:  # a bucket's own host: whoever owns the bucket
        check_config_endpoint(
            "https://their-bucket.obs.cn-north-4.myhuaweicloud.com", "obs", {}, where=where
        )
    assert str(bucket.value) == refusal(
        "their-bucket.obs.cn-north-4.myhuaweicloud.com", "obs", where
    )
    with pytest.raises(NpError) as sim:
        check_config_endpoint("sim://world.json", "obs", {}, where=where)
    assert (
        str(sim.value) == f"{where}: sim://world.json: sim:// is only for the provider's endpoint"
    )


def test_sim_paths_inside_the_configuration_directory(tmp_path: Path) -> None:
    (tmp_path / "worlds").mkdir()
    (tmp_path / "worlds" / "a.json").write_text("{}")
    (tmp_path / "link.json").symlink_to(tmp_path / "worlds" / "a.json")
    for endpoint in ("sim://world.json", "sim://worlds/a.json", "sim://./link.json"):
        assert provider_check(endpoint, config_dir=tmp_path) == endpoint


@pytest.mark.parametrize(
    ("allowed", "endpoint"),
    [
        ("proxy.corp.example", "https://proxy.corp.example/modelarts"),
        (" other.example , proxy.corp.example:8443", "https://proxy.corp.example:8443"),
        ("https://proxy.corp.example:8443/", "https://proxy.corp.example:8443"),
        ("proxy.corp.example:80", "http://proxy.corp.example"),
        ("[2001:db8::1]", "https://[2001:db8::1]:8443"),
    ],
)
def test_np_allowed_endpoints_allows_hosts(allowed: str, endpoint: str) -> None:
    environ = {"NP_ALLOWED_ENDPOINTS": allowed}
    assert provider_check(endpoint, environ, allow_insecure_http=True) == endpoint


def test_np_allowed_endpoints_allows_world_files(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    shared = tmp_path / "shared" / "world.json"
    environ = {"NP_ALLOWED_ENDPOINTS": f"sim://{shared},sim://../elsewhere.json"}
    assert provider_check(f"sim://{shared}", environ, config_dir=config) == f"sim://{shared}"
    assert provider_check("sim://../elsewhere.json", environ, config_dir=config)
    assert provider_check("sim://../elsewhere.json", environ)  # unresolved, as written


def test_np_endpoint_is_used_as_it_is() -> None:
    environ = {"NP_ENDPOINT": "https://anything.example"}
    assert provider_check("https://ignored.example", environ) == "https://anything.example"
    assert provider_check(None, {"NP_ENDPOINT": "sim:///srv/world.json"}) == "sim:///srv/world.json"


# --- refused forms --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "host"),
    [
        (f"https://{EXFIL}", EXFIL),
        ("https://modelarts.cn-north-4.myhuaweicloud.com.evil.example", None),
        ("https://modelarts.cn-north-4.myhuaweicloud.com.", None),
        ("https://obs.cn-north-4.myhuaweicloud.com", None),  # another service
        ("https://modelarts.myhuaweicloud.com", None),  # no region
        ("https://x.modelarts.cn-north-4.myhuaweicloud.com", None),
        ("https://modelarts.cn-north-4.evilhuaweicloud.com", None),
        ("https://10.0.0.8", None),
        ("https://2130706433", None),  # 127.0.0.1 spelled as a number: not loopback to np
    ],
)
def test_other_https_hosts_are_refused_naming_host_and_remedy(
    endpoint: str, host: str | None
) -> None:
    shown = host or (httpx.URL(endpoint).host)
    assert refused(endpoint) == refusal(shown)


def test_plain_http_elsewhere_is_refused_even_with_allow_insecure_http() -> None:
    assert refused("http://10.1.2.3:8787") == (
        "provider: endpoint: http://10.1.2.3:8787: plain http is only allowed to a loopback "
        "host (127.0.0.1, ::1, localhost), not '10.1.2.3'; use https://, or pass "
        "--allow-insecure-http if you really mean it"
    )
    assert refused("http://10.1.2.3:8787", allow_insecure_http=True) == refusal("10.1.2.3")


def test_a_region_cannot_smuggle_a_host() -> None:
    message = refused(None, region="evil.example/x")
    assert message == refusal("modelarts.evil.example", where="provider: region")


def test_allowing_one_host_or_port_allows_no_other() -> None:
    environ = {"NP_ALLOWED_ENDPOINTS": "proxy.corp.example:8443,,not a host:x"}
    assert refused("https://proxy.corp.example", environ) == refusal("proxy.corp.example")
    assert refused(f"https://{EXFIL}", environ) == refusal(EXFIL)


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        (
            "sim:///etc/hostname",
            "a world file path must be relative to the configuration directory",
        ),
        (
            "sim://../outside/world.json",
            "a world file path must not leave the configuration directory with ..",
        ),
        (
            "sim://worlds/../../world.json",
            "a world file path must not leave the configuration directory with ..",
        ),
        (
            "sim://link.json",
            "the world file resolves (through a symbolic link) to a file outside the "
            "configuration directory",
        ),
    ],
)
def test_sim_paths_outside_the_configuration_directory_are_refused(
    tmp_path: Path, endpoint: str, problem: str
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "link.json").symlink_to(tmp_path / "secret.json")
    assert refused(endpoint, config_dir=config) == (
        f"provider: endpoint: {endpoint}: {problem}; to allow it, set "
        f"NP_ALLOWED_ENDPOINTS={endpoint} (or NP_ENDPOINT={endpoint}) in the environment"
    )


PRINTABLE = "only printable ASCII is allowed (write an international host name in its xn-- form)"
HUAWEI = "modelarts.cn-north-4.myhuaweicloud.com"


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("https://" + HUAWEI.replace("4", "\u0664"), f"endpoint contains '\\u0664': {PRINTABLE}"),
        (f"https://{HUAWEI}\t", f"endpoint contains '\\t': {PRINTABLE}"),
        (f"https://mod\t{HUAWEI[3:]}", f"endpoint contains '\\t': {PRINTABLE}"),
        ("http://127.0.0.1:8787/\n", f"endpoint contains '\\n': {PRINTABLE}"),
        ("https://exa mple.example", f"endpoint contains ' ': {PRINTABLE}"),
        ("https://\uff4d" + HUAWEI[1:], f"endpoint contains '\\uff4d': {PRINTABLE}"),
        ("https://b\u00fccher.example", f"endpoint contains '\\xfc': {PRINTABLE}"),
        ("https://ex%41mple.example", "'ex%41mple.example' is not a host name or an IP address"),
        ("https://-a.example", "'-a.example' is not a host name or an IP address"),
        ("https://a..example", "'a..example' is not a host name or an IP address"),
        ("https://[v1.x]/", "'[v1.x]' is not a host name or an IP address"),
    ],
)  # fmt: skip
def test_a_host_an_http_client_would_not_read_as_checked_is_refused(
    endpoint: str, problem: str
) -> None:
    """Python's URL parser drops a tab that httpx refuses, and ``\\d`` took the Arabic-Indic
    digit ``٤`` that IDNA refuses: such hosts passed the policy, then crashed the client. They
    are refused by the policy, from a file or from NP_ENDPOINT, with the value not shown."""
    assert refused(endpoint) == f"provider: endpoint: {problem}"
    assert refused(None, {"NP_ENDPOINT": endpoint}) == f"NP_ENDPOINT: {problem}"
    allowed = {"NP_ALLOWED_ENDPOINTS": "*"}
    assert refused(endpoint, allowed) == f"provider: endpoint: {problem}"


def test_a_region_with_other_digits_is_refused() -> None:
    assert refused(None, region="cn-north-\u0664") == (
        f"provider: region: endpoint contains '\\u0664': {PRINTABLE}"
    )


@given(
    st.sampled_from(["https://", "http://127.0.0.1:8787", "https://modelarts.cn-north-4."]),
    st.text(alphabet="aZ09-._%\u0664\t \n\u00fc\uff21[]:@/\\#?\x00", max_size=24),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_an_endpoint_the_policy_passes_is_the_one_httpx_reads(head: str, tail: str) -> None:
    """Whatever the policy accepts, httpx parses without error and sees the same host."""
    endpoint = head + tail
    if endpoint_problem(endpoint, allow_insecure_http=True) is not None:
        return
    client = httpx.AsyncClient(base_url=endpoint)
    assert client.base_url.raw_host.decode().lower() == urlsplit(endpoint).hostname


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("https://host:abc/?token=NPSECRET", "NP_ENDPOINT: endpoint is not a valid URL"),
        ("https://[::1/?token=NPSECRET", "NP_ENDPOINT: endpoint is not a valid URL"),
        ("https://user:NPSECRET@proxy.example/x?t=NPSECRET",
         "NP_ENDPOINT: https://proxy.example: endpoint must not contain credentials"),
        ("http://10.0.0.8:8080/api?token=NPSECRET",
         "NP_ENDPOINT: http://10.0.0.8:8080: plain http is only allowed to a loopback host "
         "(127.0.0.1, ::1, localhost), not '10.0.0.8'; use https://, or pass "
         "--allow-insecure-http if you really mean it"),
        ("ftp://host/NPSECRET", "NP_ENDPOINT: ftp://host: endpoint must be sim://PATH, "
         "https://HOST or http://127.0.0.1:PORT"),
        ("NPSECRET", "NP_ENDPOINT: endpoint must be sim://PATH, https://HOST or "
         "http://127.0.0.1:PORT"),
    ],
)  # fmt: skip
def test_np_endpoint_is_shown_as_scheme_and_host_at_most(value: str, message: str) -> None:
    """NP_ENDPOINT may hold a token in its user part or query: an error shows scheme://host,
    or nothing of the value when it does not parse."""
    assert refused(None, {"NP_ENDPOINT": value}) == message


# --- as a user sees it ----------------------------------------------------------------------------


def configure(ws: Workspace, endpoint: str) -> None:
    ws.write("main.hcl", PROVIDER.replace("sim://world.json", endpoint))
    ws.world(WORLD)


@pytest.mark.parametrize("command", ["validate", "plan", "apply", "drift"])
def test_a_refused_endpoint_is_one_line_and_sends_nothing(ws: Workspace, command: str) -> None:
    configure(ws, f"https://{EXFIL}")
    args = (command, "--auto-approve") if command == "apply" else (command,)
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as network:
        run = ws.np(*args, env=TOKEN_ENV)
    assert (run.code, run.stdout) == (1, "")
    assert run.stderr == f"Error: main.hcl:2: {refusal(EXFIL)}\n"
    assert network.calls.call_count == 0
    assert SENTINEL not in run.stderr
    assert not ws.state_path.exists()


@pytest.mark.parametrize(
    ("commands", "provider", "environ", "message"),
    [
        (
            ("plan",),  # np validate checks no region: it makes no request
            'region = "cn-north-\u0664"',
            {},
            f"main.hcl:1: provider: region: endpoint contains '\\u0664': {PRINTABLE}",
        ),
        (
            ("validate", "plan"),
            f'endpoint = "https://{HUAWEI}\\t"',
            {},
            f"main.hcl:2: provider: endpoint: endpoint contains '\\t': {PRINTABLE}",
        ),
        (
            ("validate", "plan"),
            'region = "cn-north-4"',
            {"NP_ENDPOINT": "https://user:NPSECRET@proxy.example:x/?token=NPSECRET"},
            "NP_ENDPOINT: endpoint is not a valid URL",
        ),
    ],
)
def test_an_endpoint_no_client_could_use_is_one_error_and_no_request(
    ws: Workspace, commands: tuple[str, ...], provider: str, environ: dict[str, str], message: str
) -> None:
    ws.write("main.hcl", f'provider "modelarts" {{\n  {provider}\n}}\n')
    for command in commands:
        with respx.mock(assert_all_mocked=True, assert_all_called=False) as network:
            run = ws.np(command, env={**TOKEN_ENV, **environ})
        assert (run.code, run.stdout, run.stderr) == (1, "", f"Error: {message}\n")
        assert network.calls.call_count == 0


def test_the_sentinel_reaches_an_allowed_host_and_no_refused_one(ws: Workspace) -> None:
    """The same instrument sees the token when the operator allows the host: so its silence
    for the refused endpoint above means nothing was sent, not that nothing was watched."""
    configure(ws, f"https://{EXFIL}")
    with respx.mock(assert_all_mocked=True) as network:
        route = network.get(host=EXFIL).respond(200, json={"items": []})
        ws.np("plan", env={**TOKEN_ENV, "NP_ALLOWED_ENDPOINTS": EXFIL})
    assert route.call_count == 1
    assert route.calls[0].request.headers["X-Auth-Token"] == SENTINEL

    with respx.mock(assert_all_mocked=True, assert_all_called=False) as network:
        run = ws.np("plan", env={**TOKEN_ENV, "NP_ALLOWED_ENDPOINTS": "other.example"})
    assert run.code == 1 and network.calls.call_count == 0
    assert SENTINEL not in run.stderr


def test_a_world_file_outside_is_neither_read_nor_written(ws: Workspace, tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside.json"
    secret = {"pools": {"secret-pool-name": {"type": "Logical", "nodepools": {}}}}
    outside.write_text(json.dumps(secret))
    (ws.root / "world.json").symlink_to(outside)
    ws.write(
        "main.hcl", PROVIDER + 'nodepool "n" {\n  pool = "p"\n  flavor = "f"\n  count = 1\n}\n'
    )
    for command in ("plan", "apply"):
        run = ws.np(command, "--auto-approve") if command == "apply" else ws.np(command)
        assert run.code == 1
        assert run.stderr == (
            "Error: main.hcl:2: provider: endpoint: sim://world.json: the world file resolves "
            "(through a symbolic link) to a file outside the configuration directory; to allow "
            "it, set NP_ALLOWED_ENDPOINTS=sim://world.json (or NP_ENDPOINT=sim://world.json) in "
            "the environment\n"
        )
        assert "secret-pool-name" not in run.stderr + run.stdout
    assert json.loads(outside.read_text()) == secret


def test_an_absolute_world_path_is_refused_without_opening_it(ws: Workspace) -> None:
    configure(ws, "sim:///etc/hostname")
    run = ws.np("plan")
    assert run.code == 1
    assert run.stderr.startswith(
        "Error: main.hcl:2: provider: endpoint: sim:///etc/hostname: a world file path must be "
        "relative to the configuration directory"
    )
    assert "invalid JSON" not in run.stderr


def test_an_allowed_world_outside_the_directory_works(ws: Workspace, tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-shared.json"
    outside.write_text(json.dumps(WORLD))
    configure(ws, f"sim://{outside}")
    run = ws.np("plan", env={"NP_ALLOWED_ENDPOINTS": f"sim://{outside}"})
    assert run.code == 0, run.stderr
