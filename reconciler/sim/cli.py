"""The `np sim` command group; the main CLI attaches `sim_group`.

uvicorn is imported only when `serve` runs, so `np --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.group("sim")
def sim_group() -> None:
    """Run the ModelArts simulator."""


@sim_group.command("serve")
@click.option(
    "--world",
    "world_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="World JSON file: seeds the simulator and receives every change (written once "
    "requests pause, within a second while busy, on POST /_sim/flush and at shutdown).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8787,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0: any free port.",
)
@click.option(
    "--auth",
    type=click.Choice(["none", "token", "aksk"]),
    default="none",
    show_default=True,
    help="How callers must authenticate.",
)
@click.option("--ak", envvar="NP_SIM_AK", help="Access key for --auth aksk [env NP_SIM_AK].")
@click.option("--sk", envvar="NP_SIM_SK", help="Secret key for --auth aksk [env NP_SIM_SK].")
@click.option("--token", envvar="NP_SIM_TOKEN", help="Token for --auth token [env NP_SIM_TOKEN].")
@click.option("--latency-ms", type=click.FloatRange(min=0), default=0.0, help="Added per request.")
@click.option(
    "--scale-seconds",
    type=click.FloatRange(min=0),
    default=None,
    help="Time a count change takes (overrides the world's settings.scale_seconds).",
)
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="RPS",
    help="Requests per second before answering 429 APIGW.0308.",
)
@click.option(
    "--fail-rate", type=click.FloatRange(0, 1), default=0.0, help="Share of random 500 answers."
)
@click.option(
    "--drop-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of requests whose connection is closed without an answer (after processing).",
)
@click.option(
    "--stall-seconds",
    type=click.FloatRange(min=0),
    default=0.0,
    help="How long a dropped request hangs before its connection closes.",
)
@click.option("--seed", type=int, default=None, help="Seed for --fail-rate and --drop-rate.")
@click.option(
    "--request-log",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Append one JSON line per request (method, path, status, ms), before its answer.",
)
@click.option("--allow-remote", is_flag=True, help="Allow a non-loopback --host.")
def serve_command(
    world_path: Path,
    host: str,
    port: int,
    auth: str,
    ak: str | None,
    sk: str | None,
    token: str | None,
    latency_ms: float,
    scale_seconds: float | None,
    rate_limit: float | None,
    fail_rate: float,
    drop_rate: float,
    stall_seconds: float,
    seed: int | None,
    request_log: Path | None,
    allow_remote: bool,
) -> None:
    """Serve the ModelArts pool API over HTTP from a world file."""
    from reconciler.sim.serve import serve

    serve(
        world_path,
        host=host,
        port=port,
        auth=auth,
        ak=ak,
        sk=sk,
        token=token,
        latency_ms=latency_ms,
        scale_seconds=scale_seconds,
        rate_limit=rate_limit,
        fail_rate=fail_rate,
        request_log=request_log,
        allow_remote=allow_remote,
        drop_rate=drop_rate,
        stall_seconds=stall_seconds,
        seed=seed,
    )
