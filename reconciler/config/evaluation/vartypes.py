"""Variable types: ``string``, ``number``, ``bool``, ``any``, ``list(T)``, ``set(T)``,
``map(T)``, ``object({name = T, other = optional(T, default)})``; bare ``list`` and ``map`` mean
``list(any)`` and ``map(any)``.

    parse_type(node)               # from HCL (type = list(string)) or a YAML string
    conform(value, type_)          # -> the value as the type holds it, or TypeMismatch

Checking is strict, as everywhere in np: ``"2"`` is not a number and ``1`` is not a string. The
only conversions are those the type itself implies: a list becomes a set (duplicates dropped),
and an object's missing optional attributes get their defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.config.evaluation.values import is_number, kind, ordered, set_problem
from reconciler.config.messages import describe, did_you_mean, excerpt
from reconciler.config.syntax.nodes import BareName, Call, Mapping, Node, Scalar

_PRIMITIVES = ("string", "number", "bool")
_COLLECTIONS = ("list", "set", "map")


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    type: VarType
    optional: bool = False
    default: Any = None


@dataclass(frozen=True, slots=True)
class VarType:
    kind: str
    """``string``, ``number``, ``bool``, ``any``, ``list``, ``set``, ``map`` or ``object``."""
    element: VarType | None = None
    attributes: tuple[Attribute, ...] = ()

    def __str__(self) -> str:
        if self.kind in _COLLECTIONS:
            return self.kind if self.element == ANY else f"{self.kind}({self.element})"
        if self.kind == "object":
            inner = ", ".join(f"{a.name} = {_attribute_text(a)}" for a in self.attributes)
            return f"object({{{inner}}})"
        return self.kind


ANY = VarType("any")


def _attribute_text(attribute: Attribute) -> str:
    if not attribute.optional:
        return str(attribute.type)
    return f"optional({attribute.type})"


class TypeMismatch(Exception):
    """A value that does not fit a type; ``path`` says where inside the value."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def parse_type(node: Node) -> VarType:
    """The type a ``type`` attribute writes; ValueError with the reason otherwise."""
    if isinstance(node, Scalar) and isinstance(node.value, str):
        from reconciler.config.syntax.hcl_adapter import expression  # YAML: type: list(string)

        node = expression(node.value, node.pos)
    return _type(node, top=True)


def _type(node: Node, top: bool = False) -> VarType:
    if isinstance(node, BareName):
        if node.name in (*_PRIMITIVES, "any"):
            return VarType(node.name)
        if node.name in ("list", "map"):
            return VarType(node.name, ANY)
    elif isinstance(node, Call) and node.name in _COLLECTIONS and len(node.args) == 1:
        return VarType(node.name, _type(node.args[0]))
    elif isinstance(node, Call) and node.name == "object" and len(node.args) == 1:
        return _object(node.args[0])
    if isinstance(node, Call) and node.name == "optional":
        raise ValueError("optional(...) is only allowed for an attribute of object({...})")
    shapes = "string, number, bool, any, list(T), set(T), map(T) or object({name = T, ...})"
    name = node.name if isinstance(node, (BareName, Call)) else ""
    hint = did_you_mean(name, (*_PRIMITIVES, "any", *_COLLECTIONS, "object")) if name else ""
    raise ValueError(f"expected a type: {shapes}{hint}")


def _object(node: Node) -> VarType:
    if not isinstance(node, Mapping):
        raise ValueError("object(...) takes attribute types: object({name = string, ...})")
    attributes: list[Attribute] = []
    for entry in node.entries:
        value = entry.value
        if isinstance(value, Call) and value.name == "optional" and 1 <= len(value.args) <= 2:
            inner = _type(value.args[0])
            default = _literal(value.args[1]) if len(value.args) == 2 else None
            if default is not None:
                default = conform(default, inner)
            attributes.append(Attribute(entry.key, inner, True, default))
        else:
            attributes.append(Attribute(entry.key, _type(value)))
    names = [a.name for a in attributes]
    if len(set(names)) != len(names):
        raise ValueError("object(...) lists an attribute twice")
    return VarType("object", None, tuple(attributes))


def _literal(node: Node) -> Any:
    """An ``optional`` default: a literal, evaluated with nothing in scope."""
    from reconciler.config.evaluation.expr import evaluate_literal

    return evaluate_literal(node)


Shown = Callable[[Any], str]
"""How a mismatch shows the value it got: ``describe`` (written in the configuration) or
``describe_type`` (given from outside it, never echoed)."""
_Path = tuple[str | int, ...]


def conform(value: Any, type_: VarType, path: _Path = (), show: Shown = describe) -> Any:
    """``value`` as ``type_`` holds it; TypeMismatch (with where inside) when it does not fit."""
    wanted = type_.kind
    if wanted == "any":
        return value
    if value is None:
        raise TypeMismatch(f"expected {expected(type_)}, got null", path)
    if wanted in _PRIMITIVES:
        if wanted == kind(value) and (wanted != "number" or is_number(value)):
            return value
        raise TypeMismatch(f"expected {expected(type_)}, got {show(value)}", path)
    if wanted in ("list", "set"):
        return _sequence(value, type_, path, show)
    if not isinstance(value, dict):
        raise TypeMismatch(f"expected {expected(type_)}, got {show(value)}", path)
    if wanted == "map":
        assert type_.element is not None
        return {k: conform(v, type_.element, (*path, k), show) for k, v in value.items()}
    return _object_value(value, type_, path, show)


def _sequence(value: Any, type_: VarType, path: _Path, show: Shown) -> Any:
    assert type_.element is not None
    if not isinstance(value, (list, frozenset)):
        raise TypeMismatch(f"expected {expected(type_)}, got {show(value)}", path)
    items = ordered(value) if isinstance(value, frozenset) else value
    converted = [conform(item, type_.element, (*path, i), show) for i, item in enumerate(items)]
    if type_.kind == "list":
        return converted
    problem = set_problem(converted)
    if problem:
        raise TypeMismatch(problem, path)
    return frozenset(converted)


def _object_value(value: dict[str, Any], type_: VarType, path: _Path, show: Shown) -> Any:
    known = {a.name for a in type_.attributes}
    for name in value:
        if name not in known:
            listed = ", ".join(sorted(known)) or "none"
            message = f"unexpected attribute {excerpt(name)!r} (the type has {listed})"
            raise TypeMismatch(message, path)
    result: dict[str, Any] = {}
    for attribute in type_.attributes:
        if attribute.name in value and value[attribute.name] is not None:
            item = conform(value[attribute.name], attribute.type, (*path, attribute.name), show)
            result[attribute.name] = item
        elif attribute.optional:
            result[attribute.name] = attribute.default
        else:
            raise TypeMismatch(f"attribute {attribute.name!r} is required", path)
    return result


def expected(type_: VarType) -> str:
    """How messages name what a type expects: ``a number``, ``a list(string)``."""
    names = {"string": "a string", "number": "a number", "bool": "true or false"}
    return names.get(type_.kind) or f"{'an' if type_.kind == 'object' else 'a'} {type_}"
