"""Which endpoints np will talk to: ``sim://PATH``, ``https://HOST``, and ``http://`` only to
loopback (credentials never cross a network in clear text unless the user insists).

    endpoint_problem("http://10.0.0.5:8787")  # -> "plain http:// is only allowed to a loopback ..."
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

SIM_SCHEME = "sim://"


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
        return None if endpoint[len(SIM_SCHEME) :] else "sim:// needs a world file path"
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
    except ValueError:
        return "not a valid URL"
    if parts.username or parts.password:
        return "credentials must not be written in the endpoint URL"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and host:
        if is_loopback(host) or allow_insecure_http:
            return None
        return (
            "plain http:// is only allowed to a loopback address (127.0.0.1, ::1, localhost); "
            "use https://, or pass --allow-insecure-http if you really mean it"
        )
    return "expected sim://PATH, https://HOST or http://127.0.0.1:PORT"
