"""``np policy ...``: the commands about Rego policies themselves (docs/policy.md).

``np policy test [DIR...]`` runs the policies' unit tests, as ``opa test`` does. Checking a
plan against policies belongs to plan and apply, which call ``reconciler.policy`` themselves.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from reconciler.cli.app import EXIT_ERROR, Globals, cli, with_globals


@cli.group()
def policy() -> None:
    """Rego policies: test them (docs/policy.md)."""


@policy.command("test")
@click.argument("dirs", nargs=-1, metavar="[DIR]...", type=click.Path(path_type=Path))
@with_globals
def policy_test(g: Globals, dirs: tuple[Path, ...]) -> None:
    """Run the test_* rules of the policies in DIR (default: the configuration's policy/).

    One line per test (PASS, FAIL or ERROR), then a summary; exits 1 when any test does not
    pass. Tests run in the same sandbox as policies do."""
    from reconciler.errors import NpError
    from reconciler.policy import Limits, PolicySource, run_policy_tests, tests_text

    named = [(g.path(d), str(d).rstrip("/") or ".") for d in dirs] or [
        (g.path(Path("policy")), "policy")
    ]
    sources = []
    for directory, shown in named:
        if not directory.is_dir():
            raise NpError(f"{shown}: no such policy directory")
        sources.append(PolicySource(directory, shown, "configuration"))
    report = run_policy_tests(sources, Limits.from_env(os.environ))
    for line in tests_text(report):
        g.say(line)
    if report.failed:
        sys.exit(EXIT_ERROR)
