"""The one place that turns an endpoint into a client.

    async with connect(provider, config_dir, os.environ, parallelism=10) as client:
        pools = await client.list_pools()

``sim://world.json`` runs the simulator in-process through httpx's ASGI transport, so the
client code path is the same one that talks to ``https://modelarts.{region}.myhuaweicloud.com``;
its world file gets every change when the block ends, however it ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from reconciler.api.client import ModelArtsClient, build_http_client
from reconciler.api.credentials import auth_from_env, missing_credentials_error, project_id_from_env
from reconciler.config.types import Provider
from reconciler.endpoint import SIM_SCHEME, check_endpoint
from reconciler.errors import NpError

if TYPE_CHECKING:
    from reconciler.sim.app import SimApp

_SIM_BASE_URL = "http://sim.np.invalid"
_SIM_PROJECT = "sim-project"


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
    endpoint = check_endpoint(
        provider.endpoint, provider.region, environ, allow_insecure_http, provider.where
    )
    transport: httpx.AsyncBaseTransport | None = None
    auth: httpx.Auth | None = None
    sim: SimApp | None = None
    if endpoint.startswith(SIM_SCHEME):
        from reconciler.sim.app import create_app
        from reconciler.sim.world import World

        sim = create_app(World.load(config_dir / endpoint[len(SIM_SCHEME) :]))
        transport = httpx.ASGITransport(app=sim)
        base_url = _SIM_BASE_URL
        project_id = provider.project_id or project_id_from_env(environ) or _SIM_PROJECT
    else:
        base_url = endpoint.rstrip("/")
        project_id = provider.project_id or project_id_from_env(environ) or ""
        if not project_id:
            raise NpError(
                "no project id: set provider.project_id, or HUAWEICLOUD_SDK_PROJECT_ID "
                "(or HW_PROJECT_ID) in the environment"
            )
        auth = auth_from_env(environ, project_id)
        if auth is None:
            raise missing_credentials_error()
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
