"""Plain-English wording shared by every config check: value descriptions, field paths,
did-you-mean suggestions, and the translation of pydantic errors into them.
"""

from __future__ import annotations

import difflib
import json
import re
import types
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

FieldPath = tuple[str | int, ...]
"""Where a value sits inside a block: ``("taints", 1, "effect")``."""

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_QUOTED = re.compile(r"'([^']*)'")
_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "list_type": "a list",
}


def format_path(path: FieldPath) -> str:
    """``("taints", 1, "effect")`` → ``taints[1].effect``; odd keys quoted: ``labels["a/b"]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENT.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text


def describe(value: Any) -> str:
    """A short description of a value for "expected X, got Y"."""
    if isinstance(value, bool):
        return f"bool {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {json.dumps(shown)}"
    if value is None:
        return "null"
    if isinstance(value, frozenset):
        return "a set"
    return "a list" if isinstance(value, list) else "an object"


def listing(names: Iterable[str], last: str = "or") -> str:
    """``a, b or c``."""
    items = list(names)
    return f"{', '.join(items[:-1])} {last} {items[-1]}" if len(items) > 1 else "".join(items)


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate the user most likely meant: snake_case of a camelCase spelling, a case
    slip, or a near miss."""
    options = list(candidates)
    snake = _CAMEL_HUMP.sub("_", name).lower()
    for option in options:
        if option in (snake, name.lower()):
            return option
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(name: str, candidates: Iterable[str], prefix: str = "") -> str:
    """``"; did you mean max_count?"`` or nothing."""
    match = suggest(name, candidates)
    return f"; did you mean {prefix}{match}?" if match is not None else ""


def pydantic_problems(
    errors: Sequence[ErrorDetails], model: type[BaseModel]
) -> list[tuple[FieldPath, str]]:
    """Each pydantic error as (path of the offending value, plain-English message)."""
    problems: list[tuple[FieldPath, str]] = []
    for error in errors:
        loc = tuple(error["loc"])
        if loc and loc[-1] == "[key]":
            loc = loc[:-1]
        problems.append((loc, _message(error, loc, model)))
    return problems


def _message(error: ErrorDetails, loc: FieldPath, model: type[BaseModel]) -> str:
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx", {})
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {describe(value)}"
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        name = str(loc[-1])
        return f"unknown field {name!r}{did_you_mean(name, _fields_at(model, loc[:-1]))}"
    if kind == "literal_error":
        allowed = _QUOTED.findall(str(ctx.get("expected", "")))
        hint = did_you_mean(str(value), allowed) if isinstance(value, str) else ""
        return f"expected one of {', '.join(allowed)}, got {describe(value)}{hint}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}, got {describe(value)}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}, got {describe(value)}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_long":
        return f"must have at most {ctx['max_length']} entries, got {len(value)}"
    if kind == "value_error":
        return str(ctx["error"])
    return str(error["msg"])


def _fields_at(model: type[BaseModel], loc: FieldPath) -> list[str]:
    """The field names valid at ``loc`` (for did-you-mean), following models through lists."""
    annotation: Any = model
    for part in loc:
        found = _model_in(annotation)
        if isinstance(part, str) and found is not None:
            field = found.model_fields.get(part)
            annotation = field.annotation if field is not None else None
        else:
            annotation = _element_of(annotation)
    found = _model_in(annotation)
    return list(found.model_fields) if found is not None else []


def _options(annotation: Any) -> list[Any]:
    """The alternatives of ``X | Y`` (``Annotated`` metadata stripped), or ``[X]``."""
    if get_origin(annotation) is Annotated:
        return _options(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return [option for arg in get_args(annotation) for option in _options(arg)]
    return [annotation]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class an annotation stands for, looking through ``X | None``."""
    for option in _options(annotation):
        if isinstance(option, type) and issubclass(option, BaseModel):
            return option
    return None


def _element_of(annotation: Any) -> Any:
    """The item type of ``list[X]`` or value type of ``dict[K, X]`` (through ``| None``)."""
    for option in _options(annotation):
        if get_origin(option) in (list, dict):
            return get_args(option)[-1]
    return None
