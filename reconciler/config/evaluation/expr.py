"""Evaluating expressions: pure (nothing outside the configuration is read), bounded (see
``limits``), and every failure an ``EvalError`` that says what is wrong and where.

    context = Context(variables=Names(...), locals=Names(...), budget=Budget())
    value = Evaluator(context).evaluate(node)
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any

from reconciler.config.evaluation import functions
from reconciler.config.evaluation.limits import Budget
from reconciler.config.evaluation.values import (
    EvalError,
    Quiet,
    equal,
    is_number,
    kind,
    number,
    ordered,
    stringify,
)
from reconciler.config.messages import describe, did_you_mean, excerpt
from reconciler.config.syntax.nodes import (
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

_ROOTS = ("var", "local", "each", "np")
_NP_ATTRIBUTES = ("workspace",)
"""What ``np.NAME`` may name: the workspace (``terraform.workspace``), so that one configuration
serves several environments (a per-environment count or name suffix)."""


@dataclass(frozen=True, slots=True)
class Names:
    """What one root (``var``, ``local``) can name: the declared names, the values that are
    set, and the names whose declaration or value is already reported."""

    declared: Collection[str] = ()
    values: MappingABC[str, Any] = field(default_factory=dict)
    broken: Collection[str] = ()


@dataclass(frozen=True, slots=True)
class Context:
    """Everything an expression may refer to."""

    variables: Names = Names()
    locals: Names = Names()
    each: tuple[str, Any] | None = None
    """``(each.key, each.value)`` inside an instance of a ``for_each`` block."""
    budget: Budget = field(default_factory=Budget)
    workspace: str = "default"
    """``np.workspace``: the workspace this run uses."""

    def with_each(self, key: str, value: Any) -> Context:
        return Context(self.variables, self.locals, (key, value), self.budget, self.workspace)


def evaluate_literal(node: Node) -> Any:
    """A literal value (no references, no calls); ValueError otherwise."""
    if isinstance(node, Scalar):
        return node.value
    if isinstance(node, Sequence):
        return [evaluate_literal(item) for item in node.items]
    if isinstance(node, Mapping):
        return {entry.key: evaluate_literal(entry.value) for entry in node.entries}
    raise ValueError("expected a literal value")


class Evaluator:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.budget = context.budget
        self.frames: list[dict[str, Any]] = []
        """Variables of the enclosing ``for`` expressions, innermost last."""

    def evaluate(self, node: Node) -> Any:
        """The node's value; EvalError (located) or Quiet otherwise."""
        self.budget.charge(1)
        try:
            return _EVALUATE[type(node)](self, node)
        except EvalError as exc:
            if exc.pos is None:
                exc.pos = node.pos
            raise
        except RecursionError:
            raise EvalError("the expression is nested too deeply", node.pos) from None

    # -- structure ---------------------------------------------------------------------------

    def scalar(self, node: Scalar) -> Any:
        return node.value

    def invalid(self, node: Invalid) -> Any:
        raise EvalError(node.message, node.pos)

    def sequence(self, node: Sequence) -> list[Any]:
        made = [self.evaluate(item) for item in node.items]
        self.budget.made(made)
        return made

    def mapping(self, node: Mapping) -> dict[str, Any]:
        for later, first in duplicates(node.entries):
            raise EvalError(f"{later.key} is set more than once (first at {first.key_pos})")
        made = {entry.key: self.evaluate(entry.value) for entry in node.entries}
        self.budget.made(made)
        return made

    def template(self, node: Template) -> str:
        pieces: list[str] = []
        for part in node.parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            value = self.evaluate(part)
            if value is None or isinstance(value, (list, dict, frozenset)):
                what = f"{_reference(part) or 'the value'} is {describe(value)}"
                hint = "; use join(SEPARATOR, LIST)" if isinstance(value, list) else ""
                raise EvalError(f"{what} and cannot go in a string{hint}", part.pos)
            pieces.append(stringify(value))
        self.budget.text(sum(map(len, pieces)))
        return "".join(pieces)

    # -- references --------------------------------------------------------------------------

    def bare_name(self, node: BareName) -> Any:
        for frame in reversed(self.frames):
            if node.name in frame:
                return frame[node.name]
        if node.name in _ROOTS:
            shapes = {"each": "each.key or each.value", "np": "np.workspace"}
            shape = shapes.get(node.name, f"{node.name}.NAME")
            raise EvalError(f"{node.name} is not a value by itself; write {shape}")
        message = f'bare name {node.name} is not a value; write a string as "{node.name}"'
        raise EvalError(f"{message} and a variable as var.NAME")

    def get_attr(self, node: GetAttr) -> Any:
        root = node.target
        if isinstance(root, BareName) and not any(root.name in f for f in self.frames):
            if root.name == "var":
                return self.variable(node.name)
            if root.name == "local":
                return self.local(node.name)
            if root.name == "each":
                return self.each(node.name)
            if root.name == "np":
                return self.np(node.name)
            raise EvalError(
                f"unknown reference {root.name}.{node.name}; np knows var.NAME, local.NAME, "
                "each.key, each.value and np.workspace"
            )
        target = self.evaluate(root)
        if not isinstance(target, dict):
            raise EvalError(f"{describe(target)} has no attribute {excerpt(node.name)!r}")
        return self.key(target, node.name, "attribute")

    def variable(self, name: str) -> Any:
        names = self.context.variables
        if name not in names.declared:
            hint = did_you_mean(name, names.declared, "var.", self.budget.hints)
            raise EvalError(f"undeclared variable var.{name}{hint}")
        if name in names.broken:
            raise Quiet
        if name not in names.values:
            raise EvalError(
                f"variable {name} has no value; give it a default or set it with "
                f"NP_VAR_{name}, --var-file or --var"
            )
        return names.values[name]

    def local(self, name: str) -> Any:
        names = self.context.locals
        if name not in names.declared:
            hint = did_you_mean(name, names.declared, "local.", self.budget.hints)
            raise EvalError(f"undeclared local value local.{name}{hint}")
        if name in names.broken or name not in names.values:
            raise Quiet
        return names.values[name]

    def each(self, attribute: str) -> Any:
        if self.context.each is None:
            raise EvalError("each.key and each.value exist only in a nodepool block with for_each")
        if attribute not in ("key", "value"):
            raise EvalError(f"each has key and value only, not {excerpt(attribute)!r}")
        return self.context.each[0 if attribute == "key" else 1]

    def np(self, attribute: str) -> Any:
        if attribute not in _NP_ATTRIBUTES:
            raise EvalError(f"np has workspace only, not {excerpt(attribute)!r}")
        return self.context.workspace

    def key(self, target: dict[str, Any], key: str, what: str) -> Any:
        if key not in target:
            shown = json.dumps(excerpt(key), ensure_ascii=False)
            hint = did_you_mean(key, target, hints=self.budget.hints)
            raise EvalError(f"no {what} {shown} in the map{hint}")
        return target[key]

    def index(self, node: Index) -> Any:
        target = self.evaluate(node.target)
        key = self.evaluate(node.key)
        if isinstance(target, dict):
            if not isinstance(key, str) and not is_number(key):
                raise EvalError(f"a map's key is a string, got {describe(key)}")
            return self.key(target, stringify(key), "key")
        if isinstance(target, list):
            if not is_number(key) or not float(key).is_integer():
                raise EvalError(f"a list's index is a whole number, got {describe(key)}")
            if not 0 <= key < len(target):
                raise EvalError(
                    f"index {stringify(key)} is out of range: the list has {len(target)}"
                )
            return target[int(key)]
        if isinstance(target, frozenset):
            raise EvalError("a set has no order to index; convert it with tolist(...)")
        raise EvalError(f"{describe(target)} cannot be indexed")

    # -- operators, calls, conditionals ----------------------------------------------------------

    def call(self, node: Call) -> Any:
        functions.check(node.name)
        args = [self.evaluate(arg) for arg in node.args]
        if node.expand:
            last = args.pop() if args else None
            if not isinstance(last, (list, frozenset)):
                raise EvalError(f"... expands a list or a set, got {describe(last)}")
            args += ordered(last) if isinstance(last, frozenset) else last
        return functions.call(node.name, args, self.budget)

    def operation(self, node: Operation) -> Any:
        op = node.op
        if len(node.operands) == 1:
            value = self.evaluate(node.operands[0])
            if op == "!":
                return not self.typed(value, "bool", op)
            return number(-self.typed(value, "number", op))
        left = self.evaluate(node.operands[0])
        if op in ("&&", "||"):
            if self.typed(left, "bool", op) == (op == "||"):
                return left
            return self.typed(self.evaluate(node.operands[1]), "bool", op)
        right = self.evaluate(node.operands[1])
        if op in ("==", "!="):
            self.budget.charge(min(self.budget.size(left)[0], self.budget.size(right)[0]))
            return equal(left, right) == (op == "==")
        a, b = self.typed(left, "number", op), self.typed(right, "number", op)
        return _arithmetic(op, a, b)

    @staticmethod
    def typed(value: Any, wanted: str, op: str) -> Any:
        if kind(value) != wanted:
            expected = "true or false" if wanted == "bool" else "a number"
            raise EvalError(f"operator {op} expects {expected}, got {describe(value)}")
        return value

    def conditional(self, node: Conditional) -> Any:
        condition = self.evaluate(node.condition)
        if not isinstance(condition, bool):
            raise EvalError(f"a condition must be true or false, got {describe(condition)}")
        return self.evaluate(node.then if condition else node.otherwise)

    # -- for expressions -----------------------------------------------------------------------

    def for_expr(self, node: ForExpr) -> Any:
        for name in (node.key_var, node.value_var):
            if name in _ROOTS:
                raise EvalError(f"a for variable cannot be named {name}: it hides {name}.NAME")
        collection = self.evaluate(node.collection)
        pairs = list(_pairs(collection))
        self.budget.charge(len(pairs))
        listed: list[Any] = []
        keyed: dict[str, Any] = {}
        for key, value in pairs:
            frame = {node.value_var: value}
            if node.key_var is not None:
                frame[node.key_var] = key
            self.frames.append(frame)
            try:
                if node.condition is not None and not self.condition(node.condition):
                    continue
                if node.key is None:
                    listed.append(self.evaluate(node.value))
                else:
                    self.keyed(node, keyed)
            finally:
                self.frames.pop()
            self.budget.elements(len(listed) + len(keyed))
        return self.budget.made(listed if node.key is None else keyed)

    def condition(self, node: Node) -> bool:
        value = self.evaluate(node)
        if not isinstance(value, bool):
            raise EvalError(f"a for expression's if must be true or false, got {describe(value)}")
        return value

    def keyed(self, node: ForExpr, keyed: dict[str, Any]) -> None:
        assert node.key is not None
        key = self.evaluate(node.key)
        if not isinstance(key, str) and not is_number(key) and not isinstance(key, bool):
            raise EvalError(f"a map's key is a string, got {describe(key)}", node.key.pos)
        text = stringify(key)
        value = self.evaluate(node.value)
        if node.group:
            keyed.setdefault(text, []).append(value)
        elif text in keyed:
            shown = json.dumps(excerpt(text), ensure_ascii=False)
            raise EvalError(
                f"two elements have the key {shown}; write ... after the value to group them"
            )
        else:
            keyed[text] = value


def _reference(node: Node) -> str | None:
    """``var.x``, ``each.value.name``: how a reference is written (None for other nodes)."""
    if isinstance(node, BareName):
        return node.name
    if isinstance(node, GetAttr):
        target = _reference(node.target)
        return None if target is None else f"{target}.{node.name}"
    return None


def _pairs(collection: Any) -> Iterator[tuple[Any, Any]]:
    """(key, value) pairs in HCL's order: list by index, set and map sorted."""
    if isinstance(collection, list):
        return enumerate(collection)
    if isinstance(collection, frozenset):
        return ((item, item) for item in ordered(collection))
    if isinstance(collection, dict):
        return ((key, collection[key]) for key in sorted(collection))
    raise EvalError(f"a for expression needs a list, set or map, got {describe(collection)}")


def _arithmetic(op: str, a: int | float, b: int | float) -> int | float:
    if op in ("/", "%") and b == 0:
        raise EvalError("division by zero")
    if op == "+":
        return number(a + b)
    if op == "-":
        return number(a - b)
    if op == "*":
        return number(a * b)
    if op == "/":
        return number(a / b)
    if op == "%":  # the sign of the dividend, as in HCL
        remainder = abs(a) % abs(b)
        return number(remainder if a >= 0 else -remainder)
    if op == "<":
        return a < b
    if op == ">":
        return a > b
    if op == "<=":
        return a <= b
    return a >= b


_EVALUATE: dict[type, Any] = {
    Scalar: Evaluator.scalar,
    Invalid: Evaluator.invalid,
    Sequence: Evaluator.sequence,
    Mapping: Evaluator.mapping,
    Template: Evaluator.template,
    BareName: Evaluator.bare_name,
    GetAttr: Evaluator.get_attr,
    Index: Evaluator.index,
    Call: Evaluator.call,
    Operation: Evaluator.operation,
    Conditional: Evaluator.conditional,
    ForExpr: Evaluator.for_expr,
}
