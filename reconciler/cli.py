"""The ``np`` command line: parse options, call the layers below, map errors to exit codes.

Only click and the standard library are imported at start-up; everything else is imported
inside the command that needs it, so ``np --help`` stays fast.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from reconciler import __version__

if TYPE_CHECKING:
    from reconciler.config.types import Configuration
    from reconciler.plan import Plan
    from reconciler.runs import Run
    from reconciler.state.manager import StateManager

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
    metavar="NAME",
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


def _runner(g: Globals, config: Configuration, req: PlanRequest) -> Run:
    from reconciler.runs import Run

    return Run(
        config,
        g.chdir,
        os.environ,
        g.workspace,
        parallelism=req.parallelism,
        allow_insecure_http=req.allow_insecure_http,
        verbose_log=g.log if g.verbose else None,
        warn=lambda text: g.say(text, err=True),
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
    run = _runner(g, config, req)
    manager = _state(g, config)
    with manager, manager.locked("plan", _timeout(req.lock_timeout)) as session:
        the_plan, _live, target = _run(run.plan(session, req.target, req.exclude))
    if out is not None:
        from reconciler.savedplan import save_plan

        out = g.path(out)
        save_plan(out, the_plan, config_digest=run.config_digest(), target=target)
    _show_plan(g, the_plan, "json" if as_json else fmt)
    if out is not None and fmt == "text" and not as_json:
        g.say(f"\nSaved the plan to {out}. To apply exactly this plan, run: np apply {out}")
    if detailed_exitcode and the_plan.has_changes:
        sys.exit(EXIT_CHANGES)


def _show_plan(g: Globals, the_plan: Plan, fmt: str) -> None:
    from reconciler.render import plan_output

    click.echo(plan_output(the_plan, fmt, g.color), color=g.color)


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
    from reconciler.apply import summarise
    from reconciler.errors import NpError
    from reconciler.render.progress import WaitProgress

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
    run = _runner(g, config, req)
    progress = WaitProgress(sys.stderr.isatty(), lambda line: g.say(line, err=True))
    manager = _state(g, config)
    with manager, manager.locked("apply", _timeout(req.lock_timeout)) as session:
        if saved is not None:
            outcomes = _run(run.apply_saved(session, saved, wait_seconds=wait, progress=progress))
        else:
            the_plan, live, _ = _run(run.plan(session, req.target, req.exclude))
            _show_plan(g, the_plan, "text")
            if not the_plan.applyable:
                sys.exit(EXIT_OK)
            if the_plan.has_changes and not auto_approve:
                _approve(g)
            reviewed = run.apply_reviewed(
                session, the_plan, live, wait_seconds=wait, progress=progress
            )
            outcomes = _run(reviewed)
    summary = summarise(outcomes)
    for problem in summary.problems:
        g.say(problem, err=True)
    g.say(f"\n{summary.verdict}")
    sys.exit(EXIT_OK if summary.ok else EXIT_ERROR)


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

        _show_plan(g, load_plan(g.path(planfile)).plan, "json" if as_json else "text")
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
    from reconciler.ops import declared_block, import_target

    pool, name = import_target(target)
    config = _load_config(g, var_files, var_args)
    wanted = declared_block(config, address, pool, name)
    run = _runner(g, config, PlanRequest(var_files, var_args, (), (), 1, lock_timeout, False))
    with _state(g, config) as manager, manager.locked("import", _timeout(lock_timeout)) as session:
        _run(run.import_nodepool(session, wanted))
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
    from reconciler.errors import NpError
    from reconciler.plan import select
    from reconciler.render import drift_output
    from reconciler.render.drift import drifted

    config = _load_config(g, var_files, var_args, allow_insecure_http)
    with _state(g, config) as manager:
        state = manager.load()
        where = manager.describe()
    known = {np.address for np in config.nodepools} | set(state.resources)
    unknown = [a for a in (*target, *exclude) if a not in known]
    if unknown:
        raise NpError(f"{unknown[0]}: no such address in the configuration or state")
    req = PlanRequest(var_files, var_args, (), (), parallelism, "0s", allow_insecure_http)
    run = _runner(g, config, req)
    entries = _run(run.drift(state, where, select(known, target, exclude)))
    click.echo(drift_output(entries, fmt, g.color), color=g.color)
    if drifted(entries):
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
