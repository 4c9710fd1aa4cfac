"""Neutral nodes → plain Python values, expressions evaluated, and a position recorded for
every path so that later checks (pydantic, cross-field rules) can point at a line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from reconciler.config.evaluation.expr import Context, Evaluator
from reconciler.config.evaluation.values import EvalError, Quiet, plain
from reconciler.config.messages import FieldPath, format_path, pydantic_problems
from reconciler.config.syntax.nodes import (
    MAX_STRING,
    Invalid,
    Mapping,
    Node,
    Scalar,
    Sequence,
    duplicates,
)
from reconciler.errors import Diagnostic, Pos

_Model = TypeVar("_Model", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Problem:
    """A finding inside one block; the caller knows the block's address."""

    message: str
    pos: Pos
    path: FieldPath = ()

    def diagnostic(self, address: str | None) -> Diagnostic:
        return Diagnostic(self.message, self.pos, address, format_path(self.path) or None)


@dataclass
class Resolved:
    """A block's plain value, where each part of it was written, and which parts failed."""

    value: Any
    positions: dict[FieldPath, Pos] = field(default_factory=dict)
    failed: set[FieldPath] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    literal: bool = True
    """Whether the value is written out whole, no expression in it: then it is the same in
    every run, whatever the variables."""

    def pos(self, path: FieldPath) -> Pos:
        """Where ``path`` (or the nearest enclosing value) is written."""
        while path not in self.positions:  # ends at the root, which always has one
            path = path[:-1]
        return self.positions[path]

    def is_failed(self, path: FieldPath) -> bool:
        """Whether ``path`` lies in a part already reported (so later checks stay quiet)."""
        return any(path[:end] in self.failed for end in range(len(path) + 1))

    def report(self, path: FieldPath, message: str) -> None:
        self.problems.append(Problem(message, self.pos(path), path))


def validate(model: type[_Model], resolved: Resolved) -> _Model | None:
    """Validate a resolved block against its schema model, reporting problems into it;
    errors inside parts that are already reported are not repeated."""
    try:
        return model.model_validate(resolved.value)
    except ValidationError as exc:
        for path, message in pydantic_problems(exc.errors(), model):
            if not resolved.is_failed(path):
                resolved.report(path, message)
        return None


def resolve(
    node: Node, context: Context | None, *, literal: str = "", allow_null: bool = False
) -> Resolved:
    """Evaluate ``node``. ``context=None`` where only literal values may be written; then
    ``literal`` says why (it ends the message about an expression)."""
    resolver = _Resolver(context, literal, allow_null)
    resolver.out.positions[()] = node.pos
    value = resolver.value(node, ())
    resolver.out.value = None if value is _OMITTED else value
    return resolver.out


_OMITTED = object()
"""An expression whose value is null: the entry is left out, as if it were not written."""


class _Resolver:
    def __init__(self, context: Context | None, literal: str, allow_null: bool) -> None:
        self.context = context
        self.literal = literal
        self.allow_null = allow_null
        self.evaluator = Evaluator(context) if context is not None else None
        self.out = Resolved(None)

    def fail(self, path: FieldPath, pos: Pos, message: str) -> None:
        """Report a problem and mark ``path`` so that nothing else is said about it."""
        self.out.problems.append(Problem(message, pos, path))
        self.out.failed.add(path)

    def value(self, node: Node, path: FieldPath) -> Any:
        if type(node) is Scalar:
            return self.scalar(node, path)
        if type(node) is Mapping:
            return self.mapping(node, path)
        if type(node) is Sequence:
            return self.sequence(node, path)
        if type(node) is Invalid:
            self.fail(path, node.pos, node.message)
            return None
        return self.expression(node, path)

    def scalar(self, node: Scalar, path: FieldPath) -> Any:
        value = node.value
        if value is None and not self.allow_null:
            self.fail(path, node.pos, "null is not allowed; leave the field out instead")
        elif type(value) is str and len(value) > MAX_STRING:
            return self.text(value, path, node.pos)
        return value

    def mapping(self, node: Mapping, path: FieldPath) -> dict[str, Any]:
        entries = node.entries
        if len({entry.key for entry in entries}) < len(entries):
            for later, first in duplicates(entries):
                where = (*path, later.key)
                self.fail(where, later.key_pos, f"set more than once (first at {first.key_pos})")
        positions = self.out.positions
        result: dict[str, Any] = {}
        for entry in entries:
            key = entry.key
            if key in result:
                continue
            if len(key) > MAX_STRING:
                self.fail(path, entry.key_pos, f"a key is longer than {MAX_STRING} characters")
                continue
            where = (*path, key)
            positions[where] = entry.key_pos
            value = self.value(entry.value, where)
            if value is _OMITTED:
                del positions[where]
            else:
                result[key] = value
        return result

    def sequence(self, node: Sequence, path: FieldPath) -> list[Any]:
        positions = self.out.positions
        items = []
        for index, item in enumerate(node.items):
            where = (*path, index)
            positions[where] = item.pos
            value = self.value(item, where)
            if value is _OMITTED:
                self.fail(where, item.pos, "null is not allowed in a list")
                value = None
            items.append(value)
        return items

    def expression(self, node: Node, path: FieldPath) -> Any:
        self.out.literal = False
        if self.evaluator is None:
            self.fail(path, node.pos, f"only literal values can be written here: {self.literal}")
            return None
        try:
            value = self.evaluator.budget.kept(self.evaluator.evaluate(node))
        except EvalError as exc:
            self.fail(path, exc.pos or node.pos, exc.message)
            return None
        except Quiet:
            self.out.failed.add(path)
            return None
        return _OMITTED if value is None else self.text(plain(value), path, node.pos)

    def text(self, value: Any, path: FieldPath, pos: Pos) -> Any:
        """Pass values through, refusing strings over the size limit."""
        if isinstance(value, str) and len(value) > MAX_STRING:
            self.fail(path, pos, f"string is longer than {MAX_STRING} characters")
            return None
        return value
