"""What plan, apply, drift, import and generate do from start to end, without a terminal:
connect, check the state's identity, read live, plan, show, ask, read each node pool again
before its request, apply, record. Every provider (region) a command needs is connected at
once and read and applied side by side (``reconciler.regions``).

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
from reconciler.collector import bulk
from reconciler.config.configuration import Configuration, DesiredNodePool
from reconciler.drift import DriftEntry, drift_report
from reconciler.errors import LockError, NpError
from reconciler.identifiers import DEFAULT_PROVIDER, canonical_provider
from reconciler.live import LiveWorld, Worlds, fetch_live
from reconciler.ops import given_address, import_nodepool
from reconciler.plan.changes import Plan, ResourceChange
from reconciler.plan.planner import (
    make_plan,
    managed_nodepools,
    pools_of,
    providers_needed,
    replan,
    select,
)
from reconciler.plan.saved import (
    Recipe,
    SavedPlan,
    Targets,
    check_same,
    check_still_valid,
    check_target,
    config_digest,
    save_plan,
)
from reconciler.regions import Region, Regions, open_regions, required
from reconciler.state.document import State
from reconciler.state.manager import Session

if TYPE_CHECKING:
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
    live: Worlds
    """Each provider's live world, by address."""
    targets: Targets
    """Where the plan applies, for every provider it read."""
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

    def connect(self, providers: Sequence[str]) -> AbstractAsyncContextManager[Regions]:
        """A client for each of ``providers``, every endpoint checked before any exists."""
        return open_regions(
            self.config,
            providers,
            self.chdir,
            self.environ,
            parallelism=self.request.parallelism,
            verbose_log=self.verbose_log,
            allow_insecure_http=self.request.allow_insecure_http,
        )

    def needed(self, state: State) -> list[str]:
        """The providers this run's plan reads: those of the addresses the request chooses."""
        request = self.request
        providers = providers_needed(self.config, state, request.targets, request.excludes)
        required(self.config, state, providers)
        return providers

    def identify(self, session: Session, regions: Regions) -> None:
        """Refuse a state written for another project of any provider (nothing is sent); warn
        on another endpoint; the state records each identity with its next write."""
        for warning in regions.adopt(session):
            self.warn(warning)

    async def read_live(self, regions: Regions, state: State) -> dict[str, LiveWorld]:
        """Every region's live world, read at the same time; an unreachable region fails the
        run, named."""

        async def read(region: Region) -> LiveWorld:
            return await self.read_region(
                region,
                pools_of(self.config, state, region.address),
                managed_nodepools(state, region.address),
            )

        return await regions.each(read)

    async def read_region(
        self, region: Region, pools: set[str], managed: set[tuple[str, str]]
    ) -> LiveWorld:
        return await fetch_live(
            region.client,
            pools,
            self.request.parallelism,
            workspace_id=region.provider.workspace_id,
            managed=managed,
        )

    # --- plan and apply ----------------------------------------------------------------------

    async def plan(self, session: Session) -> Reviewed:
        """Read live and plan; also where this plan applies and what it was made from."""
        state = session.state
        async with self.connect(self.needed(state)) as regions:
            self.identify(session, regions)
            the_plan, live = await self._plan(regions, state)
            targets = regions.targets(self.workspace)
        recipe = Recipe(
            variables=self.config.variables,
            targets=self.request.targets,
            excludes=self.request.excludes,
        )
        return Reviewed(the_plan, live, targets, recipe, self.check_policies(the_plan, targets))

    def check_policies(self, the_plan: Plan, targets: Targets) -> PolicyReport | None:
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
        providers = providers_entry(self.config, targets, self.environ)
        fleet = fleet_from_plan(document)
        policy_input = build_input(document, fleet, self.workspace, providers)
        return evaluate_policies(policy_input, sources, Limits.from_env(self.environ))

    async def _plan(self, regions: Regions, state: State) -> tuple[Plan, dict[str, LiveWorld]]:
        request = self.request
        with bulk():  # the live world and the plan live for the run (reconciler.collector)
            live = await self.read_live(regions, state)
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
            targets=reviewed.targets,
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
        """Apply a plan shown moments ago, after approval, on fresh connections (to the
        regions it touches): a node pool that moved since is sent the same change rebuilt
        from a fresh read, or refused."""
        state, live = session.state, reviewed.live

        def rebuild(change: ResourceChange, fresh: dict[str, Any]) -> ResourceChange | None:
            return replan(self.config, state, live, change, fresh)

        touched = sorted({change.provider for change in reviewed.plan.touched})
        async with self.connect(touched) as regions:
            return await self._apply(
                regions, session, reviewed.plan, rebuild, wait_seconds, progress
            )

    async def apply_saved(
        self, session: Session, saved: SavedPlan, *, wait_seconds: float, progress: Progress
    ) -> list[Outcome]:
        """Apply a saved plan: refused (nothing sent) for other targets (any provider's), a
        state that moved on, a node pool that changed live, or when the plan np makes again —
        from this configuration, with the variables the plan recorded — differs from the saved
        one in any change. What is sent is that plan, np's own; a node pool that moves during
        the apply is refused too."""
        state = session.state
        async with self.connect(self.needed(state)) as regions:
            self.identify(session, regions)
            check_target(saved, regions.targets(self.workspace))
            again, live = await self._plan(regions, state)
            check_still_valid(saved, state, live)
            check_same(saved.plan, again)
            self._recheck(self.check_policies(again, saved.providers))
            return await self._apply(regions, session, again, None, wait_seconds, progress)

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
        regions: Regions,
        session: Session,
        the_plan: Plan,
        rebuild: Rebuild | None,
        wait_seconds: float,
        progress: Progress,
    ) -> list[Outcome]:
        """Each region's part of the plan on its own client, all at the same time; one stop
        (the first Ctrl-C, a lost lock) stops them all. Outcomes in the plan's order."""
        touched = sorted({change.provider for change in the_plan.touched})
        with interrupt_stops(self.warn) as stop:
            try:
                parts = await asyncio.gather(
                    *(
                        apply_plan(
                            the_plan.of_provider(address),
                            regions[address].client,
                            session,
                            parallelism=self.request.parallelism,
                            wait=WaitPolicy(wait_seconds),
                            progress=progress,
                            stop=stop,
                            rebuild=rebuild,
                        )
                        for address in touched
                    )
                )
            finally:
                progress.close()
        order = {change.address: index for index, change in enumerate(the_plan.touched)}
        return sorted((o for part in parts for o in part), key=lambda o: order[o.address])

    # --- read-only: drift and generate -------------------------------------------------------

    def check_read_only(self, state: State, where: str, regions: Regions) -> None:
        """``identify`` for commands that only read state: refuse another project, warn on
        another endpoint, record nothing."""
        for warning in regions.check(state, where):
            self.warn(warning)

    async def drift(self, state: State, where: str) -> list[DriftEntry]:
        """Live against last-applied for the addresses the request chooses (an address that
        is neither declared nor in state is an error); state is only read. Only the regions
        of the chosen addresses are read."""
        declared = {np.address: np for np in self.config.nodepools}
        known = set(declared) | set(state.resources)
        unknown = [a for a in (*self.request.targets, *self.request.excludes) if a not in known]
        if unknown:
            raise NpError(f"{unknown[0]}: no such address in the configuration or state")
        chosen = select(known, self.request.targets, self.request.excludes)
        providers = {
            state.resources[a].provider if a in state.resources else declared[a].provider
            for a in chosen
        }
        needed = sorted(providers) or [DEFAULT_PROVIDER]
        required(self.config, state, needed)
        async with self.connect(needed) as regions:
            self.check_read_only(state, where, regions)

            async def read(region: Region) -> LiveWorld:
                mine = [r for r in state.resources.values() if r.provider == region.address]
                new = [  # declared, not in state: unmanaged (live) or not created yet
                    d
                    for d in declared.values()
                    if d.provider == region.address and d.address in chosen
                ]
                managed = managed_nodepools(state, region.address)
                pools = {r.pool for r in mine} | {d.pool for d in new}
                return await self.read_region(region, pools, managed)

            live = await regions.each(read)
        return drift_report(state, live, self.config.nodepools, chosen)

    def provider_named(self, given: str | None) -> str:
        """The provider an option names (``hk``, ``modelarts.hk``, ``region["x"]``, or none:
        the default one), which the configuration must declare."""
        if not given:
            return DEFAULT_PROVIDER
        qualified = given == DEFAULT_PROVIDER or given.startswith(f"{DEFAULT_PROVIDER}.")
        text = given if qualified else f"{DEFAULT_PROVIDER}.{given}"
        try:
            address = canonical_provider(text)
        except ValueError as exc:
            raise NpError(f"--provider: {exc}") from None
        if address not in self.config.providers:
            declared = ", ".join(self.config.providers)
            raise NpError(f"--provider: {address} is not declared (declared: {declared})")
        return address

    async def generate(
        self,
        state: State,
        where: str,
        pools: Sequence[str],
        fmt: Literal["hcl", "yaml"],
        provider: str = DEFAULT_PROVIDER,
    ) -> str:
        """``np generate``: configuration for the live node pools of ``pools`` (every pool when
        none is named) in ``provider``'s region that are neither declared nor in state; state
        is only read."""
        from reconciler.generate import generate
        from reconciler.model import check_pool

        async with self.connect([provider]) as regions:
            self.check_read_only(state, where, regions)
            region = regions[provider]
            listed = await region.client.list_pools(region.provider.workspace_id)
            wanted = set(pools) or {check_pool(raw)[0] for raw in listed}
            live = await self.read_region(region, wanted, set())
        missing = sorted(pool for pool in wanted if pool not in live.pools)
        if missing:
            raise NpError(f'resource pool "{missing[0]}" does not exist')
        return generate(live, self.config, state, wanted, fmt, provider)

    async def import_nodepool(self, session: Session, wanted: DesiredNodePool) -> None:
        """``np import``: through the provider the block names."""
        async with self.connect([wanted.provider]) as regions:
            self.identify(session, regions)
            region = regions[wanted.provider]
            await import_nodepool(session, wanted, region.client, region.provider.workspace_id)
