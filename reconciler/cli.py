"""The ``np`` command line: parse options, call the layers below, map errors to exit codes.

Only click and the standard library are imported at start-up; everything else is imported
inside the command that needs it, so ``np --help`` stays fast.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from reconciler import __version__

if TYPE_CHECKING:
    from reconciler.api.client import ModelArtsClient
    from reconciler.apply import Outcome, Rebuild
    from reconciler.config.types import Configuration
    from reconciler.live import LiveWorld
    from reconciler.plan import Plan
    from reconciler.savedplan import PlanTarget, SavedPlan
    from reconciler.state import State

T = TypeVar("T")

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


@dataclass
class Globals:
    chdir: Path
    state: Path | None
    color: bool
    verbose: bool

    @property
    def state_path(self) -> Path:
        return self.path(self.state) if self.state else self.chdir / "state" / "np.state.json"

    def path(self, given: Path) -> Path:
        """A path the user typed, resolved from the configuration directory, as
        ``terraform -chdir`` does: ``np -C infra plan -out p.plan`` writes infra/p.plan."""
        return given if given.is_absolute() else self.chdir / given

    def say(self, text: str = "", err: bool = False) -> None:
        click.echo(text, err=err, color=self.color)

    def log(self, line: str) -> None:
        """The ``-v`` debug log: stderr, already redacted by the client."""
        if self.verbose:
            click.echo(line, err=True)


class NpGroup(click.Group):
    """Turns every user-facing error into one line on stderr and exit 1 (traceback with -v).

    Click's own usage errors exit 2 by default, which CI would read as "changes pending" under
    --detailed-exitcode; np's contract is 1 for any error, so they exit 1 here too.
    """

    def main(  # type: ignore[override]  # click types main() as overloads
        self, args: Sequence[str] | None = None, standalone_mode: bool = True, **extra: Any
    ) -> Any:
        if not standalone_mode:
            return super().main(args, standalone_mode=False, **extra)
        try:
            code = super().main(args, standalone_mode=False, **extra)
        except click.ClickException as exc:
            exc.show()
            sys.exit(EXIT_ERROR)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(EXIT_ERROR)
        sys.exit(code if isinstance(code, int) else EXIT_OK)

    def invoke(self, ctx: click.Context) -> Any:
        from reconciler.errors import NpError

        try:
            return super().invoke(ctx)
        except NpError as exc:
            if ctx.obj is not None and ctx.obj.verbose:
                import traceback

                traceback.print_exc()
            _fail(exc.problems())
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(EXIT_ERROR)


def _fail(problems: list[str]) -> NoReturn:
    for problem in problems:
        click.echo(f"Error: {problem}", err=True)
    sys.exit(EXIT_ERROR)


@click.group(cls=NpGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="np", message="np %(version)s")
@click.option(
    "-C",
    "--chdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    help="Configuration directory (default: the current directory).",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="State file (default: state/np.state.json under the configuration directory).",
)
@click.option("--no-color", is_flag=True, help="Plain output (NO_COLOR is honoured too).")
@click.option("-v", "--verbose", is_flag=True, help="HTTP debug log on stderr, secrets redacted.")
@click.pass_context
def cli(
    ctx: click.Context, chdir: Path, state_path: Path | None, no_color: bool, verbose: bool
) -> None:
    """np: plan and apply Huawei Cloud ModelArts node pools declared in HCL or YAML."""
    color = not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
    ctx.obj = Globals(chdir, state_path, color, verbose)


def main() -> None:
    cli(prog_name="np")


def _with_globals(f: Callable[..., T]) -> Callable[..., T]:
    """Pass the globals to a command, and accept the global options after it too
    (`np plan --no-color`, as Terraform users type it); they are listed in `np --help`."""

    def setter(attribute: str, value_of: Callable[[Any], Any]) -> Any:
        def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
            if value:
                setattr(ctx.find_object(Globals), attribute, value_of(value))

        return callback

    f = click.pass_obj(f)
    for decls, attribute, value_of, kind in (
        (("--no-color",), "color", lambda _v: False, {"is_flag": True}),
        (("-v", "--verbose"), "verbose", lambda _v: True, {"is_flag": True}),
        (("-C", "--chdir"), "chdir", Path, {"type": click.Path(file_okay=False)}),
        (("--state",), "state", Path, {"type": click.Path(dir_okay=False)}),
    ):
        option = click.option(
            *decls,
            expose_value=False,
            hidden=True,
            callback=setter(attribute, value_of),
            **kind,
        )
        f = option(f)
    return f


# --- shared option sets -------------------------------------------------------------------


def _var_options(f: Callable[..., T]) -> Callable[..., T]:
    f = click.option(
        "--var", "var_args", multiple=True, metavar="NAME=VALUE", help="Set a variable."
    )(f)
    return click.option(
        "--var-file",
        "var_files",
        multiple=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="Variables from an HCL, YAML or JSON file.",
    )(f)


_INSECURE_HELP = "Allow plain http:// to a non-loopback endpoint (credentials in clear text)."


def _targeting_options(f: Callable[..., T]) -> Callable[..., T]:
    for decl, help_text in (
        ("--target", "Only this address (repeatable)."),
        ("--exclude", "Everything but this address (repeatable)."),
    ):
        f = click.option(decl, multiple=True, metavar="ADDR", help=help_text)(f)
    return f


def _plan_options(f: Callable[..., T]) -> Callable[..., T]:
    f = _targeting_options(_var_options(f))
    f = click.option(
        "--parallelism",
        type=click.IntRange(1, 256),
        default=10,
        show_default=True,
        help="How many requests np sends at once.",
    )(f)
    f = click.option(
        "--lock-timeout",
        default="0s",
        show_default=True,
        help="How long to wait for the state lock (e.g. 30s, 2m).",
    )(f)
    return click.option("--allow-insecure-http", is_flag=True, help=_INSECURE_HELP)(f)


def parse_duration(text: str, option: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix):
            number = text[: -len(suffix)]
            break
    else:
        number, suffix = text, "s"
    try:
        seconds = float(number) * units[suffix]
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a duration like 30s, 5m or 1h", param_hint=option
        ) from None
    if seconds < 0:
        raise click.BadParameter("must not be negative", param_hint=option)
    return seconds


# --- helpers --------------------------------------------------------------------------------


def _load_config(
    g: Globals,
    var_files: tuple[Path, ...],
    var_args: tuple[str, ...],
    allow_insecure_http: bool = False,
    *,
    offline: bool = False,
) -> Configuration:
    """The validated configuration, its endpoint checked too, before any lock or request.

    ``offline`` (validate) checks an endpoint only when one is set: none is plan's concern;
    and it checks that block labels used as names are valid names for new node pools, which
    plan checks only for the node pools it creates.
    """
    from reconciler.config import load_config
    from reconciler.endpoint import check_endpoint

    config = load_config(
        g.chdir,
        var_files=[g.path(f) for f in var_files],
        var_args=var_args,
        environ=os.environ,
        new_names=offline,
    )
    for warning in config.warnings:
        g.say(f"Warning: {warning}", err=True)
    # The configuration lives for the whole run: freeze it (and the imported modules) out of
    # the cyclic collector's sight, so planning 2,000 node pools does not rescan it (-25 %).
    gc.freeze()
    p = config.provider
    if not offline or p.endpoint or os.environ.get("NP_ENDPOINT"):
        check_endpoint(p.endpoint, p.region, os.environ, allow_insecure_http, p.where)
    return config


def _run(coro: Coroutine[Any, Any, T]) -> T:
    import asyncio

    return asyncio.run(coro)


@dataclass
class PlanRequest:
    var_files: tuple[Path, ...]
    var_args: tuple[str, ...]
    target: tuple[str, ...]
    exclude: tuple[str, ...]
    parallelism: int
    lock_timeout: str
    allow_insecure_http: bool


async def _plan_live(
    g: Globals, config: Configuration, state: State, req: PlanRequest
) -> tuple[Plan, LiveWorld, PlanTarget]:
    """Read live, plan; also where this plan applies, for a saved plan to record."""
    from reconciler.live import fetch_live
    from reconciler.plan import make_plan, managed_nodepools, pools_of

    async with _connect(g, config, req) as client:
        live = await fetch_live(
            client,
            pools_of(config, state),
            req.parallelism,
            workspace_id=config.provider.workspace_id,
            managed=managed_nodepools(state),
        )
        target = _target(config, client.project_id)
    the_plan = make_plan(config, state, live, targets=req.target, excludes=req.exclude)
    return the_plan, live, target


def _target(config: Configuration, project_id: str) -> PlanTarget:
    from reconciler.endpoint import resolve_endpoint
    from reconciler.savedplan import PlanTarget

    p = config.provider
    endpoint = resolve_endpoint(p.endpoint, p.region, os.environ)
    return PlanTarget(endpoint=endpoint, project_id=project_id, workspace="default")


def _connect(
    g: Globals, config: Configuration, req: PlanRequest
) -> AbstractAsyncContextManager[ModelArtsClient]:
    from reconciler.connect import connect

    return connect(
        config.provider,
        g.chdir,
        os.environ,
        parallelism=req.parallelism,
        verbose_log=g.log if g.verbose else None,
        allow_insecure_http=req.allow_insecure_http,
    )


def _lock(g: Globals, operation: str, lock_timeout: str) -> Any:
    from reconciler.lock import StateLock

    return StateLock(g.state_path, operation, parse_duration(lock_timeout, "--lock-timeout"))


# --- commands -------------------------------------------------------------------------------


@cli.command()
@_var_options
@click.option("--allow-insecure-http", is_flag=True, help=_INSECURE_HELP)
@_with_globals
def validate(
    g: Globals, var_files: tuple[Path, ...], var_args: tuple[str, ...], allow_insecure_http: bool
) -> None:
    """Parse and validate the configuration; no network."""
    config = _load_config(g, var_files, var_args, allow_insecure_http, offline=True)
    count = len(config.nodepools)
    g.say(
        f"Success! The configuration is valid ({count} node pool{'s' if count != 1 else ''} "
        f"in {len(config.files)} file{'s' if len(config.files) != 1 else ''})."
    )


@cli.command()
@_plan_options
@click.option(
    "-out",
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan to FILE.",
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format (markdown: for a pull-request comment).",
)
@_with_globals
def plan(
    g: Globals,
    /,
    out: Path | None,
    detailed_exitcode: bool,
    as_json: bool,
    fmt: str,
    **options: Any,
) -> None:
    """Compute and show what apply would change."""
    req = PlanRequest(**options)
    config = _load_config(g, req.var_files, req.var_args, req.allow_insecure_http)
    from reconciler.state import StateFile

    with _lock(g, "plan", req.lock_timeout):
        state = StateFile(g.state_path).read()
        the_plan, _live, target = _run(_plan_live(g, config, state, req))
    if out is not None:
        from reconciler.savedplan import save_plan

        out = g.path(out)
        save_plan(out, the_plan, config_digest=_config_digest(g, config), target=target)
    _show_plan(g, the_plan, "json" if as_json else fmt)
    if out is not None and fmt == "text" and not as_json:
        g.say(f"\nSaved the plan to {out}. To apply exactly this plan, run: np apply {out}")
    if detailed_exitcode and the_plan.has_changes:
        sys.exit(EXIT_CHANGES)


def _show_plan(g: Globals, the_plan: Plan, fmt: str) -> None:
    if fmt == "json":
        import json

        from reconciler.render.plan_json import plan_document

        # One line, like `terraform show -json`: the C encoder (indent= is 15x slower).
        g.say(json.dumps(plan_document(the_plan), ensure_ascii=False))
        return
    if fmt == "markdown":
        from reconciler.render.markdown import render_plan_markdown

        click.echo("\n".join(render_plan_markdown(the_plan)), nl=False)
        return
    from reconciler.render.text import Painter, render_plan

    g.say(render_plan(the_plan, Painter(g.color)))


@cli.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@_plan_options
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@click.option("--no-wait", is_flag=True, help="Do not wait for node counts to converge.")
@click.option(
    "--wait-timeout", default="30m", show_default=True, help="How long to wait for convergence."
)
@_with_globals
def apply(
    g: Globals,
    /,
    planfile: Path | None,
    auto_approve: bool,
    no_wait: bool,
    wait_timeout: str,
    **options: Any,
) -> None:
    """Plan, ask for approval, apply, wait for convergence, record state.

    With PLANFILE, apply exactly that saved plan (no prompt) if nothing moved since.
    """
    from reconciler.errors import NpError
    from reconciler.state import StateFile

    req = PlanRequest(**options)
    wait = 0 if no_wait else parse_duration(wait_timeout, "--wait-timeout")
    saved = None
    if planfile is not None:
        from reconciler.savedplan import load_plan

        if req.var_args or req.var_files:
            raise NpError(
                "--var and --var-file cannot be used with a saved plan: it holds the values it "
                "was made with; run np plan -out again to change them"
            )
        saved = load_plan(g.path(planfile))
    config = _load_config(g, req.var_files, req.var_args, req.allow_insecure_http)
    store = StateFile(g.state_path)
    with _lock(g, "apply", req.lock_timeout) as lock:
        state = store.read()
        job = _ApplyJob(g, config, state, store, lock, req, wait)
        if saved is None:
            the_plan, live, _ = _run(_plan_live(g, config, state, req))
            _show_plan(g, the_plan, "text")
            if not the_plan.applyable:
                sys.exit(EXIT_OK)
            if the_plan.has_changes and not auto_approve:
                _approve(g)
            outcomes = _run(job.reviewed(the_plan, live))
        else:
            outcomes = _run(job.saved(saved))
    from reconciler.apply import summarise

    summary = summarise(outcomes)
    for problem in summary.problems:
        g.say(problem, err=True)
    g.say(f"\n{summary.verdict}")
    sys.exit(EXIT_OK if summary.ok else EXIT_ERROR)


@dataclass
class _ApplyJob:
    """The apply after approval, on a fresh connection: each node pool is read again right
    before its request (a reviewed change is rebuilt from that read, a saved plan is exact)."""

    g: Globals
    config: Configuration
    state: State
    store: Any
    lock: Any
    req: PlanRequest
    wait_seconds: float

    async def reviewed(self, the_plan: Plan, live: LiveWorld) -> list[Outcome]:
        from reconciler.plan import ResourceChange, replan

        def rebuild(change: ResourceChange, fresh: dict[str, Any]) -> ResourceChange | None:
            return replan(self.config, self.state, live, change, fresh)

        async with _connect(self.g, self.config, self.req) as client:
            return await self._apply(client, the_plan, rebuild)

    async def saved(self, saved: SavedPlan) -> list[Outcome]:
        async with _connect(self.g, self.config, self.req) as client:
            the_plan = await self._checked(saved, client)
            return await self._apply(client, the_plan, None)

    async def _checked(self, saved: SavedPlan, client: ModelArtsClient) -> Plan:
        """Refuse a saved plan that no longer describes the world: nothing is sent then."""
        from reconciler.live import fetch_live
        from reconciler.savedplan import check_still_valid, check_target, touched

        check_target(saved, _target(self.config, client.project_id))
        changes = touched(saved.plan)
        live = await fetch_live(
            client,
            {r.pool for r in changes},
            self.req.parallelism,
            workspace_id=self.config.provider.workspace_id,
            managed={(r.pool, r.name) for r in changes},
        )
        check_still_valid(saved, self.state, live)
        return saved.plan

    async def _apply(
        self, client: ModelArtsClient, the_plan: Plan, rebuild: Rebuild | None
    ) -> list[Outcome]:
        from reconciler.apply import WaitPolicy, apply_plan
        from reconciler.render.progress import WaitProgress
        from reconciler.state import Journal

        g = self.g
        progress = WaitProgress(sys.stderr.isatty(), lambda line: g.say(line, err=True))
        with _graceful_interrupt(g) as stop:
            async with _keep_fresh(self.lock, lambda text: g.say(text, err=True)):
                try:
                    return await apply_plan(
                        the_plan,
                        client,
                        Journal(self.store, self.state),
                        parallelism=self.req.parallelism,
                        wait=WaitPolicy(self.wait_seconds),
                        progress=progress,
                        stop=stop,
                        rebuild=rebuild,
                    )
                finally:
                    progress.close()


def _config_digest(g: Globals, config: Configuration) -> str:
    from reconciler.savedplan import config_digest

    return config_digest(g.chdir / name for name in config.files)


@contextmanager
def _graceful_interrupt(g: Globals) -> Iterator[Any]:
    """First Ctrl-C: start nothing new, finish and journal what is in flight. Second: abort."""
    import asyncio
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def first() -> None:
        g.say(
            "\nInterrupt received: finishing the requests in flight, starting no new ones. "
            "Press Ctrl-C again to abort at once (state keeps what is done).",
            err=True,
        )
        stop.set()
        loop.remove_signal_handler(signal.SIGINT)

    loop.add_signal_handler(signal.SIGINT, first)
    try:
        yield stop
    finally:
        loop.remove_signal_handler(signal.SIGINT)


@asynccontextmanager
async def _keep_fresh(
    lock: Any, warn: Callable[[str], None], every: float = 30.0
) -> AsyncIterator[None]:
    """Touch the lock while a long apply runs, so others see it is alive; if it was taken away
    (someone ran force-unlock), say so once: the apply itself goes on and journals as before."""
    import asyncio

    from reconciler.errors import LockError

    async def beat() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                lock.refresh()
            except LockError as exc:
                warn(f"Warning: {exc}; another run may now change the same state")
                return

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


def _ask() -> str:
    """The answer typed at ``Enter a value:``; Ctrl-C or end of input is no answer.

    A plain read, not readline (``input``): readline can catch a Ctrl-C typed while it sets the
    terminal up and act on it only at the next key, so an interrupt would wait for Enter.
    No event loop runs here either, so the interrupt arrives at once."""
    try:
        click.echo("  Enter a value: ", nl=False)
        line = sys.stdin.readline()
    except KeyboardInterrupt:
        click.echo()
        return ""
    return line.strip()


def _approve(g: Globals) -> None:
    from reconciler.errors import NpError

    if not sys.stdin.isatty():
        raise NpError(
            "no terminal to ask for approval: pass --auto-approve, or save a plan with "
            "`np plan -out FILE` and apply it with `np apply FILE`"
        )
    g.say("\nDo you want to perform these actions?\n  Only 'yes' will be accepted to approve.\n")
    if _ask() != "yes":
        g.say("\nApply cancelled.", err=True)
        sys.exit(EXIT_ERROR)


@cli.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@_with_globals
def show(g: Globals, planfile: Path | None, as_json: bool) -> None:
    """Show the state (or a saved plan)."""
    import json

    from reconciler.state import StateFile

    if planfile is not None:
        from reconciler.savedplan import load_plan

        _show_plan(g, load_plan(planfile).plan, "json" if as_json else "text")
        return
    state = StateFile(g.state_path).read()
    if as_json:
        g.say(json.dumps(state.to_json(), indent=2, ensure_ascii=False))
        return
    if not state.resources:
        g.say("The state is empty: np manages no node pools yet.")
        return
    for address, resource in state.resources.items():
        g.say(f"# {address} ({resource.pool}/{resource.name}), applied {resource.updated_at}")
        g.say(json.dumps(resource.applied, indent=2, ensure_ascii=False))
        g.say()


@cli.group()
def state() -> None:
    """Inspect or edit the state."""


@state.command("list")
@_with_globals
def state_list(g: Globals) -> None:
    """List the addresses np manages."""
    from reconciler.state import StateFile

    for address in StateFile(g.state_path).read().resources:
        g.say(address)


@state.command("show")
@click.argument("address")
@_with_globals
def state_show(g: Globals, address: str) -> None:
    """Show one managed node pool as recorded."""
    import json

    from reconciler.errors import NpError
    from reconciler.state import StateFile

    resource = StateFile(g.state_path).read().resources.get(address)
    if resource is None:
        raise NpError(f"{address}: not in state ({g.state_path})")
    g.say(json.dumps({address: resource.to_json()}, indent=2, ensure_ascii=False))


@state.command("rm")
@click.argument("addresses", nargs=-1, required=True)
@click.option(
    "--lock-timeout",
    default="0s",
    show_default=True,
    help="How long to wait for the state lock (e.g. 30s, 2m).",
)
@_with_globals
def state_rm(g: Globals, addresses: tuple[str, ...], lock_timeout: str) -> None:
    """Stop managing node pools without deleting them."""
    from reconciler.errors import NpError
    from reconciler.state import StateFile

    store = StateFile(g.state_path)
    with _lock(g, "state rm", lock_timeout):
        current = store.read()
        missing = [a for a in addresses if a not in current.resources]
        if missing:
            raise NpError(f"not in state: {', '.join(missing)}")
        for address in addresses:
            del current.resources[address]
        store.write(current)
    for address in addresses:
        g.say(f"Removed {address} from state (the node pool itself is untouched).")


@cli.command("import")
@click.argument("address")
@click.argument("target", metavar="POOL/NODEPOOL")
@_var_options
@click.option(
    "--lock-timeout",
    default="0s",
    show_default=True,
    help="How long to wait for the state lock (e.g. 30s, 2m).",
)
@_with_globals
def import_(
    g: Globals,
    address: str,
    target: str,
    var_files: tuple[Path, ...],
    var_args: tuple[str, ...],
    lock_timeout: str,
) -> None:
    """Adopt an existing node pool into state without changing it."""
    from reconciler.errors import NpError

    pool, _, name = target.partition("/")
    if not pool or not name:
        raise NpError(f"{target}: expected POOL/NODEPOOL")
    config = _load_config(g, var_files, var_args)
    declared = {np.address: np for np in config.nodepools}
    if address not in declared:
        raise NpError(f"{address}: not declared in the configuration; write its block first")
    if (declared[address].pool, declared[address].name) != (pool, name):
        d = declared[address]
        raise NpError(f"{address}: the configuration declares {d.pool}/{d.name}, not {target}")
    from reconciler.apply import utc_now
    from reconciler.model import check_nodepool, desired_to_wire
    from reconciler.state import ResourceState, StateFile

    store = StateFile(g.state_path)
    req = PlanRequest(var_files, var_args, (), (), 1, lock_timeout, False)
    with _lock(g, "import", lock_timeout):
        current = store.read()
        if address in current.resources:
            raise NpError(f"{address}: already managed (np state rm it first to re-import)")

        async def fetch() -> dict[str, Any]:
            async with _connect(g, config, req) as client:
                return check_nodepool(await client.get_nodepool(pool, name), target)

        live = _run(fetch())
        wanted = declared[address]
        applied = desired_to_wire(wanted.fields, frozenset(wanted.lifecycle.ignore_changes))
        current.resources[address] = ResourceState(
            pool, name, applied, live, utc_now(), wanted.lifecycle.prevent_destroy
        )
        store.write(current)
    g.say(
        f"Imported {target} as {address}. Run np plan to see how it differs from the configuration."
    )


@cli.command()
def version() -> None:
    """Print the version."""
    click.echo(f"np {__version__}")


class _LazySim(click.Group):
    """``np sim ...`` lives in the simulator package; load it only when asked for."""

    def _real(self) -> click.Group:
        from reconciler.sim.cli import sim_group

        return sim_group

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._real().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._real().get_command(ctx, cmd_name)


cli.add_command(_LazySim("sim", help="Run the ModelArts simulator."))


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown", "junit"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@_var_options
@_targeting_options
@click.option(
    "--parallelism",
    type=click.IntRange(1, 256),
    default=10,
    show_default=True,
    help="How many requests np sends at once.",
)
@click.option("--allow-insecure-http", is_flag=True, help=_INSECURE_HELP)
@_with_globals
def drift(
    g: Globals,
    /,
    fmt: str,
    var_files: tuple[Path, ...],
    var_args: tuple[str, ...],
    target: tuple[str, ...],
    exclude: tuple[str, ...],
    parallelism: int,
    allow_insecure_http: bool,
) -> None:
    """Read-only: live vs last-applied for every managed node pool (exit 2 when drifted)."""
    import json

    from reconciler.drift import drift_report
    from reconciler.errors import NpError
    from reconciler.live import fetch_live
    from reconciler.plan import managed_nodepools, select
    from reconciler.render import drift as render
    from reconciler.state import StateFile

    config = _load_config(g, var_files, var_args, allow_insecure_http)
    state = StateFile(g.state_path).read()
    req = PlanRequest(var_files, var_args, (), (), parallelism, "0s", allow_insecure_http)
    known = {np.address for np in config.nodepools} | set(state.resources)
    unknown = [a for a in (*target, *exclude) if a not in known]
    if unknown:
        raise NpError(f"{unknown[0]}: no such address in the configuration or state")
    chosen = select(known, target, exclude)

    async def go() -> Any:
        async with _connect(g, config, req) as client:
            live = await fetch_live(
                client,
                {r.pool for r in state.resources.values()},
                parallelism,
                workspace_id=config.provider.workspace_id,
                managed=managed_nodepools(state),
            )
        return drift_report(state, live, config.nodepools, chosen)

    entries = _run(go())
    if fmt == "json":
        g.say(json.dumps(render.drift_json(entries), ensure_ascii=False))
    elif fmt == "markdown":
        click.echo(render.drift_markdown(entries), nl=False)
    elif fmt == "junit":
        click.echo(render.drift_junit(entries), nl=False)
    else:
        from reconciler.render.text import Painter

        g.say(render.drift_text(entries, Painter(g.color)))
    if render.drifted(entries):
        sys.exit(EXIT_CHANGES)


@cli.command("force-unlock")
@click.argument("lock_id")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@_with_globals
def force_unlock(g: Globals, lock_id: str, force: bool) -> None:
    """Remove a stale lock (only the one with this ID)."""
    from reconciler.errors import NpError
    from reconciler.lock import force_unlock as unlock
    from reconciler.lock import read_lock

    held = read_lock(g.state_path)
    if held is None:
        raise NpError(f"no lock is held on {g.state_path}")
    if held.id != lock_id:
        raise NpError(
            f"lock ID {lock_id} does not match the lock held on {g.state_path}: {held.id}"
        )
    if not force:
        g.say(held.describe())
        if not sys.stdin.isatty():
            raise NpError("no terminal to confirm: pass --force to remove the lock")
        g.say("\nnp will remove the lock. Only 'yes' will be accepted to confirm.\n")
        if _ask() != "yes":
            g.say("Force-unlock cancelled.", err=True)
            sys.exit(EXIT_ERROR)
    info = unlock(g.state_path, lock_id)
    g.say(f"The lock {info.id} ({info.operation} by {info.user}@{info.host}) was removed.")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the YAML configuration (for yaml-language-server)."""
    import json

    from reconciler.config import config_json_schema

    click.echo(json.dumps(config_json_schema(), indent=2))
