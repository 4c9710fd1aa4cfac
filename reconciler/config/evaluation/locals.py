"""``locals { name = expression }``: named values, written in any order and evaluated in the
order their references require. Locals that refer to each other in a cycle are reported once,
naming every local in the cycle.
"""

from __future__ import annotations

from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass
from typing import Any

from reconciler.config.evaluation.expr import Context, Evaluator, Names
from reconciler.config.evaluation.limits import Budget
from reconciler.config.evaluation.values import EvalError, Quiet
from reconciler.config.syntax.declarations import Declaration
from reconciler.config.syntax.nodes import BareName, GetAttr, Node, subnodes
from reconciler.errors import Diagnostic, Pos


@dataclass(frozen=True, slots=True)
class _Local:
    node: Node
    pos: Pos


def build_locals(
    declarations: SequenceABC[Declaration],
    variables: Names,
    budget: Budget,
    diagnostics: list[Diagnostic],
    workspace: str = "default",
) -> Names:
    """Every local's value; the names of broken ones (already reported) stay quiet."""
    written: dict[str, _Local] = {}
    for decl in declarations:
        if decl.kind != "locals":
            continue
        for entry in decl.body.entries:
            if entry.key in written:
                message = f"set more than once (first at {written[entry.key].pos})"
                diagnostics.append(Diagnostic(message, entry.key_pos, f"local.{entry.key}"))
            else:
                written[entry.key] = _Local(entry.value, entry.key_pos)
    needs = {name: _references(local.node) & written.keys() for name, local in written.items()}
    broken: set[str] = set()
    for cycle in _cycles(needs):
        members = ", ".join(f"local.{name}" for name in cycle)
        message = f"local values refer to each other in a cycle: {members}"
        diagnostics.append(Diagnostic(message, written[cycle[0]].pos, f"local.{cycle[0]}"))
        broken.update(cycle)
    values: dict[str, Any] = {}
    names = Names(written, values, broken)
    evaluator = Evaluator(Context(variables, names, budget=budget, workspace=workspace))
    for name in _order(needs, broken):
        try:
            values[name] = evaluator.evaluate(written[name].node)
        except EvalError as exc:
            diagnostics.append(Diagnostic(exc.message, exc.pos, f"local.{name}"))
            broken.add(name)
        except Quiet:
            broken.add(name)
    return names


def _references(node: Node) -> set[str]:
    return {
        sub.name
        for sub in subnodes(node)
        if isinstance(sub, GetAttr) and sub.target == BareName("local", sub.target.pos)
    }


def _cycles(needs: dict[str, set[str]]) -> list[list[str]]:
    """Each group of locals that reach each other (Tarjan's strongly connected components,
    without recursion), members in declaration order; single locals only if self-referring."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    order = {name: i for i, name in enumerate(needs)}
    for start in needs:
        if start in index:
            continue
        work = [(start, iter(sorted(needs[start], key=order.__getitem__)))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            name, pending = work[-1]
            following = next(pending, None)
            if following is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[name])
                if low[name] == index[name]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == name:
                            break
                    if len(group) > 1 or name in needs[name]:
                        found.append(sorted(group, key=order.__getitem__))
            elif following not in index:
                index[following] = low[following] = len(index)
                stack.append(following)
                on_stack.add(following)
                work.append((following, iter(sorted(needs[following], key=order.__getitem__))))
            elif following in on_stack:
                low[name] = min(low[name], index[following])
    return sorted(found, key=lambda group: order[group[0]])


def _order(needs: dict[str, set[str]], broken: set[str]) -> list[str]:
    """Locals outside cycles, each after the locals it refers to (without recursion)."""
    done: set[str] = set(broken)
    ordered: list[str] = []
    for start in needs:
        work = [start]
        while work:
            name = work[-1]
            if name in done:
                work.pop()
                continue
            waiting = [dep for dep in needs[name] if dep not in done]
            if waiting:
                work += waiting
                continue
            work.pop()
            done.add(name)
            ordered.append(name)
    return ordered
