"""One run's providers (regions): a client each, opened together, then read and applied side
by side, each at its own pace; a failure names its region.

    async with open_regions(config, ["modelarts", "modelarts.hk"], Path("."), os.environ,
                            parallelism=10) as regions:
        warnings = regions.adopt(session)                     # state identity, per provider
        live = await regions.each(lambda region: read(region))  # concurrently; {address: ...}

Every endpoint is checked before any client exists, so nothing is sent to one region while
another's endpoint is refused. Each client has its own connection pool, parallelism and
pacing: rate limits are per region, and a slow region does not hold back the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from reconciler.config.configuration import Configuration, Provider
from reconciler.errors import NpError, shown
from reconciler.identifiers import DEFAULT_PROVIDER
from reconciler.ops import adopt_identity, identity_of
from reconciler.plan.saved import PlanTarget
from reconciler.state.document import Identity, State
from reconciler.state.manager import Session, check_identity

if TYPE_CHECKING:
    from reconciler.api.client import ModelArtsClient

T = TypeVar("T")


@dataclass(frozen=True)
class Region:
    """One provider of a run, connected."""

    address: str
    provider: Provider
    client: ModelArtsClient
    identity: Identity
    """The project and the endpoint np talks to: what state records for this provider."""

    def target(self, workspace: str) -> PlanTarget:
        """Where this provider's part of a plan applies (a saved plan is refused elsewhere)."""
        return PlanTarget(
            endpoint=self.identity.endpoint,
            project_id=self.identity.project_id,
            workspace=workspace,
            workspace_id=self.provider.workspace_id,
        )


class Regions(Mapping[str, Region]):
    """The connected providers of a run, by address."""

    def __init__(self, regions: Mapping[str, Region]) -> None:
        self._regions = dict(regions)

    def __getitem__(self, address: str) -> Region:
        return self._regions[address]

    def __iter__(self) -> Iterator[str]:
        return iter(self._regions)

    def __len__(self) -> int:
        return len(self._regions)

    def named(self, address: str, problem: str) -> str:
        """A problem of one region, naming it when the run has another region than the
        default provider (a single-provider run reads as it always did)."""
        if set(self._regions) == {DEFAULT_PROVIDER}:
            return problem
        return f"provider {address}: {problem}"

    async def each(self, work: Callable[[Region], Awaitable[T]]) -> dict[str, T]:
        """``work`` for every region at the same time. When any fails, the run fails naming
        every region that did (an unreachable region is never skipped: its node pools would
        look deleted); the others finish first, so no request is left behind."""
        addresses = list(self._regions)
        done = await asyncio.gather(
            *(work(self._regions[a]) for a in addresses), return_exceptions=True
        )
        failed = [
            (a, r) for a, r in zip(addresses, done, strict=True) if isinstance(r, BaseException)
        ]
        for _, exc in failed:
            if not isinstance(exc, NpError):
                raise exc
        if failed:
            first, *others = failed
            error = NpError(self.named(first[0], str(first[1])))
            for address, exc in others:
                error.also(self.named(address, str(exc)))
            raise error
        return {
            a: r for a, r in zip(addresses, done, strict=True) if not isinstance(r, BaseException)
        }

    def adopt(self, session: Session) -> list[str]:
        """Refuse a state written for another project of any provider; record each
        provider's identity with the next write. Returns the warnings (another endpoint)."""
        found = [adopt_identity(session, r.identity, a) for a, r in self._regions.items()]
        return [warning for warning in found if warning]

    def check(self, state: State, where: str) -> list[str]:
        """``adopt`` for commands that only read state: nothing is recorded."""
        found = [check_identity(state, r.identity, where, a) for a, r in self._regions.items()]
        return [warning for warning in found if warning]

    def targets(self, workspace: str) -> dict[str, PlanTarget]:
        return {a: r.target(workspace) for a, r in self._regions.items()}


def required(config: Configuration, state: State, providers: Sequence[str]) -> None:
    """Every provider a run needs must be declared: a node pool in state whose provider block
    is gone cannot be reached (not even to delete it), as in Terraform."""
    declared = config.providers
    for address in providers:
        if address in declared:
            continue
        held = sorted(a for a, r in state.resources.items() if r.provider == address)
        raise NpError(
            f"{', '.join(held) or address} {'is' if len(held) == 1 else 'are'} managed through "
            f"provider {address}, which the configuration no longer declares: restore its "
            "provider block (np needs it to reach those node pools, even to destroy them), or "
            f"run np state rm to forget them"
        )


@asynccontextmanager
async def open_regions(
    config: Configuration,
    providers: Sequence[str],
    config_dir: Path,
    environ: Mapping[str, str],
    *,
    parallelism: int = 10,
    verbose_log: Callable[[str], None] | None = None,
    allow_insecure_http: bool = False,
) -> AsyncIterator[Regions]:
    """A client for each of ``providers`` (addresses the configuration declares), closed on
    the way out. Refused before any request: an endpoint the rules refuse, and two providers
    that reach the same project through the same endpoint and workspace (one node pool would
    then have two identities)."""
    from reconciler.connect import connect

    declared = config.providers
    for address in providers:  # all endpoints first: no client exists while one is refused
        declared[address].checked_endpoint(environ, allow_insecure_http, config_dir)
    async with AsyncExitStack() as stack:
        regions: dict[str, Region] = {}
        for address in providers:
            provider = declared[address]
            connecting = connect(
                provider,
                config_dir,
                environ,
                parallelism=parallelism,
                verbose_log=_tagged(verbose_log, address),
                allow_insecure_http=allow_insecure_http,
            )
            try:
                client = await stack.enter_async_context(connecting)
            except NpError as exc:  # no project id, no credentials: say for which region
                if address == DEFAULT_PROVIDER:
                    raise
                raise NpError(f"provider {address}: {exc}") from None
            identity = identity_of(provider, client.project_id, environ)
            regions[address] = Region(address, provider, client, identity)
        _distinct(regions)
        yield Regions(regions)


def _tagged(log: Callable[[str], None] | None, address: str) -> Callable[[str], None] | None:
    """The ``-v`` log of one region, each line tagged with its provider (the default one's as
    it always was)."""
    if log is None or address == DEFAULT_PROVIDER:
        return log
    return lambda line: log(f"[{address}] {line}")


def _distinct(regions: Mapping[str, Region]) -> None:
    """Two providers must not reach the same node pools: identity is (provider, pool, name),
    so one node pool reached through two providers could be managed twice."""
    seen: dict[tuple[str, str, str | None], str] = {}
    for address, region in regions.items():
        where = (region.identity.endpoint, region.identity.project_id, region.provider.workspace_id)
        other = seen.setdefault(where, address)
        if other != address:
            raise NpError(
                f"providers {other} and {address} both reach project "
                f"{shown(region.identity.project_id, 80)} at "
                f"{shown(region.identity.endpoint, 80)}: a node pool there would have two "
                "identities; point each provider at its own region, project or workspace"
            )
