"""The commands that plan, apply and report: validate, plan, apply, show, drift, import,
generate, schema, version, and the simulator's ``np sim``. Each parses its options, calls
``reconciler.runs``, and prints; nothing else happens here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from reconciler import __version__
from reconciler.cli.app import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    INSECURE_HELP,
    LOCK_TIMEOUT,
    Globals,
    PlanOptions,
    approve,
    cli,
    configuration_for_state,
    connection_options,
    load_configuration,
    locked,
    parse_duration,
    plan_options,
    read_state,
    runner,
    targeting_options,
    var_options,
    with_globals,
)

if TYPE_CHECKING:
    from reconciler.plan.changes import Plan
    from reconciler.policy import PolicyReport


@cli.command()
@var_options
@click.option("--allow-insecure-http", is_flag=True, help=INSECURE_HELP)
@with_globals
def validate(
    g: Globals, var_files: tuple[Path, ...], var_args: tuple[str, ...], allow_insecure_http: bool
) -> None:
    """Parse and validate the configuration; no network."""
    config = load_configuration(
        g, var_files, var_args, allow_insecure_http, offline=True, new_names=True
    )
    count = len(config.nodepools)
    g.say(
        f"Success! The configuration is valid ({count} node pool{'s' if count != 1 else ''} "
        f"in {len(config.files)} file{'s' if len(config.files) != 1 else ''})."
    )


@cli.command()
@plan_options
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan to FILE.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when apply would change anything (a request, or state alone).",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown", "junit"]),
    default="text",
    show_default=True,
    help="Output format (markdown: for a pull-request comment; junit: the policy checks).",
)
@with_globals
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
    from reconciler.runs import run_async

    opts = PlanOptions.pop(options)
    config = load_configuration(g, opts.var_files, opts.var_args, opts.allow_insecure_http)
    run = runner(g, config, opts.request(g))
    with locked(g, "plan", opts.lock_timeout, config) as session:
        reviewed = run_async(run.plan(session))
    refused = reviewed.refused
    if out is not None and not refused:  # a refused plan is never saved to be applied
        out = g.path(out)
        run.save(reviewed, out)
    show_plan(g, reviewed.plan, "json" if as_json else fmt, reviewed.policy)
    if refused:
        from reconciler.runs import PolicyRefusal

        raise PolicyRefusal(refused)
    if out is not None and fmt == "text" and not as_json:
        from reconciler.suggest import command

        again = command("apply", str(out))
        g.say(f"\nSaved the plan to {out}. To apply exactly this plan, run: {again}")
    if detailed_exitcode and reviewed.plan.applyable:  # adoptions, moves, forgets count too
        sys.exit(EXIT_CHANGES)


def show_plan(g: Globals, the_plan: Plan, fmt: str, policy: PolicyReport | None = None) -> None:
    """The plan in ``fmt``, with the policies' results where that format keeps them."""
    from reconciler.render import Extra, plan_output

    if fmt == "junit":
        from reconciler.policy import policy_junit

        click.echo(policy_junit(policy), nl=False, color=g.color)
        return
    extra = Extra()
    if policy is not None:
        from reconciler.policy import policy_markdown, policy_text

        extra = Extra(
            {"policy_results": policy.to_json()}, policy_markdown(policy), policy_text(policy)
        )
    echo_pieces(plan_output(the_plan, fmt, g.color, extra), g.color)


def echo_pieces(pieces: Iterable[str], color: bool) -> None:
    """Write output as it is rendered (a 10,000-node-pool JSON plan is never one string)."""
    for piece in pieces:
        click.echo(piece, nl=False, color=color)
    click.echo(color=color)


@cli.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@plan_options
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@click.option("--no-wait", is_flag=True, help="Do not wait for node counts to converge.")
@click.option(
    "--wait-timeout", default="30m", show_default=True, help="How long to wait for convergence."
)
@with_globals
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
    from reconciler.runs import run_async

    opts = PlanOptions.pop(options)
    wait = 0 if no_wait else parse_duration(wait_timeout, "--wait-timeout")
    saved = None
    if planfile is not None:
        from reconciler.plan.saved import load_plan

        if opts.var_args or opts.var_files:
            raise NpError(
                "--var and --var-file cannot be used with a saved plan: it holds the values it "
                "was made with; run np plan -out again to change them"
            )
        if opts.target or opts.exclude:
            raise NpError(
                "--target and --exclude cannot be used with a saved plan: it was made with its "
                "own; run np plan -out again to change them"
            )
        saved = load_plan(g.path(planfile), os.environ)
    config = load_configuration(
        g,
        opts.var_files,
        opts.var_args,
        opts.allow_insecure_http,
        recorded=None if saved is None else saved.recipe.variables,
    )
    terminal = CliTerminal(g)
    with locked(g, "apply", opts.lock_timeout, config) as session:
        if saved is not None:
            request = replace(
                opts.request(g), targets=saved.recipe.targets, excludes=saved.recipe.excludes
            )
            run = runner(g, config, request)
            outcomes = run_async(
                run.apply_saved(session, saved, wait_seconds=wait, progress=terminal.progress)
            )
        else:
            run = runner(g, config, opts.request(g))
            applied = run.apply(session, terminal, auto_approve=auto_approve, wait_seconds=wait)
            if applied is None:
                if terminal.cancelled:
                    g.say("\nApply cancelled.", err=True)
                    sys.exit(EXIT_ERROR)
                sys.exit(EXIT_OK)
            outcomes = applied
        # Said while the lock is held: a failure to release it comes after the summary.
        summary = summarise(outcomes)
        for problem in summary.problems:
            g.say(problem, err=True)
        g.say(f"\n{summary.verdict}")
    sys.exit(EXIT_OK if summary.ok else EXIT_ERROR)


class CliTerminal:
    """``Run.apply``'s terminal: the plan in text, the approval prompt, the wait's progress."""

    def __init__(self, g: Globals) -> None:
        from reconciler.render.progress import WaitProgress

        self.g = g
        self.progress = WaitProgress(sys.stderr.isatty(), lambda line: g.say(line, err=True))
        self.cancelled = False

    def show(self, plan: Plan, policy: PolicyReport | None) -> None:
        show_plan(self.g, plan, "text", policy)

    def approve(self) -> bool:
        self.cancelled = not approve(self.g)
        return not self.cancelled


@cli.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@with_globals
def show(g: Globals, planfile: Path | None, as_json: bool) -> None:
    """Show the state (or a saved plan)."""
    import json

    if planfile is not None:
        from reconciler.plan.saved import load_plan

        show_plan(g, load_plan(g.path(planfile), os.environ).plan, "json" if as_json else "text")
        return
    state, _where = read_state(g, configuration_for_state(g))
    if as_json:
        g.say(json.dumps(state.to_json(), indent=2, ensure_ascii=False))
        return
    if not state.resources:
        g.say("The state is empty: np manages no node pools yet.")
        return
    from reconciler.render.text import recorded_block

    g.say("\n".join(recorded_block(a, r) for a, r in state.resources.items()).rstrip("\n"))


@cli.command("import")
@click.argument("address")
@click.argument("target", metavar="POOL/NODEPOOL")
@var_options
@LOCK_TIMEOUT
@with_globals
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
    from reconciler.runs import Request, run_async

    pool, name = import_target(target)
    config = load_configuration(g, var_files, var_args)
    wanted = declared_block(config, address, pool, name)
    run = runner(g, config, Request(parallelism=1))
    with locked(g, "import", lock_timeout, config) as session:
        run_async(run.import_nodepool(session, wanted))
    g.say(
        f"Imported {target} as {wanted.address}. Run np plan to see how it differs from the "
        "configuration."
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


class Report(click.ParamType[tuple[str, Path | None], Any]):
    """``FORMAT`` or ``FORMAT=FILE``: one run, several reports (a nightly job wants JUnit for
    the test view and Markdown for the summary without reading live twice)."""

    name = "FORMAT[=FILE]"

    def __init__(self, formats: tuple[str, ...]) -> None:
        self.formats = formats

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, Path | None]:
        if isinstance(value, tuple):
            return value
        fmt, equals, file = str(value).partition("=")
        if fmt not in self.formats:
            self.fail(f"{fmt!r} is not one of {', '.join(self.formats)}", param, ctx)
        if equals and not file:
            self.fail(f"{fmt}= needs a file name ({fmt}=FILE)", param, ctx)
        return fmt, Path(file) if equals else None


def check_reports(reports: tuple[tuple[str, Path | None], ...]) -> None:
    """At most one report on stdout, and no file written twice."""
    from reconciler.errors import NpError

    if len([fmt for fmt, file in reports if file is None]) > 1:
        raise NpError(
            "--format: only one format can go to stdout; write the others to files "
            "(--format junit=drift.xml)"
        )
    files = [file for _fmt, file in reports if file is not None]
    if len(set(files)) != len(files):
        raise NpError("--format: two formats name the same file")


def write_report(g: Globals, file: Path, pieces: Iterable[str]) -> None:
    """A report file, replaced whole (never half written, never through a symlink)."""
    from reconciler.errors import NpError
    from reconciler.fsutil import atomic_write

    path = g.path(file)
    try:
        atomic_write(path, "".join(pieces) + "\n")
    except OSError as exc:
        raise NpError(f"cannot write {path}: {exc.strerror or exc}") from None


DRIFT_FORMATS = ("text", "json", "markdown", "junit")


@cli.command()
@click.option(
    "--format",
    "reports",
    type=Report(DRIFT_FORMATS),
    multiple=True,
    help="Output format: text (default), json, markdown or junit; FORMAT=FILE writes it to "
    "FILE instead of stdout. Repeatable: one check, several reports.",
)
@var_options
@targeting_options
@connection_options
@with_globals
def drift(
    g: Globals,
    /,
    reports: tuple[tuple[str, Path | None], ...],
    var_files: tuple[Path, ...],
    var_args: tuple[str, ...],
    target: tuple[str, ...],
    exclude: tuple[str, ...],
    parallelism: int,
    allow_insecure_http: bool,
) -> None:
    """Read-only: live vs last-applied for every managed node pool (exit 2 when drifted)."""
    from reconciler.render import drift_output
    from reconciler.render.drift_report import drifted
    from reconciler.runs import Request, run_async

    check_reports(reports)
    request = Request.of(target, exclude, parallelism, allow_insecure_http)
    config = load_configuration(g, var_files, var_args, allow_insecure_http)
    state, where = read_state(g, config)
    entries = run_async(runner(g, config, request).drift(state, where))
    for fmt, file in reports or (("text", None),):
        if file is None:
            echo_pieces(drift_output(entries, fmt, g.color), g.color)
        else:
            write_report(g, file, drift_output(entries, fmt, color=False))
    if drifted(entries):
        sys.exit(EXIT_CHANGES)


@cli.command()
@click.option(
    "--pool",
    "pools",
    multiple=True,
    metavar="NAME",
    help="Only the node pools of this resource pool (repeatable; default: every pool).",
)
@click.option(
    "--provider",
    "provider",
    metavar="ALIAS",
    help="The provider (region) to read: an alias (hk), modelarts.hk or "
    'modelarts.region["KEY"] (default: the provider without an alias).',
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["hcl", "yaml"]),
    default="hcl",
    show_default=True,
    help="Output language.",
)
@var_options
@connection_options
@with_globals
def generate(
    g: Globals,
    /,
    pools: tuple[str, ...],
    provider: str | None,
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
    from reconciler.runs import Request, run_async

    config = load_configuration(g, var_files, var_args, allow_insecure_http)
    state, where = read_state(g, config)
    run = runner(
        g, config, Request.of(parallelism=parallelism, allow_insecure_http=allow_insecure_http)
    )
    text = run_async(run.generate(state, where, pools, fmt, run.provider_named(provider)))
    if not text:
        g.say(
            "Every live node pool is declared or in state already: nothing to generate.", err=True
        )
        return
    click.echo(text, nl=False)


@cli.command()
@click.option(
    "--policy-input",
    is_flag=True,
    help="The JSON Schema of the input Rego policies see instead (docs/policy.md).",
)
def schema(policy_input: bool) -> None:
    """Print the JSON Schema of the YAML configuration (for yaml-language-server)."""
    import json

    if policy_input:
        from reconciler.policy import policy_input_schema

        click.echo(json.dumps(policy_input_schema(), indent=2))
        return
    from reconciler.config import config_json_schema

    click.echo(json.dumps(config_json_schema(), indent=2))
