"""Test support for the state backends: a fresh place for each test (a memory storage, a
directory, a PostgreSQL schema, an S3 bucket) and backends opened on it the way np opens them."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

import httpx

from reconciler.state.protocols import Backend, LockInfo
from reconciler.state.s3_client import S3Client
from reconciler.state.sigv4 import Credentials

S3_KEY = "modelarts/np.state.json"
S3_REGION = "cn-north-4"
S3_SECRET = "s3-sentinel-secret-4f1b9c"
"""The secret key given to np: tests check it never appears in any output."""
S3_ENV = {"AWS_ACCESS_KEY_ID": "AKIDNPTEST", "AWS_SECRET_ACCESS_KEY": S3_SECRET}


@dataclass
class Place:
    """Where one test's state lives: a backend kind, its settings and its environment."""

    kind: str
    settings: dict[str, str]
    env: dict[str, str]
    opened: list[Backend] = field(default_factory=list)

    def open(self, workspace: str = "default", **settings: str) -> Backend:
        module = import_module(f"reconciler.state.{self.kind}")
        backend: Backend = module.open_backend(
            {**self.settings, **settings},
            workspace=workspace,
            environ=self.env,
            where=f'main.hcl:1: backend "{self.kind}"',
        )
        self.opened.append(backend)
        return backend

    def close(self) -> None:
        for backend in self.opened:
            backend.close()

    def block(self) -> str:
        """The configuration's backend block for this place."""
        body = "".join(f'  {k} = "{v}"\n' for k, v in self.settings.items())
        return f'backend "{self.kind}" {{\n{body}}}\n'


def memory_place() -> Place:
    return Place("memory", {"name": f"t-{secrets.token_hex(6)}"}, {})


def local_place(directory: Path) -> Place:
    return Place("local", {"path": str(directory / "state" / "np.state.json")}, {})


def pg_place(url: str, env: Mapping[str, str] | None = None) -> Place:
    schema = f"t_{secrets.token_hex(6)}"
    return Place("pg", {"schema_name": schema}, {"NP_PG_CONN_STR": url, **(env or {})})


def s3_place(url: str, endpoint: str | None = None) -> Place:
    """A new bucket on the S3 server at ``url``; np reaches it at ``endpoint`` (a proxy)."""
    bucket = f"np-test-{secrets.token_hex(6)}"
    httpx.put(f"{url}/{bucket}").raise_for_status()
    settings = {"bucket": bucket, "key": S3_KEY, "region": S3_REGION, "endpoint": endpoint or url}
    return Place("s3", settings, dict(S3_ENV))


def holder(n: int = 1, operation: str = "apply") -> LockInfo:
    return LockInfo(
        id=f"00000000-0000-4000-8000-{n:012d}",
        pid=4242,
        host="ci-runner-7",
        user="alice",
        operation=operation,
        created="2026-11-27T04:31:00Z",
    )


PlaceFactory = Callable[[], Place]


def client_of(place: Place) -> S3Client:
    """A signed client on an s3 place's bucket, as another tool would write to it."""
    settings = place.settings
    credentials = Credentials(S3_ENV["AWS_ACCESS_KEY_ID"], S3_ENV["AWS_SECRET_ACCESS_KEY"])
    return S3Client(settings["endpoint"], settings["bucket"], settings["region"], credentials, "t")
