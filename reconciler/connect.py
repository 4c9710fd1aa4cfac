"""The one place that turns an endpoint into a client.

    async with connect(provider, config_dir, os.environ, parallelism=10) as client:
        pools = await client.list_pools()

``sim://world.json`` runs the simulator in-process through httpx's ASGI transport, so the
client code path is the same one that talks to ``https://modelarts.{region}.myhuaweicloud.com``;
its world file gets every change when the block ends, however it ends. Which endpoints are
allowed at all is `reconciler.endpoint`'s rule, checked again here with the configuration
directory known (symbolic links resolved) before anything is opened or sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from reconciler.api.client import ModelArtsClient, build_http_client
from reconciler.api.credentials import (
    NoCredentials,
    auth_from_env,
    missing_credentials_error,
    project_id_from_env,
)
from reconciler.config.configuration import Provider
from reconciler.endpoint import SIM_SCHEME, is_loopback
from reconciler.errors import NpError

if TYPE_CHECKING:
    from reconciler.sim.app import SimApp

_SIM_BASE_URL = "http://sim.np.invalid"
_SIM_PROJECT = "sim-project"
"""The project id when none is needed: the simulator serves any."""


@asynccontextmanager
async def connect(
    provider: Provider,
    config_dir: Path,
    environ: Mapping[str, str],
    *,
    parallelism: int = 10,
    verbose_log: Callable[[str], None] | None = None,
    allow_insecure_http: bool = False,
    timeout: float = 30.0,
) -> AsyncIterator[ModelArtsClient]:
    endpoint = provider.checked_endpoint(environ, allow_insecure_http, config_dir)
    transport: httpx.AsyncBaseTransport | None = None
    auth: httpx.Auth | None = None
    sim: SimApp | None = None
    configured_project = provider.project_id or project_id_from_env(environ)
    if endpoint.startswith(SIM_SCHEME):
        from reconciler.sim.app import create_app
        from reconciler.sim.world import World

        sim = create_app(World.load(config_dir / endpoint[len(SIM_SCHEME) :]))
        transport = httpx.ASGITransport(app=sim)
        base_url = _SIM_BASE_URL
        project_id = configured_project or _SIM_PROJECT
    else:
        base_url = endpoint.rstrip("/")
        auth = auth_from_env(environ, configured_project)
        if auth is None:
            auth = _without_credentials(base_url, verbose_log)
            configured_project = configured_project or _SIM_PROJECT
        if not configured_project:
            raise NpError(
                "no project id: set provider.project_id, or HUAWEICLOUD_SDK_PROJECT_ID "
                "(or HW_PROJECT_ID) in the environment"
            )
        project_id = configured_project
    http = build_http_client(
        base_url,
        transport=transport,
        auth=auth,
        max_connections=parallelism,
        timeout=timeout,
        verbose_log=verbose_log,
    )
    try:
        yield ModelArtsClient(http, project_id)
    finally:
        await http.aclose()
        if sim is not None:
            sim.flush()


def _without_credentials(base_url: str, verbose_log: Callable[[str], None] | None) -> httpx.Auth:
    """No credential variables: fine for plain http on loopback (a simulator), an error for
    anything else, which would only answer 401 after np had sent its requests."""
    parts = urlsplit(base_url)
    if parts.scheme != "http" or not is_loopback(parts.hostname or ""):
        raise missing_credentials_error()
    if verbose_log is not None:
        verbose_log(
            f"no credentials are set: sending requests to {parts.netloc} without any "
            "(a loopback http endpoint)"
        )
    return NoCredentials()
