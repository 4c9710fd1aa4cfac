"""Neutral nodes → plain Python values, with variables substituted and a position recorded
for every path so that later checks (pydantic, cross-field rules) can point at a line.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from reconciler.config.messages import FieldPath, did_you_mean, format_path, pydantic_problems
from reconciler.config.nodes import (
    MAX_STRING,
    BareName,
    Call,
    Conditional,
    ForExpr,
    GetAttr,
    Index,
    Invalid,
    Mapping,
    Node,
    Operation,
    Scalar,
    Sequence,
    Template,
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


@dataclass(frozen=True, slots=True)
class Scope:
    """The variables a block may use: every declared name, the values that are set, and the
    names whose declaration or value is already reported (their uses stay quiet)."""

    declared: Collection[str]
    values: MappingABC[str, Any]
    broken: Collection[str] = ()


@dataclass
class Resolved:
    """A block's plain value, where each part of it was written, and which parts failed."""

    value: Any
    positions: dict[FieldPath, Pos] = field(default_factory=dict)
    failed: set[FieldPath] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)

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


def resolve(node: Node, scope: Scope | None, *, allow_null: bool = False) -> Resolved:
    """Evaluate ``node``; ``scope=None`` where variables may not be used at all."""
    resolver = _Resolver(scope, allow_null)
    resolver.out.positions[()] = node.pos
    resolver.out.value = resolver.value(node, ())
    return resolver.out


class _Resolver:
    def __init__(self, scope: Scope | None, allow_null: bool) -> None:
        self.scope = scope
        self.allow_null = allow_null
        self.out = Resolved(None)

    def fail(self, path: FieldPath, pos: Pos, message: str) -> None:
        """Report a problem and mark ``path`` so that nothing else is said about it."""
        self.out.problems.append(Problem(message, pos, path))
        self.out.failed.add(path)

    def value(self, node: Node, path: FieldPath) -> Any:
        if isinstance(node, Mapping):
            return self.mapping(node, path)
        if isinstance(node, Sequence):
            items = []
            for index, item in enumerate(node.items):
                self.out.positions[(*path, index)] = item.pos
                items.append(self.value(item, (*path, index)))
            return items
        if isinstance(node, Scalar):
            if node.value is None and not self.allow_null:
                self.fail(path, node.pos, "null is not allowed; leave the field out instead")
            return self.text(node.value, path, node.pos)
        name = _var_name(node)
        if name is not None:
            value = copy.deepcopy(self.variable(name, node.pos, path))
            return self.text(value, path, node.pos)
        if isinstance(node, Template):
            return self.text(self.template(node, path), path, node.pos)
        if isinstance(node, BareName):
            message = f'bare name {node.name} is not a value; write a string as "{node.name}"'
            self.fail(path, node.pos, f"{message} and a variable as var.NAME")
        elif isinstance(node, Invalid):
            self.fail(path, node.pos, node.message)
        else:
            self.fail(path, node.pos, _unsupported(node))
        return None

    def mapping(self, node: Mapping, path: FieldPath) -> dict[str, Any]:
        for later, first in duplicates(node.entries):
            where = (*path, later.key)
            self.fail(where, later.key_pos, f"set more than once (first at {first.key_pos})")
        result: dict[str, Any] = {}
        for entry in node.entries:
            where = (*path, entry.key)
            if entry.key in result:
                continue
            if len(entry.key) > MAX_STRING:
                self.fail(path, entry.key_pos, f"a key is longer than {MAX_STRING} characters")
                continue
            self.out.positions[where] = entry.key_pos
            result[entry.key] = self.value(entry.value, where)
        return result

    def text(self, value: Any, path: FieldPath, pos: Pos) -> Any:
        """Pass values through, refusing strings over the size limit."""
        if isinstance(value, str) and len(value) > MAX_STRING:
            self.fail(path, pos, f"string is longer than {MAX_STRING} characters")
            return None
        return value

    def template(self, node: Template, path: FieldPath) -> str | None:
        pieces: list[str] = []
        for part in node.parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            name = _var_name(part)
            if name is None:
                message = "an interpolation other than ${var.NAME} is not supported; only"
                allowed = 'literal values, var.NAME and "${var.NAME}" are allowed'
                self.fail(path, part.pos, f"{message} {allowed}")
                continue
            value = self.variable(name, part.pos, path)
            if isinstance(value, (list, dict)):
                kind = "list" if isinstance(value, list) else "map"
                self.fail(path, part.pos, f"var.{name} is a {kind} and cannot go in a string")
            pieces.append(stringify(value))
        return None if path in self.out.failed else "".join(pieces)

    def variable(self, name: str, pos: Pos, path: FieldPath) -> Any:
        if self.scope is None:
            self.fail(path, pos, "variables cannot be used here")
        elif name not in self.scope.declared:
            hint = did_you_mean(name, self.scope.declared, "var.")
            self.fail(path, pos, f"undeclared variable var.{name}{hint}")
        elif name in self.scope.broken:
            self.out.failed.add(path)
        elif name not in self.scope.values:
            self.fail(
                path,
                pos,
                f"variable {name} has no value; give it a default or set it with "
                f"NP_VAR_{name}, --var-file or --var",
            )
        else:
            return self.scope.values[name]
        return None


def _var_name(node: Node | str) -> str | None:
    """``NAME`` for ``var.NAME``."""
    if isinstance(node, GetAttr) and node.target == BareName("var", node.target.pos):
        return node.name
    return None


_UNSUPPORTED = {
    Operation: "an operator expression (+, -, *, ==, && ...)",
    Conditional: "a conditional expression (a ? b : c)",
    Call: "a function call",
    Index: "an index expression (x[i])",
    ForExpr: "a for expression",
    GetAttr: "a reference other than var.NAME",
}


def _unsupported(node: Node) -> str:
    what = _UNSUPPORTED.get(type(node), "this expression")
    return f'{what} is not supported; only literal values, var.NAME and "${{var.NAME}}" are allowed'


def stringify(value: Any) -> str:
    """How a value reads inside a string: ``4``, ``2.5``, ``true``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)
