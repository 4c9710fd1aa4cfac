"""The functions expressions may call: pure ones only, so a configuration means the same on
every machine and every day. Anything that reads files, the clock, the environment or
randomness is refused by name, as is any name not listed here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.config.evaluation.limits import Budget, Spent
from reconciler.config.evaluation.values import (
    EvalError,
    equal,
    is_number,
    kind,
    number,
    number_problem,
    ordered,
    plain,
    set_problem,
    stringify,
)
from reconciler.config.messages import describe, did_you_mean, excerpt

IMPURE = frozenset(
    {
        "file",
        "filebase64",
        "fileexists",
        "fileset",
        "filemd5",
        "filesha1",
        "filesha256",
        "filesha512",
        "filebase64sha256",
        "filebase64sha512",
        "templatefile",
        "timestamp",
        "plantimestamp",
        "uuid",
        "bcrypt",
        "abspath",
        "pathexpand",
        "env",
    }
)
"""Terraform functions that read the outside world (files, clock, randomness, environment)."""


@dataclass(frozen=True, slots=True)
class _Function:
    run: Callable[..., Any]
    least: int
    most: int | None
    """None: any number of arguments."""


FUNCTIONS: dict[str, _Function] = {}


def _function(least: int, most: int | None = -1) -> Callable[[Callable[..., Any]], Any]:
    """Register ``run(budget, *args)`` under its own name; ``most`` -1: exactly ``least``."""

    def register(run: Callable[..., Any]) -> Callable[..., Any]:
        FUNCTIONS[run.__name__.rstrip("_")] = _Function(run, least, least if most == -1 else most)
        return run

    return register


def check(name: str) -> None:
    """Refuse a function that is not on the list, before its arguments are evaluated."""
    if name not in FUNCTIONS:
        if name in IMPURE:
            raise EvalError(
                f"function {name}() is not allowed: it reads the world outside the "
                "configuration, and np configurations stay pure and reproducible"
            )
        hint = did_you_mean(name, FUNCTIONS) or f"; np offers {', '.join(sorted(FUNCTIONS))}"
        raise EvalError(f"unknown function {name}(){hint}")


def call(name: str, args: list[Any], budget: Budget) -> Any:
    """Run a function of the allow-list (``check`` it first)."""
    function = FUNCTIONS[name]
    if len(args) < function.least or (function.most is not None and len(args) > function.most):
        if function.most is None:
            wanted = f"at least {function.least}"
        elif function.least == function.most:
            wanted = str(function.least)
        else:
            wanted = f"{function.least} to {function.most}"
        raise EvalError(f"{name}() takes {wanted} argument(s), got {len(args)}")
    budget.charge(len(args))
    try:
        return budget.made(function.run(budget, *args))
    except Spent:
        raise
    except EvalError as exc:
        raise EvalError(f"{name}(): {exc.message}") from None


def _expect(value: Any, wanted: str, what: str) -> Any:
    if kind(value) != wanted:
        article = "an" if wanted[0] in "aeiou" else "a"
        raise EvalError(f"{what} must be {article} {wanted}, got {describe(value)}")
    return value


def _items(value: Any, what: str) -> list[Any]:
    """A list's or a set's elements."""
    if isinstance(value, frozenset):
        return ordered(value)
    return list(_expect(value, "list", what))


def _strings(value: Any, what: str) -> list[str]:
    items = _items(value, what)
    for item in items:
        if item is None or isinstance(item, (list, dict, frozenset)):
            raise EvalError(f"{what} must hold strings, numbers or bools, got {describe(item)}")
    return [stringify(item) for item in items]


def _number(value: Any, what: str = "the argument") -> int | float:
    """A number argument, finite and in range (whatever a literal or a caller let through)."""
    if not is_number(value):
        raise EvalError(f"{what} must be a number, got {describe(value)}")
    problem = number_problem(value)
    if problem:
        raise EvalError(f"{what} is {problem}")
    return value  # type: ignore[no-any-return]  # checked above


# -- collections ----------------------------------------------------------------------------


@_function(0, None)
def concat(budget: Budget, *lists: Any) -> list[Any]:
    joined: list[Any] = []
    for index, value in enumerate(lists, 1):
        items = _items(value, f"argument {index}")
        budget.elements(len(joined) + len(items))
        joined += items
    return joined


@_function(0, None)
def merge(budget: Budget, *maps: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for index, value in enumerate(maps, 1):
        if value is not None:
            merged.update(_expect(value, "map", f"argument {index}"))
            budget.elements(len(merged))
    return merged


@_function(2, 3)
def lookup(budget: Budget, mapping: Any, key: Any, *default: Any) -> Any:
    _expect(mapping, "map", "the first argument")
    _expect(key, "string", "the key")
    if key in mapping:
        return mapping[key]
    if default:
        return default[0]
    raise EvalError(f"no key {json.dumps(excerpt(key))} in the map, and no default given")


@_function(1)
def keys(budget: Budget, mapping: Any) -> list[str]:
    return sorted(_expect(mapping, "map", "the argument"))


@_function(1)
def values(budget: Budget, mapping: Any) -> list[Any]:
    mapping = _expect(mapping, "map", "the argument")
    return [mapping[key] for key in sorted(mapping)]


@_function(1)
def length(budget: Budget, value: Any) -> int:
    if isinstance(value, (str, list, dict, frozenset)):
        return len(value)
    raise EvalError(f"expected a string, list, set or map, got {describe(value)}")


@_function(2)
def contains(budget: Budget, collection: Any, value: Any) -> bool:
    items = _items(collection, "the first argument")
    budget.charge(len(items) * budget.size(value)[0])
    return any(equal(item, value) for item in items)


@_function(1, None)
def coalesce(budget: Budget, *candidates: Any) -> Any:
    for value in candidates:
        if value is not None and value != "":
            return value
    raise EvalError("every argument is null or an empty string")


@_function(1)
def distinct(budget: Budget, collection: Any) -> list[Any]:
    items = _items(collection, "the argument")
    budget.charge(len(items) * len(items) // 8 + len(items))
    kept: list[Any] = []
    for item in items:
        if not any(equal(item, seen) for seen in kept):
            kept.append(item)
    return kept


@_function(1)
def flatten(budget: Budget, collection: Any) -> list[Any]:
    flat: list[Any] = []
    pending = [iter(_items(collection, "the argument"))]
    end = object()
    while pending:
        item = next(pending[-1], end)
        if item is end:
            pending.pop()
        elif isinstance(item, list):
            pending.append(iter(item))
        else:
            flat.append(item)
            budget.elements(len(flat))
    budget.charge(len(flat))
    return flat


@_function(1, 3)
def range_(budget: Budget, *bounds: Any) -> list[int | float]:
    numbers = [_number(bound, f"argument {i}") for i, bound in enumerate(bounds, 1)]
    start, limit, step = (0, numbers[0], 1) if len(numbers) == 1 else (*numbers[:2], 1)
    if len(numbers) == 3:
        step = numbers[2]
    if step == 0:
        raise EvalError("the step must not be 0")
    count = max(0, math.ceil((limit - start) / step))
    budget.elements(count)
    budget.charge(count)
    return [number(start + i * step) for i in range(count)]


@_function(2)
def zipmap(budget: Budget, names: Any, items: Any) -> dict[str, Any]:
    keys_ = _items(names, "the first argument")
    values_ = _items(items, "the second argument")
    if len(keys_) != len(values_):
        raise EvalError(f"{len(keys_)} keys but {len(values_)} values")
    for key in keys_:
        _expect(key, "string", "every key")
    return dict(zip(keys_, values_, strict=True))


# -- strings --------------------------------------------------------------------------------


@_function(2)
def join(budget: Budget, separator: Any, items: Any) -> str:
    _expect(separator, "string", "the separator")
    parts = _strings(items, "the list")
    budget.charge(len(parts))  # the walk: a string made of nothing but "" is still work
    budget.string(sum(map(len, parts)) + len(separator) * max(0, len(parts) - 1))
    return str(separator).join(parts)


@_function(2)
def split(budget: Budget, separator: Any, text: Any) -> list[str]:
    _expect(separator, "string", "the separator")
    _expect(text, "string", "the string")
    if not separator:
        raise EvalError("the separator must not be empty")
    budget.produce(len(text))  # the pieces are new strings
    parts: list[str] = text.split(separator)
    return parts


@_function(1)
def lower(budget: Budget, text: Any) -> str:
    return str(_expect(text, "string", "the argument")).lower()


@_function(1)
def upper(budget: Budget, text: Any) -> str:
    return str(_expect(text, "string", "the argument")).upper()


@_function(1)
def trimspace(budget: Budget, text: Any) -> str:
    return str(_expect(text, "string", "the argument")).strip()


@_function(3)
def replace(budget: Budget, text: Any, old: Any, new: Any) -> str:
    for value, what in (
        (text, "the string"),
        (old, "the text to replace"),
        (new, "its replacement"),
    ):
        _expect(value, "string", what)
    if len(old) > 1 and old.startswith("/") and old.endswith("/"):
        raise EvalError("regular expressions (/.../) are not supported: give the literal text")
    if not old:
        raise EvalError("the text to replace must not be empty")
    budget.string(len(text) + text.count(old) * (len(new) - len(old)))
    result: str = text.replace(old, new)
    return result


_VERB = re.compile(r"%(?P<flags>[-+ 0#]*)(?P<width>\d+)?(?:\.(?P<precision>\d+))?(?P<verb>.?)")


@_function(1, None)
def format_(budget: Budget, template: Any, *args: Any) -> str:
    _expect(template, "string", "the format")
    pieces: list[str] = []
    used = 0
    start = 0
    for match in _VERB.finditer(template):
        pieces.append(template[start : match.start()])
        start = match.end()
        verb = match.group("verb")
        budget.charge(1)  # each verb is work, even one that writes a single "%"
        if verb == "%":
            pieces.append("%")
            continue
        if used >= len(args):
            raise EvalError(f"the format needs more than {len(args)} argument(s)")
        pieces.append(_formatted(match, verb, args[used], budget))
        used += 1
        budget.string(sum(map(len, pieces)))
    if used < len(args):
        raise EvalError(f"{len(args)} arguments given, but the format uses {used}")
    pieces.append(template[start:])
    return "".join(pieces)


def _formatted(match: re.Match[str], verb: str, value: Any, budget: Budget) -> str:
    width = int(match.group("width") or 0)
    precision = match.group("precision")
    if width > 1000 or (precision and int(precision) > 100):
        raise EvalError("widths and precisions in a format are at most 1000 and 100")
    flags = match.group("flags")
    align = "<" if "-" in flags else ">"
    sign = "+" if "+" in flags else " " if " " in flags else ""
    if verb in ("d", "f"):
        zero = "0" if "0" in flags and "-" not in flags else ""
        spec = f"{align if not zero else ''}{sign}{zero}{width or ''}"
    else:
        spec = f"{align}{width or ''}"
    if verb == "d":
        if not is_number(value) or not float(value).is_integer():
            raise EvalError(f"%d needs a whole number, got {describe(value)}")
        return format(int(value), spec + "d")
    if verb == "f":
        return format(float(_number(value)), f"{spec}.{precision or 6}f")
    if verb == "t":
        return format(stringify(_expect(value, "bool", "%t's argument")), spec)
    if verb in ("s", "v", "q"):
        if isinstance(value, (list, dict, frozenset)) or value is None:
            if verb != "v":
                raise EvalError(f"%{verb} needs a string, number or bool, got {describe(value)}")
            text = _serialised(value, budget)
        else:
            text = stringify(value)
        text = json.dumps(text, ensure_ascii=False) if verb == "q" else text
        return format(text[: int(precision)] if precision else text, spec)
    raise EvalError(f"unsupported verb %{verb} (np knows %s %d %f %t %v %q and %%)")


def _serialised(value: Any, budget: Budget) -> str:
    """``%v`` of a collection: its JSON, whose work (a step per element) and bytes are charged
    before it is written, even when a precision keeps only a few characters of it."""
    size = budget.size(value)
    budget.charge(size.weight)
    budget.produce(size.bytes)
    return json.dumps(plain(value))


# -- numbers --------------------------------------------------------------------------------


@_function(1, None)
def min_(budget: Budget, *numbers: Any) -> int | float:
    return min(_number(value, f"argument {i}") for i, value in enumerate(numbers, 1))


@_function(1, None)
def max_(budget: Budget, *numbers: Any) -> int | float:
    return max(_number(value, f"argument {i}") for i, value in enumerate(numbers, 1))


@_function(1)
def abs_(budget: Budget, value: Any) -> int | float:
    return number(abs(_number(value)))


@_function(1)
def ceil(budget: Budget, value: Any) -> int:
    return int(number(math.ceil(_number(value))))


@_function(1)
def floor(budget: Budget, value: Any) -> int:
    return int(number(math.floor(_number(value))))


# -- conversions ----------------------------------------------------------------------------


@_function(1)
def tostring(budget: Budget, value: Any) -> str | None:
    if isinstance(value, (list, dict, frozenset)):
        raise EvalError(f"expected a string, number or bool, got {describe(value)}")
    return None if value is None else stringify(value)


_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")


@_function(1)
def tonumber(budget: Budget, value: Any) -> int | float | None:
    if value is None or is_number(value):
        return value  # type: ignore[no-any-return]  # checked above
    if isinstance(value, str) and len(value) <= 40 and _NUMBER.fullmatch(value):
        return number(float(value) if not value.lstrip("-").isdigit() else int(value))
    raise EvalError(f"cannot convert {describe(value)} to a number")


@_function(1)
def tobool(budget: Budget, value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise EvalError(f"cannot convert {describe(value)} to a bool")


@_function(1)
def toset(budget: Budget, collection: Any) -> frozenset[Any]:
    items = _items(collection, "the argument")
    problem = set_problem(items)
    if problem:
        raise EvalError(problem)
    return frozenset(items)


@_function(1)
def tolist(budget: Budget, collection: Any) -> list[Any]:
    return _items(collection, "the argument")


@_function(1)
def tomap(budget: Budget, mapping: Any) -> dict[str, Any]:
    return dict(_expect(mapping, "map", "the argument"))
