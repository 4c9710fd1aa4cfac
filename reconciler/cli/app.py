"""What every ``np`` command shares: the group and its global options, error handling (one
line, exit 1), option sets, and the steps each command starts with (configuration, state).

Only click and the standard library are imported at start-up; everything else is imported
inside the command that needs it, so ``np --help`` stays fast.
"""

from __future__ import annotations

import os
import select
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from reconciler import __version__

if TYPE_CHECKING:
    from reconciler.config.configuration import Configuration
    from reconciler.migrate import Memory
    from reconciler.runs import Request, Run
    from reconciler.state.document import State
    from reconciler.state.manager import Session, StateManager

T = TypeVar("T")

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


@dataclass
class Globals:
    chdir: Path
    state: Path | None
    color: bool
    verbose: bool
    chosen_workspace: str | None = None
    """``--workspace`` or ``NP_WORKSPACE``; None: the one ``np workspace select`` chose."""
    input: bool = True
    """False with ``-input=false``: never prompt, as when there is no terminal."""

    @property
    def workspace(self) -> str:
        """The workspace this run uses: ``--workspace``, ``NP_WORKSPACE``, the one selected
        in this configuration directory (``.np/``), or ``default``; read when first needed,
        since ``-C`` may come after the command."""
        if self.chosen_workspace is None:
            from reconciler.workdir import Workdir

            self.chosen_workspace = Workdir(self.chdir).selected() or "default"
        return self.chosen_workspace

    def interactive(self) -> bool:
        """Whether np may ask a question: a terminal, and not ``-input=false``."""
        return self.input and sys.stdin.isatty()

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


def terraform_style(
    command: click.Command, ctx: click.Context, args: list[str], group: bool = False
) -> list[str]:
    """``args`` with every ``-name`` / ``-name=value`` whose ``--name`` is a long option of
    ``command`` written as ``--name``: Terraform users type ``-var x=1``, ``-out=p.plan`` and
    ``-chdir=DIR``, which click would read as the short options ``-v``, ``-a``, ``-r``.

    A value (the token after an option that takes one) is never rewritten, nor is anything
    after ``--``; a group stops at its command's name, which parses the rest itself. A bare
    boolean (``-input``, ``-lock``) means ``=true``, as in Terraform; ``--input false`` keeps
    its value. An unknown ``-name`` that is not a run of short options (``-vars``) becomes
    ``--name`` too, so that click names it ("No such option: --vars") instead of a letter of
    it ("-a")."""
    takes_value: dict[str, bool] = {}
    booleans: set[str] = set()
    for param in command.get_params(ctx):
        if isinstance(param, click.Option):
            for opt in (*param.opts, *param.secondary_opts):
                takes_value[opt] = not param.is_flag and not param.count
                if takes_value[opt] and isinstance(param.type, click.types.BoolParamType):
                    booleans.add(opt)
    out: list[str] = []
    rest = iter(args)
    for token in rest:
        if token == "--" or (group and not token.startswith("-")):
            return [*out, token, *rest]
        name, equals, _ = token.partition("=")
        if len(name) > 2 and name[1] != "-" and name[0] == "-":
            known = f"-{name}" in takes_value
            if known or not _short_options(token, takes_value):
                token, name = f"-{token}", f"-{name}"
            if name in booleans and not equals:  # Terraform's bare -input means -input=true
                token, equals = f"{token}=true", "="
        out.append(token)
        if takes_value.get(name) and not equals:
            value = next(rest, None)
            if value is not None:
                out.append(value)
    return out


def _short_options(token: str, takes_value: dict[str, bool]) -> bool:
    """Whether ``token`` (``-vC``, ``-Cinfra``) reads as short options: known letters, up to
    one that takes a value (the rest of the token is then that value)."""
    for letter in token[1:]:
        value = takes_value.get(f"-{letter}")
        if value is None:
            return False
        if value:
            return True
    return True


class NpCommand(click.Command):
    """A command that also takes its long options with one dash (``terraform_style``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, terraform_style(self, ctx, args))


class NpGroup(click.Group):
    """Turns every user-facing error into one line on stderr and exit 1 (traceback with -v).

    Click's own usage errors exit 2 by default, which CI would read as "changes pending" under
    --detailed-exitcode; np's contract is 1 for any error, so they exit 1 here too. Long
    options may be written with one dash, here and in every command (``terraform_style``).
    """

    command_class = NpCommand
    group_class = type  # sub-groups (np state, np workspace) are NpGroups too

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, terraform_style(self, ctx, args, group=True))

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


def _refuse_unlocked(_ctx: click.Context, _param: click.Parameter, value: bool | None) -> None:
    """``-lock=false``: np has no unlocked mode, and says why instead of ignoring it."""
    if value is False:
        raise click.ClickException(
            "-lock=false: np always locks the state: a second run at the same time could send "
            "conflicting changes or lose what this one records; to wait for another run's "
            "lock, use -lock-timeout=DURATION"
        )


HIDDEN_BOOLEANS = (
    (("--input",), "Ask questions (-input=false: never, as without a terminal).", None),
    (("--lock",), "Lock the state (always; -lock=false is refused).", _refuse_unlocked),
)
"""Terraform's ``-input=false`` and ``-lock=false``, taken wherever global options are."""


@click.group(
    cls=NpGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Long options may also be written with one dash, as in Terraform: -var x=1, "
    "-out=FILE, -chdir=DIR, -auto-approve; -input=false never asks a question.",
)
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
    help="Workspace: one state each (also NP_WORKSPACE; default: the one np workspace select "
    "chose, else default).",
)
@click.option("--no-color", is_flag=True, help="Plain output (NO_COLOR is honoured too).")
@click.option("-v", "--verbose", is_flag=True, help="HTTP debug log on stderr, secrets redacted.")
@click.option(*HIDDEN_BOOLEANS[0][0], type=bool, hidden=True, help=HIDDEN_BOOLEANS[0][1])
@click.option(
    *HIDDEN_BOOLEANS[1][0],
    type=bool,
    hidden=True,
    expose_value=False,
    callback=HIDDEN_BOOLEANS[1][2],
    help=HIDDEN_BOOLEANS[1][1],
)
@click.pass_context
def cli(
    ctx: click.Context,
    chdir: Path,
    state_path: Path | None,
    workspace: str | None,
    no_color: bool,
    verbose: bool,
    input: bool | None,
) -> None:
    """np: plan and apply Huawei Cloud ModelArts node pools declared in HCL or YAML."""
    color = not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
    ctx.obj = Globals(chdir, state_path, color, verbose, workspace, input is not False)


def main() -> None:
    # A cancelled CI job sends SIGTERM: stop as at Ctrl-C (finally blocks release the lock)
    # rather than die holding it.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    cli(prog_name="np")


def with_globals(f: Callable[..., T]) -> Callable[..., T]:
    """Pass the globals to a command, and accept the global options after it too
    (`np plan --no-color`, as Terraform users type it); they are listed in `np --help`."""

    def setter(attribute: str, value_of: Callable[[Any], Any]) -> Any:
        def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
            if value or (value is not None and not getattr(param, "is_flag", False)):
                setattr(ctx.find_object(Globals), attribute, value_of(value))

        return callback

    f = click.pass_obj(f)
    for decls, attribute, value_of, kind in (
        (("--no-color",), "color", lambda _v: False, {"is_flag": True}),
        (("-v", "--verbose"), "verbose", lambda _v: True, {"is_flag": True}),
        (("-C", "--chdir"), "chdir", Path, {"type": click.Path(file_okay=False)}),
        (("--state",), "state", Path, {"type": click.Path(dir_okay=False)}),
        (("--workspace",), "chosen_workspace", str, {}),
        (HIDDEN_BOOLEANS[0][0], "input", bool, {"type": bool}),
    ):
        option = click.option(
            *decls,
            expose_value=False,
            hidden=True,
            callback=setter(attribute, value_of),
            **kind,
        )
        f = option(f)
    decls, help_text, refuse = HIDDEN_BOOLEANS[1]
    return click.option(
        *decls, type=bool, hidden=True, expose_value=False, callback=refuse, help=help_text
    )(f)


# --- shared option sets -------------------------------------------------------------------


def var_options(f: Callable[..., T]) -> Callable[..., T]:
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


INSECURE_HELP = "Allow plain http:// to a non-loopback endpoint (credentials in clear text)."


def targeting_options(f: Callable[..., T]) -> Callable[..., T]:
    for decl, help_text in (
        ("--target", "Only this address (repeatable)."),
        ("--exclude", "Everything but this address (repeatable)."),
    ):
        f = click.option(decl, multiple=True, metavar="ADDR", help=help_text)(f)
    return f


def connection_options(f: Callable[..., T]) -> Callable[..., T]:
    """How np talks to the API: requests at once, and plain http beyond loopback."""
    f = click.option(
        "--parallelism",
        type=click.IntRange(1, 256),
        default=10,
        show_default=True,
        help="How many requests np sends at once.",
    )(f)
    return click.option("--allow-insecure-http", is_flag=True, help=INSECURE_HELP)(f)


LOCK_TIMEOUT = click.option(
    "--lock-timeout",
    default="0s",
    show_default=True,
    help="How long to wait for the state lock (e.g. 30s, 2m); a stale lock ends the wait.",
)


POLICY = click.option(
    "--policy",
    "policy_dirs",
    multiple=True,
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="A directory of Rego policies the plan must pass (repeatable; also NP_POLICY_PATH).",
)


def plan_options(f: Callable[..., T]) -> Callable[..., T]:
    return POLICY(LOCK_TIMEOUT(connection_options(targeting_options(var_options(f)))))


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


def load_configuration(
    g: Globals,
    var_files: tuple[Path, ...],
    var_args: tuple[str, ...],
    allow_insecure_http: bool = False,
    *,
    offline: bool = False,
    new_names: bool = False,
    recorded: dict[str, Any] | None = None,
) -> Configuration:
    """The validated configuration, its endpoints checked too (every provider's), before any
    lock or request.

    ``offline`` (validate, the state commands) checks an endpoint only when one is set: none
    is plan's concern. ``new_names`` (validate) checks that block labels used as names are
    valid names for new node pools, which plan checks only for the node pools it creates.
    """
    from reconciler.config import load_config

    config = load_config(
        g.chdir,
        var_files=[g.path(f) for f in var_files],
        var_args=var_args,
        environ=os.environ,
        new_names=new_names,
        recorded=recorded,
        workspace=g.workspace,
    )
    for warning in config.warnings:
        g.say(f"Warning: {warning}", err=True)
    for provider in config.providers_to_check(os.environ, offline):
        provider.checked_endpoint(os.environ, allow_insecure_http)
    return config


@dataclass(frozen=True)
class PlanOptions:
    """The options every planning command shares (``plan_options``), read by name."""

    var_files: tuple[Path, ...]
    var_args: tuple[str, ...]
    target: tuple[str, ...]
    exclude: tuple[str, ...]
    parallelism: int
    lock_timeout: str
    allow_insecure_http: bool
    policy_dirs: tuple[Path, ...]

    @classmethod
    def pop(cls, options: dict[str, Any]) -> PlanOptions:
        """Take this command's share of click's keyword arguments."""
        return cls(
            var_files=options.pop("var_files"),
            var_args=options.pop("var_args"),
            target=options.pop("target"),
            exclude=options.pop("exclude"),
            parallelism=options.pop("parallelism"),
            lock_timeout=options.pop("lock_timeout"),
            allow_insecure_http=options.pop("allow_insecure_http"),
            policy_dirs=options.pop("policy_dirs"),
        )

    def request(self, g: Globals) -> Request:
        from reconciler.runs import Request

        policy_dirs = [g.path(d) for d in self.policy_dirs]
        return Request.of(
            self.target, self.exclude, self.parallelism, self.allow_insecure_http, policy_dirs
        )


def runner(g: Globals, config: Configuration, request: Request | None = None) -> Run:
    from reconciler.runs import Request, Run

    return Run(
        config,
        g.chdir,
        os.environ,
        g.workspace,
        request or Request(),
        verbose_log=g.log if g.verbose else None,
        warn=lambda text: g.say(text, err=True),
    )


def configuration_for_state(g: Globals) -> Configuration | None:
    """The configuration, read by a command that needs it only for its backend block; None
    when the directory holds no configuration (the state is then in local files)."""
    from reconciler.config.syntax.files import CONFIG_SUFFIXES, ignored

    directory = g.chdir
    if directory.is_dir() and not any(
        not ignored(p.name) and p.name.lower().endswith(CONFIG_SUFFIXES)
        for p in directory.iterdir()
    ):
        return None
    return load_configuration(g, (), (), offline=True)


def directory_memory(g: Globals, config: Configuration | None) -> Memory | None:
    """``.np/``: what this configuration directory remembers of its backend and states; None
    with ``--state PATH``, a file the operator names for one command, which is neither
    checked against it nor remembered."""
    if g.state is not None:
        return None
    from reconciler.migrate import Memory, remembered
    from reconciler.workdir import Workdir

    return Memory(Workdir(g.chdir), remembered(None if config is None else config.backend))


def local_has_state(g: Globals) -> bool:
    """Whether the configuration directory's own state files hold a state (any workspace):
    the backend it used before ``.np/`` remembered one."""
    from reconciler.ops import open_state

    with open_state(
        None, state_option=None, directory=g.chdir, workspace="default", environ=os.environ
    ) as manager:
        return bool(manager.workspaces())


def open_states(
    g: Globals, config: Configuration | None = None, *, check_backend: bool = True
) -> StateManager:
    """The workspace's state, in the configuration's backend (read for it when not given);
    BackendChanged when that is not the backend this directory last used (``np init``)."""
    from reconciler.ops import open_state

    if config is None:
        config = configuration_for_state(g)
    memory = directory_memory(g, config) if check_backend else None
    if memory is not None:
        memory.check_backend(lambda: local_has_state(g))
    return open_state(
        None if config is None else config.backend,
        state_option=None if g.state is None else g.path(g.state),
        directory=g.chdir,
        workspace=g.workspace,
        environ=os.environ,
    )


def read_state(g: Globals, config: Configuration | None) -> tuple[State, str]:
    """The workspace's state, read without the lock, and where it is kept; StateVanished when
    it is not the state this directory last saw there (a drift or show of a lost state would
    report every node pool as unmanaged, or an empty state, instead of saying it is lost)."""
    with open_states(g, config) as manager:
        state, where = manager.load(), manager.describe()
        memory = directory_memory(g, config)
        if memory is not None:
            memory.check_seen(g.workspace, state, where, manager.restore_hint())
    return state, where


def lock_seconds(lock_timeout: str) -> float:
    return parse_duration(lock_timeout, "--lock-timeout")


ADOPTING = ("plan", "apply", "import")
"""Operations that may adopt a live node pool into this workspace's state."""


@contextmanager
def locked(
    g: Globals,
    operation: str,
    lock_timeout: str,
    config: Configuration | None = None,
    *,
    check_seen: bool = True,
) -> Iterator[Session]:
    """The workspace's state, locked for ``operation`` (waiting up to ``--lock-timeout``,
    saying for whom). Before anything else, the state must be the one this directory last
    saw there (``check_seen``: StateVanished otherwise), and an operation that may adopt
    must not take a node pool another workspace manages; afterwards ``.np/`` remembers the
    state."""
    if config is None:
        config = configuration_for_state(g)
    memory = directory_memory(g, config)
    with (
        open_states(g, config) as manager,
        manager.locked(
            operation, lock_seconds(lock_timeout), waiting=lambda line: g.say(line, err=True)
        ) as session,
    ):
        if memory is not None and check_seen:
            where, restore = session.describe(), manager.restore_hint()
            memory.check_seen(g.workspace, session.state, where, restore)
        if config is not None and operation in ADOPTING:
            from dataclasses import replace

            from reconciler.ops import check_other_workspaces

            check_other_workspaces(
                config,
                session,
                manager,
                lambda other: open_states(replace(g, chosen_workspace=other), config),
                os.environ,
            )
        try:
            yield session
        finally:
            if memory is not None:
                remember(g, memory, session.state)


def remember(g: Globals, memory: Memory, state: State) -> None:
    """Record the backend and ``state`` in ``.np/``; a directory np cannot write to (a
    read-only checkout) costs only the memory, so it is a warning."""
    from reconciler.workdir import WorkdirError

    try:
        memory.remember(g.workspace, state)
    except WorkdirError as exc:
        g.say(f"Warning: {exc}; np will not notice if this state goes missing", err=True)


PROMPT_POLL_SECONDS = 0.1  # the longest a Ctrl-C at the prompt can wait to be acted on


def ask() -> str:
    """The answer typed at ``Enter a value:``; Ctrl-C or end of input is no answer.

    CPython runs a signal's handler only between bytecodes, and a read already blocked in the
    kernel stays blocked when the signal landed just before it (or in another thread): a Ctrl-C
    typed the instant the prompt appears would wait for Enter. So the read waits in short
    selects, each a chance for the interrupt to be raised. A plain read, not readline
    (``input``), which can hold a Ctrl-C until the next key."""
    try:
        click.echo("  Enter a value: ", nl=False)
        while not select.select([sys.stdin], [], [], PROMPT_POLL_SECONDS)[0]:
            pass
        line = sys.stdin.readline()
    except KeyboardInterrupt:
        click.echo()
        return ""
    return line.strip()


def approve(g: Globals) -> bool:
    """Ask for approval: True only for the exact answer ``yes``."""
    from reconciler.errors import NpError

    if not g.interactive():
        raise NpError(
            "no terminal to ask for approval (or -input=false): pass --auto-approve, or save a "
            "plan with `np plan -out FILE` and apply it with `np apply FILE`"
        )
    g.say("\nDo you want to perform these actions?\n  Only 'yes' will be accepted to approve.\n")
    return ask() == "yes"
