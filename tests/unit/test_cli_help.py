"""Every option says what it is for in `np COMMAND --help`."""

from __future__ import annotations

import click

from reconciler.cli import cli


def options_without_help(command: click.Command, path: str) -> list[str]:
    missing = [
        f"{path} {param.opts[0]}"
        for param in command.params
        if isinstance(param, click.Option) and not param.hidden and not param.help
    ]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            missing += options_without_help(sub, f"{path} {name}")
    return missing


def test_every_option_has_help_text() -> None:
    assert options_without_help(cli, "np") == []
