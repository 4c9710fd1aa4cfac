"""``for_each`` on a block (``nodepool`` or ``provider``): the instances it makes, each a key
and a value, or the one reason it makes none; and lifting such a meta-argument (``for_each``,
``alias``, ``provider``) out of a block's body before the body is evaluated.

    pairs = for_each_pairs(context, node, "nodepool.gpu", diagnostics, limit=10_000)
    # -> [("a100", {...}), ("t4", {...})] in key order, or None (the reason is reported)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconciler.config.evaluation.expr import Context, Evaluator
from reconciler.config.evaluation.values import EvalError, Quiet
from reconciler.config.messages import describe
from reconciler.config.syntax.nodes import Mapping, Node
from reconciler.errors import Diagnostic


def for_each_pairs(
    context: Context,
    node: Node,
    address: str,
    diagnostics: list[Diagnostic],
    *,
    limit: int,
) -> list[tuple[str, Any]] | None:
    """``(each.key, each.value)`` for every instance in key order, at most ``limit`` of them;
    None when the value is not a map or a set of strings (reported into ``diagnostics``, or
    already reported where it failed)."""
    try:
        value = Evaluator(context).evaluate(node)
    except Quiet:
        return None
    except EvalError as exc:
        diagnostics.append(Diagnostic(exc.message, exc.pos, address, "for_each"))
        return None
    problem = None
    pairs: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        pairs = [(key, value[key]) for key in sorted(value)]
    elif isinstance(value, frozenset) and all(isinstance(item, str) for item in value):
        pairs = [(item, item) for item in sorted(value)]
    elif isinstance(value, frozenset):
        problem = "for_each needs a set of strings; convert: toset([for x in X : tostring(x)])"
    elif isinstance(value, list):
        problem = "for_each needs a map or a set of strings, got a list; use toset(...)"
    else:
        problem = f"for_each needs a map or a set of strings, got {describe(value)}"
    if problem is None and len(pairs) > limit:
        problem = f"for_each makes {len(pairs):,} instances; at most {limit:,} per block"
    if problem is not None:
        diagnostics.append(Diagnostic(problem, node.pos, address))
        return None
    return pairs


def once(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """The same problem in several instances of a block is reported once, with a count."""
    counts: dict[tuple[str, Any, str | None], list[Diagnostic]] = {}
    for diagnostic in diagnostics:
        counts.setdefault((diagnostic.message, diagnostic.pos, diagnostic.field), []).append(
            diagnostic
        )
    result: list[Diagnostic] = []
    for same in counts.values():
        first = same[0]
        more = len(same) - 1
        if more:
            noun = "instance" if more == 1 else "instances"
            first = replace(first, message=f"{first.message} (and in {more} more {noun})")
        result.append(first)
    return result


def take_entry(body: Mapping, key: str) -> tuple[Mapping, Node | None]:
    """The body without ``key`` (the first one; a repeat stays, to be reported), and its node."""
    for index, entry in enumerate(body.entries):
        if entry.key == key:
            rest = body.entries[:index] + body.entries[index + 1 :]
            return Mapping(rest, body.pos), entry.value
    return body, None
