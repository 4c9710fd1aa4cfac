"""``np policy ...``: the commands about Rego policies themselves (docs/policy.md).

``np policy test [DIR...]`` runs the policies' unit tests, as ``opa test`` does; ``np policy
check PLANFILE`` checks a saved plan without applying it. Plan and apply check every plan
themselves (``reconciler.runs``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from reconciler.cli.app import (
    EXIT_ERROR,
    POLICY,
    Globals,
    cli,
    load_configuration,
    runner,
    with_globals,
)


@cli.group()
def policy() -> None:
    """Rego policies: test them, or check a saved plan (docs/policy.md)."""


@policy.command("check")
@click.argument("planfile", type=click.Path(dir_okay=False, path_type=Path))
@POLICY
@with_globals
def policy_check(g: Globals, planfile: Path, policy_dirs: tuple[Path, ...]) -> None:
    """Check a saved plan against the policies (the operator's and the configuration's), as
    np apply PLANFILE would, without applying it: no network, no lock. Exit 1 on a deny."""
    from reconciler.errors import NpError
    from reconciler.plan.saved import load_plan
    from reconciler.runs import PolicyRefusal, Request

    saved = load_plan(g.path(planfile), os.environ)
    config = load_configuration(g, (), (), offline=True, recorded=saved.recipe.variables)
    request = Request(policy_dirs=tuple(g.path(d) for d in policy_dirs))
    report = runner(g, config, request).check_policies(saved.plan, saved.providers)
    if report is None:
        raise NpError(
            "no policies to check: set NP_POLICY_PATH, pass --policy DIR, or add a policy/ "
            "directory to the configuration"
        )
    from reconciler.policy import policy_text, refusal

    g.say(policy_text(report))
    refused = refusal(report)
    if refused:
        raise PolicyRefusal(refused)


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
