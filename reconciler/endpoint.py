"""Which endpoints np will talk to, and who gets to say so.

Configuration files may come from a pull request, while credentials come from the environment
of whoever runs np. So an endpoint written in a configuration file (or derived from its
`region`) is limited to:

- Huawei Cloud's own domains for the service: ``{service}.{region}.{suffix}`` with a suffix
  from ``HUAWEI_CLOUD_SUFFIXES``, over https;
- loopback hosts (127.0.0.0/8, ::1, localhost), where plain http is fine: simulators;
- ``sim://PATH`` with PATH inside the configuration directory (relative, no ``..``, symbolic
  links resolved), for the provider only.

The operator widens this from the environment, never from a file: ``NP_ENDPOINT`` (used as
it is, instead of the configuration's) and ``NP_ALLOWED_ENDPOINTS`` (comma-separated hosts,
``host:port`` or ``sim://PATH`` entries). Everything is checked before any connection.

Separately, plain ``http://`` only goes to loopback unless ``--allow-insecure-http`` is given:
credentials never cross a network in clear text unless the user insists.

Messages never carry a secret: an endpoint is printed as ``scheme://host[:port]`` at most
(`shown`), and whatever an endpoint sends back is printed through `redact`, which every place
that shows a server's words uses.

    check_config_endpoint("https://obs.cn-north-4.myhuaweicloud.com", "obs", os.environ,
                          where='main.hcl:9: backend "s3": endpoint')   # passes
    check_config_endpoint("https://evil.example", "modelarts", {}, where="provider: endpoint")
    # NpError: provider: endpoint: evil.example is not ... set NP_ALLOWED_ENDPOINTS=evil.example
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from urllib.parse import SplitResult, quote, urlsplit

from reconciler.errors import NpError

SIM_SCHEME = "sim://"
ALLOW_VARIABLE = "NP_ALLOWED_ENDPOINTS"
HUAWEI_CLOUD_SUFFIXES = (
    "myhuaweicloud.com",
    "myhuaweicloud.cn",
    "huaweicloud.com",
    "huaweicloud.cn",
    "myhwclouds.com",
    "myhwclouds.cn",
)
"""The domains of Huawei Cloud's service endpoints, as the official Python SDK
(huaweicloudsdkcore 3.1.219) recognises them: ``DerivedCredentials._DEFAULT_ENDPOINT_REG`` in
``huaweicloudsdkcore/auth/credentials.py``. Its region tables (``ModelArtsRegion`` in
``huaweicloudsdkmodelarts/v1/region/modelarts_region.py``) use the first two."""
_REGION = r"[a-z]{2,}-[a-z]+-[0-9]{1,3}"
"""A region id as the SDK's pattern writes it: ``cn-north-4``, ``ap-southeast-1`` (ASCII digits
only: ``\\d`` would take ``cn-north-٤``, a host no HTTP client can reach)."""
_SUFFIX = "(?:" + "|".join(map(re.escape, HUAWEI_CLOUD_SUFFIXES)) + ")"
_NO_WORLD = "sim:// endpoint needs a world file path, e.g. sim://world.json"
_HOST_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"(?:{_HOST_LABEL}\.)*{_HOST_LABEL}\.?", re.IGNORECASE)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_host(host: str) -> bool:
    """A host every HTTP client reads alike: an IP address (IPv6 bare or in brackets, as a URL
    writes it), or a DNS name of ASCII letters, digits, ``-`` and ``_`` (an international name
    in its ``xn--`` form)."""
    bracketed = host.startswith("[") and host.endswith("]")
    try:
        address = ipaddress.ip_address(host[1:-1] if bracketed else host)
    except ValueError:
        return not bracketed and len(host) <= 253 and _HOST_NAME.fullmatch(host) is not None
    return address.version == 6 or not bracketed


def _url_host(parts: SplitResult) -> str:
    """The host as the URL writes it: urlsplit drops the brackets that say "IPv6 only"."""
    host = parts.hostname or ""
    return f"[{host}]" if "[" in parts.netloc else host


def _unprintable(text: str) -> str | None:
    """The first character of `text` that is not printable ASCII (a space, a tab, ``٤``)."""
    return next((char for char in text if not "!" <= char <= "~"), None)


def endpoint_problem(endpoint: str, allow_insecure_http: bool = False) -> str | None:
    """None when the endpoint's shape and transport are acceptable; otherwise why not (never
    includes credentials). Whose host it is, is `check_config_endpoint`'s question.

    Only printable ASCII is accepted: Python's URL parser drops a tab that httpx refuses, and a
    digit such as ``٤`` passes a pattern but not IDNA, so the host this module approved would not
    be the one the client sees, or the client would crash on it."""
    if endpoint.startswith(SIM_SCHEME):
        return None if endpoint[len(SIM_SCHEME) :] else _NO_WORLD
    odd = _unprintable(endpoint)
    if odd is not None:
        return (
            f"endpoint contains {odd!a}: only printable ASCII is allowed (write an "
            "international host name in its xn-- form)"
        )
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        return "endpoint is not a valid URL"
    if parts.username or parts.password:
        return "endpoint must not contain credentials"
    if host and not is_host(_url_host(parts)):
        return f"{_url_host(parts)!r} is not a host name or an IP address"
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


OVERRIDE_VARIABLE = "NP_ENDPOINT"


def endpoint_variable(alias: str | None = None, key: str | None = None) -> str:
    """The environment variable that overrides one provider's endpoint: ``NP_ENDPOINT`` for
    the default provider, ``NP_ENDPOINT_HK`` for ``modelarts.hk`` and
    ``NP_ENDPOINT_REGION_CN_NORTH_4`` for ``modelarts.region["cn-north-4"]``. Each provider
    has its own, so that redirecting one region never sends another region's requests there."""
    if alias is None:
        return OVERRIDE_VARIABLE
    parts = [alias] if key is None else [alias, key]
    return "_".join([OVERRIDE_VARIABLE, *(re.sub(r"[^A-Z0-9]", "_", p.upper()) for p in parts)])


def resolve_endpoint(
    configured: str | None,
    region: str | None,
    environ: Mapping[str, str],
    variable: str = OVERRIDE_VARIABLE,
    configured_at: str = "provider",
) -> str:
    """The operator's override (``variable``: ``NP_ENDPOINT`` for the default provider) beats
    the provider's ``endpoint``, which beats the region's public endpoint."""
    endpoint = environ.get(variable) or configured
    if endpoint:
        return endpoint
    if region:
        return f"https://modelarts.{region}.myhuaweicloud.com"
    raise NpError(
        f"{configured_at}: no endpoint: set region (or endpoint) in the provider block, "
        f"or the {variable} environment variable"
    )


def check_endpoint(
    configured: str | None,
    region: str | None,
    environ: Mapping[str, str],
    allow_insecure_http: bool = False,
    configured_at: str = "provider",
    config_dir: Path | None = None,
    variable: str = OVERRIDE_VARIABLE,
) -> str:
    """The provider endpoint np will use, or an error naming where it came from and what is
    wrong. Without ``config_dir`` a ``sim://`` path is checked as written, not resolved.
    ``variable`` is the provider's override in the environment (see ``endpoint_variable``)."""
    endpoint = resolve_endpoint(configured, region, environ, variable, configured_at)
    if environ.get(variable):
        problem = endpoint_problem(endpoint, allow_insecure_http)
        if problem:
            raise _refusal(variable, endpoint, problem)
        return endpoint
    where = f"{configured_at}: endpoint" if configured else f"{configured_at}: region"
    check_config_endpoint(
        endpoint,
        "modelarts",
        environ,
        where=where,
        config_dir=config_dir,
        allow_insecure_http=allow_insecure_http,
        override=variable,
    )
    return endpoint


def check_config_endpoint(
    url: str,
    service: str,
    environ: Mapping[str, str],
    *,
    where: str,
    config_dir: Path | None = None,
    allow_insecure_http: bool = False,
    override: str = OVERRIDE_VARIABLE,
) -> None:
    """Refuse (NpError, before any connection) an endpoint from a configuration file that is
    not one of `service`'s own Huawei Cloud endpoints, a loopback host, a ``sim://`` path inside
    `config_dir` (provider only), or allowed by the operator in ``NP_ALLOWED_ENDPOINTS``.

    `service` is the endpoint's first label: ``modelarts`` for the provider, ``obs`` for the
    s3 state backend. `where` names the setting in messages (``main.hcl:3: provider:
    endpoint``). The message names the host and how to allow it (``override``: the variable
    that would replace this endpoint), never credentials.
    """
    problem = endpoint_problem(url, allow_insecure_http)
    if problem:
        raise _refusal(where, url, problem)
    hosts, worlds = _allowed(environ)
    if url.startswith(SIM_SCHEME):
        _check_sim_path(url[len(SIM_SCHEME) :], service, worlds, where, config_dir, override)
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if is_loopback(host) or (host, None) in hosts or (host, port) in hosts:
        return
    if re.fullmatch(rf"{re.escape(service)}\.{_REGION}\.{_SUFFIX}", host):
        return
    raise NpError(
        f"{where}: {host} is not a Huawei Cloud {service} endpoint "
        f"({service}.REGION.myhuaweicloud.com or another official domain) nor a loopback host. "
        "np does not take other endpoints from configuration files, so that a change to a "
        "configuration cannot send credentials somewhere new; to allow this one, set "
        f"{ALLOW_VARIABLE}={_host_entry(host)} (or {override}) in the environment"
    )


def _check_sim_path(
    path: str,
    service: str,
    worlds: list[str],
    where: str,
    config_dir: Path | None,
    override: str,
) -> None:
    """A world file the configuration may name: inside its directory, or allowed by path."""
    shown = f"{SIM_SCHEME}{path}"
    if service != "modelarts":
        raise NpError(f"{where}: {shown}: sim:// is only for the provider's endpoint")
    if _world_key(path, config_dir) in {_world_key(world, config_dir) for world in worlds}:
        return
    how = f"; to allow it, set {ALLOW_VARIABLE}={shown} (or {override}={shown}) in the environment"
    pure = PurePosixPath(path)
    if pure.is_absolute():
        raise NpError(
            f"{where}: {shown}: a world file path must be relative to the configuration "
            f"directory{how}"
        )
    if ".." in pure.parts:
        raise NpError(
            f"{where}: {shown}: a world file path must not leave the configuration directory "
            f"with ..{how}"
        )
    if config_dir is not None:
        root = config_dir.resolve()
        if not (root / path).resolve().is_relative_to(root):
            raise NpError(
                f"{where}: {shown}: the world file resolves (through a symbolic link) to a file "
                f"outside the configuration directory{how}"
            )


def _allowed(environ: Mapping[str, str]) -> tuple[set[tuple[str, int | None]], list[str]]:
    """NP_ALLOWED_ENDPOINTS: (host, port) pairs (port None: any port; an entry may also be a
    whole URL), and sim:// paths."""
    hosts: set[tuple[str, int | None]] = set()
    worlds: list[str] = []
    for raw in environ.get(ALLOW_VARIABLE, "").split(","):
        entry = raw.strip()
        if entry.startswith(SIM_SCHEME):
            worlds.append(entry[len(SIM_SCHEME) :])
            continue
        try:
            parts = urlsplit(entry if "://" in entry else f"//{entry}")
            port = parts.port
        except ValueError:
            continue  # not a host: it allows nothing
        if parts.hostname:
            hosts.add((parts.hostname, port))
    return hosts, worlds


def _world_key(path: str, config_dir: Path | None) -> str:
    """How sim:// paths compare: resolved from the configuration directory when known."""
    return str((config_dir / path).resolve()) if config_dir is not None else path


def _host_entry(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def shown(endpoint: str) -> str | None:
    """The part of an endpoint fit to print: ``scheme://host[:port]`` (a ``sim://`` path as
    written). A user, path or query may hold a secret and is never shown; None when the endpoint
    does not parse into such a part."""
    if endpoint.startswith(SIM_SCHEME):
        return endpoint
    if _unprintable(endpoint) is not None:
        return None  # the parser would drop a tab, say: what it shows is not what was given
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        return None
    host = parts.netloc.rpartition("@")[2]
    if not (parts.scheme and host and is_host(_url_host(parts))):
        return None
    return f"{parts.scheme}://{host}"


def _refusal(where: str, endpoint: str, problem: str) -> NpError:
    """``where: scheme://host: problem``; only ``where: problem`` when nothing of the endpoint
    is fit to print (NP_ENDPOINT's value, say, may hold a token)."""
    part = shown(endpoint)
    return NpError(f"{where}: {part}: {problem}" if part else f"{where}: {problem}")


# --- what an endpoint says back ----------------------------------------------------------------

REDACTED = "REDACTED"
CREDENTIAL_HEADERS = ("Authorization", "X-Auth-Token", "X-Security-Token")
"""Request headers that carry a credential or a signature made with one."""
_ECHOED_HEADER = re.compile(
    r"(?i)\b(authorization|x-auth-token|x-security-token)"  # a credential header's name,
    r"""(\\?["']?\s*[:=]\s*\\?["']?)"""  # ":" or "=", either side quoted or not,
    r"""(?:[\w-]+ )?[^\s"'\\,;{}<>&]+""",  # and its value (after a scheme: "Bearer x")
)
_ECHOED_SIGNATURE = re.compile(r"(?i)\b(signature=)[^\s,;&\"'\\]+")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` that a server sent back (an error body, a header in the debug log) fit to print.

    An endpoint may echo the request, credentials included. Each of `secrets` (credential values
    and the credential headers sent) is replaced wherever it appears, as written or escaped the
    ways JSON and URLs write it, and so is the value after any credential header name or
    ``Signature=`` in the text, for credentials np does not know it sent (a proxy's, say).
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        escaped = json.dumps(secret)[1:-1]
        for form in (secret, escaped, escaped.replace("/", "\\/"), quote(secret, safe="")):
            text = text.replace(form, REDACTED)
    text = _ECHOED_HEADER.sub(rf"\1\2{REDACTED}", text)
    return _ECHOED_SIGNATURE.sub(rf"\1{REDACTED}", text)
