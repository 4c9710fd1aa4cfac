"""Output for people and for machines: the plan (text, JSON, Markdown), drift (text, JSON,
Markdown, JUnit) and apply's progress.

    click.echo(plan_output(plan, "markdown", color=False))

Each format's module is imported only when it is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.drift import DriftEntry
    from reconciler.plan import Plan


def plan_output(plan: Plan, fmt: str, color: bool) -> str:
    """The plan in ``fmt`` (text, json, markdown), without a final newline."""
    if fmt == "json":
        import json

        from reconciler.render.plan_json import plan_document

        # One line, like `terraform show -json`: the C encoder (indent= is 15x slower).
        return json.dumps(plan_document(plan), ensure_ascii=False)
    if fmt == "markdown":
        from reconciler.render.markdown import render_plan_markdown

        return "\n".join(render_plan_markdown(plan)).removesuffix("\n")
    from reconciler.render.text import Painter, render_plan

    return render_plan(plan, Painter(color))


def drift_output(entries: Sequence[DriftEntry], fmt: str, color: bool) -> str:
    """``np drift`` in ``fmt`` (text, json, markdown, junit), without a final newline."""
    from reconciler.render import drift

    if fmt == "json":
        import json

        return json.dumps(drift.drift_json(entries), ensure_ascii=False)
    if fmt == "markdown":
        return drift.drift_markdown(entries).removesuffix("\n")
    if fmt == "junit":
        return drift.drift_junit(entries).removesuffix("\n")
    from reconciler.render.text import Painter

    return drift.drift_text(entries, Painter(color))
