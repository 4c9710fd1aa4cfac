"""Which endpoints np will talk to: ``sim://PATH``, ``https://HOST``, and ``http://`` only to
loopback (credentials never cross a network in clear text unless the user insists).

    endpoint_problem("http://10.0.0.5:8787")  # -> "plain http is only allowed to a loopback ..."
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

from reconciler.errors import NpError

SIM_SCHEME = "sim://"
_NO_WORLD = "sim:// endpoint needs a world file path, e.g. sim://world.json"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def endpoint_problem(endpoint: str, allow_insecure_http: bool = False) -> str | None:
    """None when np may use ``endpoint``; otherwise why not (never includes credentials)."""
    if endpoint.startswith(SIM_SCHEME):
        return None if endpoint[len(SIM_SCHEME) :] else _NO_WORLD
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
    except ValueError:
        return "endpoint is not a valid URL"
    if parts.username or parts.password:
        return "endpoint must not contain credentials"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and host:
        if is_loopback(host) or allow_insecure_http:
            return None
        return (
            "plain http is only allowed to a loopback host (127.0.0.1, ::1, localhost), "
            f"not {host!r}; use https://, or pass --allow-insecure-http if you really mean it"
        )
    return "endpoint must be sim://PATH, https://HOST or http://127.0.0.1:PORT"


def resolve_endpoint(configured: str | None, region: str | None, environ: Mapping[str, str]) -> str:
    """``NP_ENDPOINT`` beats ``provider.endpoint``, which beats the region's public endpoint."""
    endpoint = environ.get("NP_ENDPOINT") or configured
    if endpoint:
        return endpoint
    if region:
        return f"https://modelarts.{region}.myhuaweicloud.com"
    raise NpError(
        "provider: no endpoint: set region (or endpoint) in the provider block, "
        "or the NP_ENDPOINT environment variable"
    )


def check_endpoint(
    configured: str | None,
    region: str | None,
    environ: Mapping[str, str],
    allow_insecure_http: bool = False,
    configured_at: str = "provider",
) -> str:
    """The endpoint np will use, or an error naming where it came from and what is wrong."""
    endpoint = resolve_endpoint(configured, region, environ)
    problem = endpoint_problem(endpoint, allow_insecure_http)
    if problem:
        where = "NP_ENDPOINT" if environ.get("NP_ENDPOINT") else f"{configured_at}: endpoint"
        raise NpError(f"{where}: {redacted(endpoint)}: {problem}")
    return endpoint


def redacted(endpoint: str) -> str:
    """The endpoint fit to print: a ``user:password@`` part becomes ``***@``."""
    try:
        parts = urlsplit(endpoint)
        host = parts.netloc.rpartition("@")[2]
        return parts._replace(netloc=f"***@{host}").geturl() if "@" in parts.netloc else endpoint
    except ValueError:
        return "(an endpoint that is not a valid URL)"
