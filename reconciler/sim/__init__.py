"""The ModelArts simulator: a world file, the API rules, and an ASGI app that serves them.

In-process: `create_app(World.load(path))` behind `httpx.ASGITransport`; over HTTP:
`reconciler.sim.serve.serve(...)` (imported separately, it pulls in uvicorn).
"""

from reconciler.sim.app import AkSkVerifier, SimApp, TokenVerifier, Verifier, create_app
from reconciler.sim.faults import ConnectionDropped, Faults
from reconciler.sim.world import SimError, World, WorldError

__all__ = [
    "AkSkVerifier",
    "ConnectionDropped",
    "Faults",
    "SimApp",
    "SimError",
    "TokenVerifier",
    "Verifier",
    "World",
    "WorldError",
    "create_app",
]
