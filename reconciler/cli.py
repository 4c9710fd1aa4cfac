"""The ``np`` command line: parse options, call the layers below, map errors to exit codes.

Only click and the standard library are imported at start-up; everything else is imported
inside the command that needs it, so ``np --help`` stays fast.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar

import click

from reconciler import __version__

if TYPE_CHECKING:
    from reconciler.api.client import ModelArtsClient
    from reconciler.apply import Outcome, Rebuild
    from reconciler.config.types import Configuration
    from reconciler.live import LiveWorld
    from reconciler.plan import Plan
    from reconciler.savedplan import PlanTarget, SavedPlan
    from reconciler.state.manager import Session, StateManager

T = TypeVar("T")

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


@dataclass
class Globals:
    chdir: Path
    state: Path | None
    color: bool
    verbose: bool
    workspace: str = "default"

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
@click.option(
    "--workspace",
    envvar="NP_WORKSPACE",
    default="default",
    show_default=True,
    help="Workspace: one state each (also NP_WORKSPACE).",
)
@click.option("--no-color", is_flag=True, help="Plain output (NO_COLOR is honoured too).")
@click.option("-v", "--verbose", is_flag=True, help="HTTP debug log on stderr, secrets redacted.")
@click.pass_context
def cli(
    ctx: click.Context,
    chdir: Path,
    state_path: Path | None,
    workspace: str,
    no_color: bool,
    verbose: bool,
) -> None:
    """np: plan and apply Huawei Cloud ModelArts node pools declared in HCL or YAML."""
    color = not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
    ctx.obj = Globals(chdir, state_path, color, verbose, workspace)


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
        (("--workspace",), "workspace", str, {}),
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
    g: Globals, config: Configuration, session: Session, req: PlanRequest
) -> tuple[Plan, LiveWorld, PlanTarget]:
    """Read live, plan; also where this plan applies, for a saved plan to record."""
    from reconciler.live import fetch_live
    from reconciler.plan import make_plan, managed_nodepools, pools_of

    state = session.state
    async with _connect(g, config, req) as client:
        _identify(g, config, session, client)
        live = await fetch_live(
            client,
            pools_of(config, state),
            req.parallelism,
            workspace_id=config.provider.workspace_id,
            managed=managed_nodepools(state),
        )
        target = _target(g, config, client.project_id)
    the_plan = make_plan(config, state, live, targets=req.target, excludes=req.exclude)
    return the_plan, live, target


def _target(g: Globals, config: Configuration, project_id: str) -> PlanTarget:
    from reconciler.endpoint import resolve_endpoint
    from reconciler.savedplan import PlanTarget

    p = config.provider
    endpoint = resolve_endpoint(p.endpoint, p.region, os.environ)
    return PlanTarget(endpoint=endpoint, project_id=project_id, workspace=g.workspace)


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


def _state(g: Globals, config: Configuration | None = None) -> StateManager:
    """The workspace's state, in the configuration's backend. Commands that need no
    configuration otherwise read it only for its backend block (none there: local files)."""
    from reconciler.ops import open_state

    if config is None:
        from reconciler.config.files import CONFIG_SUFFIXES, ignored

        directory = g.chdir
        names = [p.name for p in directory.iterdir()] if directory.is_dir() else []
        if not directory.is_dir() or any(
            not ignored(n) and n.lower().endswith(CONFIG_SUFFIXES) for n in names
        ):
            config = _load_config(g, (), (), offline=True)
    return open_state(
        None if config is None else config.backend,
        state_option=None if g.state is None else g.path(g.state),
        default_path=g.chdir / "state" / "np.state.json",
        workspace=g.workspace,
        environ=os.environ,
    )


def _timeout(lock_timeout: str) -> float:
    return parse_duration(lock_timeout, "--lock-timeout")


def _identify(g: Globals, config: Configuration, session: Session, client: ModelArtsClient) -> None:
    """Refuse a state written for another project (nothing is sent); warn on another endpoint."""
    from reconciler.ops import adopt_identity, identity_of

    identity = identity_of(config.provider, client.project_id, os.environ)
    warning = adopt_identity(session, identity)
    if warning:
        g.say(warning, err=True)


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
    manager = _state(g, config)
    with manager, manager.locked("plan", _timeout(req.lock_timeout)) as session:
        the_plan, _live, target = _run(_plan_live(g, config, session, req))
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
    manager = _state(g, config)
    with manager, manager.locked("apply", _timeout(req.lock_timeout)) as session:
        job = _ApplyJob(g, config, session, req, wait)
        if saved is None:
            the_plan, live, _ = _run(_plan_live(g, config, session, req))
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
    session: Session
    req: PlanRequest
    wait_seconds: float

    async def reviewed(self, the_plan: Plan, live: LiveWorld) -> list[Outcome]:
        from reconciler.plan import ResourceChange, replan

        state = self.session.state

        def rebuild(change: ResourceChange, fresh: dict[str, Any]) -> ResourceChange | None:
            return replan(self.config, state, live, change, fresh)

        async with _connect(self.g, self.config, self.req) as client:
            return await self._apply(client, the_plan, rebuild)

    async def saved(self, saved: SavedPlan) -> list[Outcome]:
        async with _connect(self.g, self.config, self.req) as client:
            _identify(self.g, self.config, self.session, client)
            the_plan = await self._checked(saved, client)
            return await self._apply(client, the_plan, None)

    async def _checked(self, saved: SavedPlan, client: ModelArtsClient) -> Plan:
        """Refuse a saved plan that no longer describes the world: nothing is sent then."""
        from reconciler.live import fetch_live
        from reconciler.savedplan import check_still_valid, check_target, touched

        check_target(saved, _target(self.g, self.config, client.project_id))
        changes = touched(saved.plan)
        live = await fetch_live(
            client,
            {r.pool for r in changes},
            self.req.parallelism,
            workspace_id=self.config.provider.workspace_id,
            managed={(r.pool, r.name) for r in changes},
        )
        check_still_valid(saved, self.session.state, live)
        return saved.plan

    async def _apply(
        self, client: ModelArtsClient, the_plan: Plan, rebuild: Rebuild | None
    ) -> list[Outcome]:
        from reconciler.apply import WaitPolicy, apply_plan
        from reconciler.render.progress import WaitProgress
        from reconciler.state.locking import keep_fresh

        g = self.g
        progress = WaitProgress(sys.stderr.isatty(), lambda line: g.say(line, err=True))
        with _graceful_interrupt(g) as stop:
            async with keep_fresh(self.session.locker, lambda text: g.say(text, err=True)):
                try:
                    return await apply_plan(
                        the_plan,
                        client,
                        self.session,
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

    if planfile is not None:
        from reconciler.savedplan import load_plan

        _show_plan(g, load_plan(planfile).plan, "json" if as_json else "text")
        return
    with _state(g) as manager:
        state = manager.load()
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


_LOCK_TIMEOUT = click.option(
    "--lock-timeout", default="0s", show_default=True, help="How long to wait for the state lock."
)


@state.command("list")
@_with_globals
def state_list(g: Globals) -> None:
    """List the addresses np manages."""
    with _state(g) as manager:
        for address in manager.load().resources:
            g.say(address)


@state.command("show")
@click.argument("address")
@_with_globals
def state_show(g: Globals, address: str) -> None:
    """Show one managed node pool as recorded."""
    import json

    from reconciler.errors import NpError

    with _state(g) as manager:
        resource = manager.load().resources.get(address)
        if resource is None:
            raise NpError(f"{address}: not in state ({manager.describe()})")
    g.say(json.dumps({address: resource.to_json()}, indent=2, ensure_ascii=False))


@state.command("rm")
@click.argument("addresses", nargs=-1, required=True)
@_LOCK_TIMEOUT
@_with_globals
def state_rm(g: Globals, addresses: tuple[str, ...], lock_timeout: str) -> None:
    """Stop managing node pools without deleting them."""
    from reconciler.ops import remove

    with _state(g) as manager, manager.locked("state rm", _timeout(lock_timeout)) as session:
        remove(session, addresses)
    for address in addresses:
        g.say(f"Removed {address} from state (the node pool itself is untouched).")


@state.command("mv")
@click.argument("source", metavar="SRC")
@click.argument("destination", metavar="DST")
@_LOCK_TIMEOUT
@_with_globals
def state_mv(g: Globals, source: str, destination: str, lock_timeout: str) -> None:
    """Manage a node pool under another address (no request is sent)."""
    from reconciler.ops import move

    with _state(g) as manager, manager.locked("state mv", _timeout(lock_timeout)) as session:
        move(session, source, destination)
    g.say(f"Moved {source} to {destination}.")


@state.command("pull")
@_with_globals
def state_pull(g: Globals) -> None:
    """Print the state document (what a local state file holds)."""
    from reconciler.ops import pull

    with _state(g) as manager:
        text = pull(manager)
        if text is None:
            g.say(f"No state is stored yet ({manager.describe()}).", err=True)
            return
    click.echo(text, nl=False)


@state.command("push")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace another lineage or a newer serial too.")
@_LOCK_TIMEOUT
@_with_globals
def state_push(g: Globals, file: Path, force: bool, lock_timeout: str) -> None:
    """Write a state document (from np state pull) to the configured backend."""
    from reconciler.ops import push

    with _state(g) as manager:
        written = push(manager, file, force=force, timeout=_timeout(lock_timeout))
        where = manager.describe()
    if written is None:
        g.say(f"{where} already holds this state; nothing was written.")
    else:
        g.say(f"Pushed {file} to {where} (lineage {written.lineage}, serial {written.serial}).")


@cli.command("import")
@click.argument("address")
@click.argument("target", metavar="POOL/NODEPOOL")
@_var_options
@_LOCK_TIMEOUT
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
    from reconciler.ops import declared_block, import_nodepool, import_target

    pool, name = import_target(target)
    config = _load_config(g, var_files, var_args)
    wanted = declared_block(config, address, pool, name)
    req = PlanRequest(var_files, var_args, (), (), 1, lock_timeout, False)
    with _state(g, config) as manager, manager.locked("import", _timeout(lock_timeout)) as session:

        async def go() -> None:
            async with _connect(g, config, req) as client:
                _identify(g, config, session, client)
                await import_nodepool(session, wanted, client, config.provider.workspace_id)

        _run(go())
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
    "--pool",
    "pools",
    multiple=True,
    metavar="NAME",
    help="Only the node pools of this resource pool (repeatable; default: every pool).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["hcl", "yaml"]),
    default="hcl",
    show_default=True,
    help="Output language.",
)
@_var_options
@click.option(
    "--parallelism",
    type=click.IntRange(1, 256),
    default=10,
    show_default=True,
    help="How many requests np sends at once.",
)
@click.option("--allow-insecure-http", is_flag=True, help=_INSECURE_HELP)
@_with_globals
def generate(
    g: Globals,
    /,
    pools: tuple[str, ...],
    fmt: Literal["hcl", "yaml"],
    var_files: tuple[Path, ...],
    var_args: tuple[str, ...],
    parallelism: int,
    allow_insecure_http: bool,
) -> None:
    """Print configuration for live node pools that np does not manage yet.

    Node pools already declared or recorded in state are left out. Adding the output to the
    configuration plans no changes; apply then records the node pools without a request.
    """
    from reconciler.errors import NpError
    from reconciler.generate import generate as render
    from reconciler.live import fetch_live
    from reconciler.model import check_pool

    config = _load_config(g, var_files, var_args, allow_insecure_http)
    with _state(g, config) as manager:
        state = manager.load()
    req = PlanRequest(var_files, var_args, (), (), parallelism, "0s", allow_insecure_http)
    workspace = config.provider.workspace_id

    async def go() -> tuple[LiveWorld, list[str]]:
        async with _connect(g, config, req) as client:
            wanted = list(pools) or [check_pool(p)[0] for p in await client.list_pools(workspace)]
            return await fetch_live(client, wanted, parallelism, workspace_id=workspace), wanted

    live, wanted = _run(go())
    missing = [pool for pool in wanted if pool not in live.pools]
    if missing:
        raise NpError(f'resource pool "{missing[0]}" does not exist')
    text = render(live, config, state, wanted, fmt)
    if not text:
        g.say(
            "Every live node pool is declared or in state already: nothing to generate.", err=True
        )
        return
    click.echo(text, nl=False)


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

    from reconciler.drift import DriftEntry, drift_report
    from reconciler.errors import NpError
    from reconciler.live import fetch_live
    from reconciler.ops import identity_of
    from reconciler.plan import managed_nodepools, select
    from reconciler.render import drift as render
    from reconciler.state.manager import check_identity

    config = _load_config(g, var_files, var_args, allow_insecure_http)
    with _state(g, config) as manager:
        state = manager.load()
        where = manager.describe()
    req = PlanRequest(var_files, var_args, (), (), parallelism, "0s", allow_insecure_http)
    known = {np.address for np in config.nodepools} | set(state.resources)
    unknown = [a for a in (*target, *exclude) if a not in known]
    if unknown:
        raise NpError(f"{unknown[0]}: no such address in the configuration or state")
    chosen = select(known, target, exclude)

    async def go() -> list[DriftEntry]:
        async with _connect(g, config, req) as client:
            identity = identity_of(config.provider, client.project_id, os.environ)
            warning = check_identity(state, identity, where)
            if warning:
                g.say(warning, err=True)
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
    from reconciler.ops import force_unlock as unlock
    from reconciler.state.protocols import LockInfo

    def confirm(held: LockInfo) -> bool:
        from reconciler.errors import NpError

        g.say(held.describe())
        if not sys.stdin.isatty():
            raise NpError("no terminal to confirm: pass --force to remove the lock")
        g.say("\nnp will remove the lock. Only 'yes' will be accepted to confirm.\n")
        return _ask() == "yes"

    with _state(g) as manager:
        info = unlock(manager.backend.locker, lock_id, None if force else confirm)
    if info is None:
        g.say("Force-unlock cancelled.", err=True)
        sys.exit(EXIT_ERROR)
    g.say(f"The lock {info.id} ({info.operation} by {info.user}@{info.host}) was removed.")


@cli.group()
def workspace() -> None:
    """List or delete workspaces (select one with --workspace or NP_WORKSPACE)."""


@workspace.command("list")
@_with_globals
def workspace_list(g: Globals) -> None:
    """List the workspaces; * marks the current one."""
    from reconciler.ops import workspaces

    with _state(g) as manager:
        for name in workspaces(manager):
            g.say(f"{'*' if name == g.workspace else ' '} {name}")


@workspace.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Delete it even while it manages node pools.")
@_LOCK_TIMEOUT
@_with_globals
def workspace_delete(g: Globals, name: str, force: bool, lock_timeout: str) -> None:
    """Delete a workspace's state (its node pools are not touched)."""
    from dataclasses import replace

    from reconciler.ops import delete_workspace

    with _state(g) as manager:
        delete_workspace(
            manager,
            name,
            lambda other: _state(replace(g, workspace=other)),
            force=force,
            timeout=_timeout(lock_timeout),
        )
    g.say(f"Deleted workspace {name}.")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the YAML configuration (for yaml-language-server)."""
    import json

    from reconciler.config import config_json_schema

    click.echo(json.dumps(config_json_schema(), indent=2))
