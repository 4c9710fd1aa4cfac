"""Values of the expression language as plain Python, and what every part of it agrees on.

string ``str``, number ``int``/``float`` (never ``bool``), bool ``bool``, null ``None``, list
``list``, map and object ``dict`` (string keys), and set ``frozenset`` of strings, numbers or
bools (iterated in sorted order). Values are never mutated once made.
"""

from __future__ import annotations

import math
from typing import Any

from reconciler.errors import Pos

MAX_NUMBER = 2**63
"""Numbers stay below this in magnitude: arithmetic cannot grow without bound."""


class EvalError(Exception):
    """An expression that cannot be evaluated; the message says why (values appear by type
    and a short excerpt only) and ``pos`` where (the innermost expression that failed)."""

    def __init__(self, message: str, pos: Pos | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


class Quiet(Exception):
    """A reference to something already reported (a broken variable or local, a spent
    budget): the use says nothing more, so each mistake is reported once."""


def is_number(value: Any) -> bool:
    return type(value) in (int, float)


def kind(value: Any) -> str:
    """The type name used in messages: ``string``, ``number``, ``list``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, frozenset):
        return "set"
    return "list" if isinstance(value, list) else "map"


def stringify(value: Any) -> str:
    """How a primitive reads inside a string: ``4``, ``2.5``, ``true``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def number_problem(value: float | int) -> str | None:
    """Why a number is not one of the language's (None when it is): NaN and infinities are
    not, and neither is anything of ``MAX_NUMBER`` or more in magnitude (such numbers would
    crash ``range``, ``floor`` and output, or take quadratic time to print)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "not a finite number"
    if abs(value) >= MAX_NUMBER:
        return f"out of range (at most {MAX_NUMBER - 1} in magnitude)"
    return None


def number(value: float | int) -> int | float:
    """An arithmetic result: whole numbers as ``int``; out-of-range or non-finite refused."""
    if type(value) is int and -MAX_NUMBER < value < MAX_NUMBER:
        return value  # the common case, quickly
    problem = number_problem(value)
    if problem:
        raise EvalError(f"the result is {problem}")
    return int(value) if isinstance(value, float) and value.is_integer() else value


def set_problem(items: list[Any]) -> str | None:
    """Why ``items`` cannot make a set, or None: as in HCL, a set holds strings, numbers or
    bools, all of one type."""
    kinds = {kind(item) for item in items}
    if kinds - {"string", "number", "bool"}:
        return "a set holds strings, numbers or bools only"
    if len(kinds) > 1:
        return f"a set holds values of one type only, got {' and '.join(sorted(kinds))}"
    return None


def ordered(items: frozenset[Any]) -> list[Any]:
    """A set's elements in the order HCL iterates them (sorted; one element type per set)."""
    return sorted(items)


def equal(a: Any, b: Any) -> bool:
    """Equality with types: ``1 == "1"`` and ``true == 1`` are false, ``1 == 1.0`` is true."""
    if kind(a) != kind(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return bool(a == b)


def plain(value: Any) -> Any:
    """A value as configuration fields hold it: sets become sorted lists, nothing shared."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, frozenset)):
        return [plain(item) for item in (ordered(value) if isinstance(value, frozenset) else value)]
    return value
