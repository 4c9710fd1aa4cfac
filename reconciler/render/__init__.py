"""Output for people and for machines: the plan (text, JSON, Markdown), drift (text, JSON,
Markdown, JUnit) and apply's progress.

    for piece in plan_output(plan, "json", color=False):
        click.echo(piece, nl=False)

Each format's module is imported only when it is asked for.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconciler.errors import shown

if TYPE_CHECKING:
    from reconciler.drift import DriftEntry
    from reconciler.plan.changes import Plan


def plan_output(plan: Plan, fmt: str, color: bool, extra: Extra | None = None) -> Iterator[str]:
    """The plan in ``fmt`` (text, json, markdown), in pieces, without a final newline, with
    ``extra`` (the policy checks, rendered by their owner) where each format keeps it."""
    extra = extra or Extra()
    if fmt == "json":
        from reconciler.render.plan_json import plan_document

        yield from json_pieces(plan_document(plan) | extra.json)
    elif fmt == "markdown":
        from reconciler.render.markdown import render_plan_markdown

        yield "\n".join(render_plan_markdown(plan, extra.markdown)).removesuffix("\n")
    else:
        from reconciler.render.text import Painter, render_plan

        text = render_plan(plan, Painter(color))
        yield text + (f"\n\n{extra.text}" if extra.text else "")


@dataclass(frozen=True)
class Extra:
    """What another part of np adds to a plan's output: keys of the JSON document, a
    Markdown section at the top of the first part, text after the plan."""

    json: dict[str, Any] = field(default_factory=dict)
    markdown: str = ""
    text: str = ""


def drift_output(entries: Sequence[DriftEntry], fmt: str, color: bool) -> Iterator[str]:
    """``np drift`` in ``fmt`` (text, json, markdown, junit), in pieces, without a final
    newline."""
    from reconciler.render import drift_report as drift

    if fmt == "json":
        yield from json_pieces(drift.drift_json(entries))
    elif fmt == "markdown":
        yield drift.drift_markdown(entries).removesuffix("\n")
    elif fmt == "junit":
        yield drift.drift_junit(entries).removesuffix("\n")
    else:
        from reconciler.render.text import Painter

        yield drift.drift_text(entries, Painter(color))


def json_pieces(document: dict[str, Any]) -> Iterator[str]:
    """``json.dumps(document, ensure_ascii=False)`` one list item at a time: the JSON plan of
    10,000 node pools is never one 12 MB string (nor its encoded copy), only its pieces. One
    line, like `terraform show -json`; the C encoder does each piece (indent= is 15x slower)."""
    yield "{"
    for number, (key, value) in enumerate(document.items()):
        yield f"{', ' if number else ''}{_dumps(key)}: "
        if isinstance(value, list):
            yield "["
            for index, item in enumerate(value):
                yield f"{', ' if index else ''}{_dumps(item)}"
            yield "]"
        else:
            yield _dumps(value)
    yield "}"


def _dumps(value: Any) -> str:
    """JSON with anything unprintable as a ``\\uXXXX`` escape (the same JSON value): a
    bidi override or escape sequence a server or file put in a label stays inert in a
    terminal, and a lone surrogate cannot make the output unwritable."""
    return shown(json.dumps(value, ensure_ascii=False), None)
