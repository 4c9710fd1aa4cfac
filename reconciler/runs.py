"""What plan, apply, drift, import and generate do from start to end, without a terminal:
connect, check the state's identity, read live, plan, read each node pool again before its
request, apply, record.

    run = Run(config, Path("."), os.environ, workspace="default")
    the_plan, live, target = asyncio.run(run.plan(session))
    outcomes = asyncio.run(run.apply_reviewed(session, the_plan, live, wait_seconds=600))

The CLI owns the terminal (options, approval, output); everything between the two lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.apply import Outcome, Progress, Rebuild, WaitPolicy, apply_plan, interrupt_stops
from reconciler.config.configuration import Configuration, DesiredNodePool
from reconciler.drift import DriftEntry, drift_report
from reconciler.live import LiveWorld, fetch_live
from reconciler.ops import adopt_identity, identity_of, import_nodepool
from reconciler.plan.changes import Plan, ResourceChange
from reconciler.plan.planner import make_plan, managed_nodepools, pools_of, replan
from reconciler.plan.saved import (
    PlanTarget,
    SavedPlan,
    check_still_valid,
    check_target,
    config_digest,
)
from reconciler.state.document import Identity, State
from reconciler.state.manager import Session, check_identity

if TYPE_CHECKING:
    from reconciler.api.client import ModelArtsClient


def _quiet(_text: str) -> None:
    """The default for ``Run.warn``: say nothing."""


@dataclass(frozen=True)
class Run:
    """One command's run against one configuration, endpoint and workspace."""

    config: Configuration
    chdir: Path
    environ: Mapping[str, str]
    workspace: str
    parallelism: int = 10
    allow_insecure_http: bool = False
    verbose_log: Callable[[str], None] | None = None
    warn: Callable[[str], None] = _quiet

    def connect(self) -> AbstractAsyncContextManager[ModelArtsClient]:
        from reconciler.connect import connect

        return connect(
            self.config.provider,
            self.chdir,
            self.environ,
            parallelism=self.parallelism,
            verbose_log=self.verbose_log,
            allow_insecure_http=self.allow_insecure_http,
        )

    def target(self, project_id: str) -> PlanTarget:
        """Where a plan made now applies; a saved plan records it and is refused elsewhere."""
        endpoint = self.identity(project_id).endpoint
        return PlanTarget(endpoint=endpoint, project_id=project_id, workspace=self.workspace)

    def identity(self, project_id: str) -> Identity:
        return identity_of(self.config.provider, project_id, self.environ)

    def config_digest(self) -> str:
        return config_digest(self.chdir / name for name in self.config.files)

    def identify(self, session: Session, client: ModelArtsClient) -> None:
        """Refuse a state written for another project (nothing is sent); warn on another
        endpoint; the state records this identity with its next write."""
        warning = adopt_identity(session, self.identity(client.project_id))
        if warning:
            self.warn(warning)

    async def read_live(
        self,
        client: ModelArtsClient,
        pools: set[str],
        managed: set[tuple[str, str]],
    ) -> LiveWorld:
        return await fetch_live(
            client,
            pools,
            self.parallelism,
            workspace_id=self.config.provider.workspace_id,
            managed=managed,
        )

    async def plan(
        self, session: Session, targets: Sequence[str] = (), excludes: Sequence[str] = ()
    ) -> tuple[Plan, LiveWorld, PlanTarget]:
        """Read live and plan; also where this plan applies."""
        state = session.state
        async with self.connect() as client:
            self.identify(session, client)
            pools = pools_of(self.config, state)
            live = await self.read_live(client, pools, managed_nodepools(state))
            target = self.target(client.project_id)
        the_plan = make_plan(self.config, state, live, targets=targets, excludes=excludes)
        return the_plan, live, target

    async def apply_reviewed(
        self,
        session: Session,
        the_plan: Plan,
        live: LiveWorld,
        *,
        wait_seconds: float,
        progress: Progress,
    ) -> list[Outcome]:
        """Apply a plan shown moments ago, after approval, on a fresh connection: a node pool
        that moved since is sent the same change rebuilt from a fresh read, or refused."""
        state = session.state

        def rebuild(change: ResourceChange, fresh: dict[str, Any]) -> ResourceChange | None:
            return replan(self.config, state, live, change, fresh)

        async with self.connect() as client:
            return await self._apply(client, session, the_plan, rebuild, wait_seconds, progress)

    async def apply_saved(
        self, session: Session, saved: SavedPlan, *, wait_seconds: float, progress: Progress
    ) -> list[Outcome]:
        """Apply exactly a saved plan: refused (nothing sent) for another target, a state that
        moved on or a node pool that changed live; a node pool that moves during the apply is
        refused too."""
        async with self.connect() as client:
            self.identify(session, client)
            check_target(saved, self.target(client.project_id))
            changes = saved.plan.touched
            live = await self.read_live(
                client, {r.pool for r in changes}, {(r.pool, r.name) for r in changes}
            )
            check_still_valid(saved, session.state, live)
            return await self._apply(client, session, saved.plan, None, wait_seconds, progress)

    async def _apply(
        self,
        client: ModelArtsClient,
        session: Session,
        the_plan: Plan,
        rebuild: Rebuild | None,
        wait_seconds: float,
        progress: Progress,
    ) -> list[Outcome]:
        with interrupt_stops(self.warn) as stop:
            try:
                return await apply_plan(
                    the_plan,
                    client,
                    session,
                    parallelism=self.parallelism,
                    wait=WaitPolicy(wait_seconds),
                    progress=progress,
                    stop=stop,
                    rebuild=rebuild,
                )
            finally:
                progress.close()

    def check_read_only(self, state: State, where: str, client: ModelArtsClient) -> None:
        """``identify`` for commands that only read state: refuse another project, warn on
        another endpoint, record nothing."""
        warning = check_identity(state, self.identity(client.project_id), where)
        if warning:
            self.warn(warning)

    async def drift(self, state: State, where: str, chosen: set[str]) -> list[DriftEntry]:
        """Live against last-applied for the chosen addresses; state is only read."""
        async with self.connect() as client:
            self.check_read_only(state, where, client)
            pools = {r.pool for r in state.resources.values()}
            live = await self.read_live(client, pools, managed_nodepools(state))
        return drift_report(state, live, self.config.nodepools, chosen)

    async def live_pools(
        self, state: State, where: str, pools: Sequence[str]
    ) -> tuple[LiveWorld, set[str]]:
        """What `np generate` reads: the live node pools of ``pools`` (every pool when none is
        named) and the pools read; state is only read."""
        from reconciler.model import check_pool

        async with self.connect() as client:
            self.check_read_only(state, where, client)
            listed = await client.list_pools(self.config.provider.workspace_id)
            wanted = set(pools) or {check_pool(raw)[0] for raw in listed}
            return await self.read_live(client, wanted, set()), wanted

    async def import_nodepool(self, session: Session, wanted: DesiredNodePool) -> None:
        async with self.connect() as client:
            self.identify(session, client)
            await import_nodepool(session, wanted, client, self.config.provider.workspace_id)
