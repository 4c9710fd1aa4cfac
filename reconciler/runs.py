"""What plan, apply, drift, import and generate do from start to end, without a terminal:
connect, check the state's identity, read live, plan, show, ask, read each node pool again
before its request, apply, record.

    run = Run(config, Path("."), os.environ, "default", Request(targets=("nodepool.a",)))
    reviewed = run_async(run.plan(session))                       # np plan
    outcomes = run.apply(session, terminal, auto_approve=False)   # np apply: plan, show, ask, apply

The CLI owns the terminal (options, output, the prompt) and hands ``apply`` a ``Terminal``;
every decision between the two lives here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from reconciler.apply import Outcome, Progress, Rebuild, WaitPolicy, apply_plan, interrupt_stops
from reconciler.config.configuration import Configuration, DesiredNodePool
from reconciler.drift import DriftEntry, drift_report
from reconciler.errors import LockError, NpError
from reconciler.live import LiveWorld, fetch_live
from reconciler.ops import adopt_identity, given_address, identity_of, import_nodepool
from reconciler.plan.changes import Plan, ResourceChange
from reconciler.plan.planner import make_plan, managed_nodepools, pools_of, replan, select
from reconciler.plan.saved import (
    PlanTarget,
    Recipe,
    SavedPlan,
    check_same,
    check_still_valid,
    check_target,
    config_digest,
    save_plan,
)
from reconciler.state.document import Identity, State
from reconciler.state.manager import Session, check_identity

if TYPE_CHECKING:
    from reconciler.api.client import ModelArtsClient
    from reconciler.policy import PolicyReport

T = TypeVar("T")


def _quiet(_text: str) -> None:
    """The default for ``Run.warn``: say nothing."""


@dataclass(frozen=True)
class Request:
    """What the user asked of a command, typed: targeting and how to talk to the API. Built
    by the CLI from its options; addresses in their one written form."""

    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    parallelism: int = 10
    allow_insecure_http: bool = False
    policy_dirs: tuple[Path, ...] = ()
    """The operator's ``--policy`` directories (``NP_POLICY_PATH`` is read from the
    environment; the configuration's own ``policy/`` is found in its directory)."""

    @classmethod
    def of(
        cls,
        targets: Sequence[str] = (),
        excludes: Sequence[str] = (),
        parallelism: int = 10,
        allow_insecure_http: bool = False,
        policy_dirs: Sequence[Path] = (),
    ) -> Request:
        """``nodepool.gpu[a]``, as a shell leaves ``nodepool.gpu["a"]``, is the same address."""
        return cls(
            tuple(given_address(a) for a in targets),
            tuple(given_address(a) for a in excludes),
            parallelism,
            allow_insecure_http,
            tuple(policy_dirs),
        )


@dataclass(frozen=True)
class Reviewed:
    """A plan as shown: what it was made against, and where and from what it applies."""

    plan: Plan
    live: LiveWorld
    target: PlanTarget
    recipe: Recipe
    policy: PolicyReport | None = None
    """The policies' verdict on the plan (None: no policy directory is configured)."""

    @property
    def refused(self) -> str | None:
        """``Plan refused by N policies`` when a policy denies; None otherwise."""
        from reconciler.policy import refusal

        return None if self.policy is None else refusal(self.policy)


class Terminal(Protocol):
    """What ``Run.apply`` needs from whoever sits at the terminal (the CLI)."""

    @property
    def progress(self) -> Progress:
        """Where apply reports what it does."""

    def show(self, plan: Plan, policy: PolicyReport | None) -> None:
        """Print the plan and the policies' results."""

    def approve(self) -> bool:
        """Ask; True only for the exact answer ``yes``. (No terminal: an NpError.)"""


class PolicyRefusal(NpError):
    """A policy denied the plan: nothing is sent (``np plan`` exits 1 after showing it)."""


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)``, with the result kept out of the task. On the way out, asyncio
    restores the SIGINT handler, and Python 3.11 formats the replaced handler, whose repr holds
    the main task's repr and so the whole result: for a 10,000-node-pool plan, 40 MB of text
    and a second of CPU, for nothing."""
    results: list[T] = []

    async def keep() -> None:
        results.append(await coro)

    asyncio.run(keep())
    return results[0]


@dataclass(frozen=True)
class Run:
    """One command's run against one configuration, endpoint and workspace."""

    config: Configuration
    chdir: Path
    environ: Mapping[str, str]
    workspace: str
    request: Request = Request()
    verbose_log: Callable[[str], None] | None = None
    warn: Callable[[str], None] = _quiet

    def connect(self) -> AbstractAsyncContextManager[ModelArtsClient]:
        from reconciler.connect import connect

        return connect(
            self.config.provider,
            self.chdir,
            self.environ,
            parallelism=self.request.parallelism,
            verbose_log=self.verbose_log,
            allow_insecure_http=self.request.allow_insecure_http,
        )

    def target(self, project_id: str) -> PlanTarget:
        """Where a plan made now applies; a saved plan records it and is refused elsewhere."""
        endpoint = self.identity(project_id).endpoint
        return PlanTarget(endpoint=endpoint, project_id=project_id, workspace=self.workspace)

    def identity(self, project_id: str) -> Identity:
        return identity_of(self.config.provider, project_id, self.environ)

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
            self.request.parallelism,
            workspace_id=self.config.provider.workspace_id,
            managed=managed,
        )

    # --- plan and apply ----------------------------------------------------------------------

    async def plan(self, session: Session) -> Reviewed:
        """Read live and plan; also where this plan applies and what it was made from."""
        async with self.connect() as client:
            self.identify(session, client)
            the_plan, live = await self._plan(client, session.state)
            target = self.target(client.project_id)
        recipe = Recipe(
            variables=self.config.variables,
            targets=self.request.targets,
            excludes=self.request.excludes,
        )
        return Reviewed(the_plan, live, target, recipe, self.check_policies(the_plan, target))

    def check_policies(self, the_plan: Plan, target: PlanTarget) -> PolicyReport | None:
        """Evaluate the operator's and the configuration's policies on ``the_plan`` (None when
        there are none). A policy that cannot decide is a PolicyError: np fails closed."""
        from reconciler.policy import (
            Limits,
            build_input,
            evaluate_policies,
            fleet_from_plan,
            policy_sources,
            providers_entry,
        )
        from reconciler.render.plan_json import plan_document

        sources = policy_sources(self.chdir, self.environ, self.request.policy_dirs)
        if not sources:
            return None
        document = plan_document(the_plan)
        provider = self.config.provider
        providers = providers_entry(provider.region, target.project_id, target.endpoint)
        fleet = fleet_from_plan(document)
        policy_input = build_input(document, fleet, self.workspace, providers)
        return evaluate_policies(policy_input, sources, Limits.from_env(self.environ))

    async def _plan(self, client: ModelArtsClient, state: State) -> tuple[Plan, LiveWorld]:
        pools = pools_of(self.config, state)
        live = await self.read_live(client, pools, managed_nodepools(state))
        request = self.request
        the_plan = make_plan(
            self.config, state, live, targets=request.targets, excludes=request.excludes
        )
        return the_plan, live

    def save(self, reviewed: Reviewed, path: Path) -> None:
        """``-out FILE``: the plan, what it was made from and where it applies."""
        digest = config_digest(self.chdir / name for name in self.config.files)
        save_plan(
            path,
            reviewed.plan,
            reviewed.recipe,
            config_digest=digest,
            target=reviewed.target,
            environ=self.environ,
        )

    def apply(
        self, session: Session, terminal: Terminal, *, auto_approve: bool, wait_seconds: float
    ) -> list[Outcome] | None:
        """``np apply`` without a plan file: plan, show, ask (unless ``auto_approve`` or there
        is nothing to send), apply. None when there was nothing to apply or the answer was no;
        the lock is proven again right after the answer, before anything is sent."""
        reviewed = run_async(self.plan(session))
        terminal.show(reviewed.plan, reviewed.policy)
        if reviewed.refused:
            raise PolicyRefusal(f"{reviewed.refused}; nothing was sent")
        if not reviewed.plan.applyable:
            return None
        if reviewed.plan.has_changes and not auto_approve and not terminal.approve():
            return None
        try:
            session.prove()  # the answer may come long after the plan
        except LockError as exc:
            raise LockError(f"{exc}; nothing was sent and nothing was recorded") from None
        return run_async(
            self.apply_reviewed(
                session, reviewed, wait_seconds=wait_seconds, progress=terminal.progress
            )
        )

    async def apply_reviewed(
        self, session: Session, reviewed: Reviewed, *, wait_seconds: float, progress: Progress
    ) -> list[Outcome]:
        """Apply a plan shown moments ago, after approval, on a fresh connection: a node pool
        that moved since is sent the same change rebuilt from a fresh read, or refused."""
        state, live = session.state, reviewed.live

        def rebuild(change: ResourceChange, fresh: dict[str, Any]) -> ResourceChange | None:
            return replan(self.config, state, live, change, fresh)

        async with self.connect() as client:
            return await self._apply(
                client, session, reviewed.plan, rebuild, wait_seconds, progress
            )

    async def apply_saved(
        self, session: Session, saved: SavedPlan, *, wait_seconds: float, progress: Progress
    ) -> list[Outcome]:
        """Apply a saved plan: refused (nothing sent) for another target, a state that moved
        on, a node pool that changed live, or when the plan np makes again — from this
        configuration, with the variables the plan recorded — differs from the saved one in
        any change. What is sent is that plan, np's own; a node pool that moves during the
        apply is refused too."""
        async with self.connect() as client:
            self.identify(session, client)
            check_target(saved, self.target(client.project_id))
            state = session.state
            again, live = await self._plan(client, state)
            check_still_valid(saved, state, live)
            check_same(saved.plan, again)
            self._recheck(self.check_policies(again, saved.target))
            return await self._apply(client, session, again, None, wait_seconds, progress)

    def _recheck(self, report: PolicyReport | None) -> None:
        """The operator's policies may have changed since the plan was made: a saved plan is
        checked again, its results said, and a deny sends nothing."""
        if report is None:
            return
        from reconciler.policy import policy_text, refusal

        self.warn(policy_text(report))
        refused = refusal(report)
        if refused:
            raise PolicyRefusal(f"{refused}; nothing was sent")

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
                    parallelism=self.request.parallelism,
                    wait=WaitPolicy(wait_seconds),
                    progress=progress,
                    stop=stop,
                    rebuild=rebuild,
                )
            finally:
                progress.close()

    # --- read-only: drift and generate -------------------------------------------------------

    def check_read_only(self, state: State, where: str, client: ModelArtsClient) -> None:
        """``identify`` for commands that only read state: refuse another project, warn on
        another endpoint, record nothing."""
        warning = check_identity(state, self.identity(client.project_id), where)
        if warning:
            self.warn(warning)

    async def drift(self, state: State, where: str) -> list[DriftEntry]:
        """Live against last-applied for the addresses the request chooses (an address that
        is neither declared nor in state is an error); state is only read."""
        known = {np.address for np in self.config.nodepools} | set(state.resources)
        unknown = [a for a in (*self.request.targets, *self.request.excludes) if a not in known]
        if unknown:
            raise NpError(f"{unknown[0]}: no such address in the configuration or state")
        chosen = select(known, self.request.targets, self.request.excludes)
        async with self.connect() as client:
            self.check_read_only(state, where, client)
            pools = {r.pool for r in state.resources.values()}
            live = await self.read_live(client, pools, managed_nodepools(state))
        return drift_report(state, live, self.config.nodepools, chosen)

    async def generate(
        self, state: State, where: str, pools: Sequence[str], fmt: Literal["hcl", "yaml"]
    ) -> str:
        """``np generate``: configuration for the live node pools of ``pools`` (every pool when
        none is named) that are neither declared nor in state; state is only read."""
        from reconciler.generate import generate
        from reconciler.model import check_pool

        async with self.connect() as client:
            self.check_read_only(state, where, client)
            listed = await client.list_pools(self.config.provider.workspace_id)
            wanted = set(pools) or {check_pool(raw)[0] for raw in listed}
            live = await self.read_live(client, wanted, set())
        missing = sorted(pool for pool in wanted if pool not in live.pools)
        if missing:
            raise NpError(f'resource pool "{missing[0]}" does not exist')
        return generate(live, self.config, state, wanted, fmt)

    async def import_nodepool(self, session: Session, wanted: DesiredNodePool) -> None:
        async with self.connect() as client:
            self.identify(session, client)
            await import_nodepool(session, wanted, client, self.config.provider.workspace_id)
