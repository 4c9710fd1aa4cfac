"""Plain-English wording shared by every config check: value descriptions, field paths,
did-you-mean suggestions, and the translation of pydantic errors into them.

A value a message shows is cut to ``SHOWN`` characters (``excerpt``): a 5,000-digit number or
a 60,000-character string in a message helps no one, and a message is one line.
"""

from __future__ import annotations

import difflib
import json
import re
import types
from collections.abc import Collection, Iterable, Sequence
from itertools import islice
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


SHOWN = 64
"""The most characters of a value a message shows: every name the API accepts (node pools, label
keys and values) fits."""


def excerpt(text: str) -> str:
    """``text`` cut to ``SHOWN`` characters, the cut marked with ``...``."""
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def format_path(path: FieldPath) -> str:
    """``("taints", 1, "effect")`` → ``taints[1].effect``; odd keys quoted: ``labels["a/b"]``;
    long keys cut (see ``excerpt``)."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENT.fullmatch(part) and len(part) <= SHOWN:
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(excerpt(part))}]"
    return text


def _digits(value: int | float) -> str:
    """A number as a message shows it: at most ``SHOWN`` characters, with the count of digits
    when it is cut (Python refuses to write integers of more than 4,300 digits at all)."""
    try:
        text = str(value)
    except ValueError:
        return "of more than 4,300 digits"
    if len(text) <= SHOWN:
        return text
    return f"{text[: SHOWN - 3]}... ({len(text.lstrip('-')):,} digits)"


def describe(value: Any) -> str:
    """A short description of a value for "expected X, got Y" (see ``excerpt``)."""
    if isinstance(value, bool):
        return f"bool {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {_digits(value)}"
    if isinstance(value, float):
        return f"number {_digits(value)}"
    if isinstance(value, str):
        return f"string {json.dumps(excerpt(value))}"
    return describe_type(value)


def describe_type(value: Any) -> str:
    """What a value is, without showing it: for values the operator gave from outside the
    configuration (var files, ``--var``, ``NP_VAR_``), which may hold secrets."""
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, frozenset):
        return "a set"
    return "a list" if isinstance(value, list) else "an object"


def listing(names: Iterable[str], last: str = "or") -> str:
    """``a, b or c``."""
    items = list(names)
    return f"{', '.join(items[:-1])} {last} {items[-1]}" if len(items) > 1 else "".join(items)


SUGGEST_LENGTH = 64
"""Names and candidates longer than this are not compared for a near miss: names people type
are short, and comparing long strings takes time that grows with the square of their length."""
SUGGEST_CANDIDATES = 1_000
"""Candidates one near-miss search compares (the first ones)."""
HINT_WORK = 4_000_000
"""Character pairs all near-miss searches of one configuration may compare together (about
a second of CPU at worst): a map of 50,000 long keys took 40 s per failed lookup before."""
SEARCH_COST = 250
"""What a search costs besides its character pairs (setting up the matcher: about 40 µs, the
time of 250 pairs)."""
_REMEMBERED = 10_000
"""Searches ``Hints`` remembers (each may hold up to ``SUGGEST_CANDIDATES`` names)."""


class Hints:
    """The near-miss searches of one configuration share ``HINT_WORK``, so that thousands of
    failed lookups in large maps cannot add up to minutes. A search costs the product of the
    name's and the candidates' lengths, plus ``SEARCH_COST``; once a search does not fit in
    what is left, the allowance is spent and messages go without a suggestion. A search made
    before (a typo repeated in every ``for_each`` instance) is answered from memory, free, so
    that the instances' messages stay alike."""

    def __init__(self, work: int = HINT_WORK) -> None:
        self.left = work
        self.known: dict[tuple[str, tuple[str, ...]], str | None] = {}

    def near_miss(self, name: str, options: tuple[str, ...]) -> str | None:
        key = (name, options)
        if key in self.known:
            return self.known[key]
        cost = SEARCH_COST + (len(name) + 1) * sum(len(option) + 1 for option in options)
        if cost > self.left:
            self.left = 0  # spent: later searches stop before they start
            return None
        self.left -= cost
        found = _near_miss(name, options)
        if len(self.known) < _REMEMBERED:
            self.known[key] = found
        return found


def suggest(name: str, candidates: Collection[str], hints: Hints | None = None) -> str | None:
    """The candidate the user most likely meant: snake_case of a camelCase spelling, a case
    slip, or a near miss among the first ``SUGGEST_CANDIDATES`` of at most ``SUGGEST_LENGTH``
    characters. ``hints``: the allowance shared by a configuration's searches (needed where
    the candidates come from the configuration; fixed lists of np's own names go without)."""
    for exact in (_CAMEL_HUMP.sub("_", name).lower(), name.lower()):
        if exact in candidates:
            return exact
    if len(name) > SUGGEST_LENGTH or (hints is not None and hints.left <= 0):
        return None
    options = tuple(
        option for option in islice(candidates, SUGGEST_CANDIDATES) if len(option) <= SUGGEST_LENGTH
    )
    if not options:
        return None
    return _near_miss(name, options) if hints is None else hints.near_miss(name, options)


def _near_miss(name: str, options: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(
    name: str, candidates: Collection[str], prefix: str = "", hints: Hints | None = None
) -> str:
    """``"; did you mean max_count?"`` or nothing (see ``suggest``)."""
    match = suggest(name, candidates, hints)
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
        hint = did_you_mean(name, _fields_at(model, loc[:-1]))
        return f"unknown field {excerpt(name)!r}{hint}"
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
