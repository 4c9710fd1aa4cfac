"""Bounds on evaluation, so that hostile expressions end in a clear error, never a hang.

Every configuration load has one ``Budget``: each evaluation step costs one unit, walking a
value costs one unit per element, and every value made is weighed (elements in all, nested ones
included, counting a shared part each time it appears) before anything can walk it whole.
"""

from __future__ import annotations

from typing import Any

from reconciler.config.evaluation.values import EvalError, Quiet
from reconciler.config.syntax.nodes import MAX_DEPTH, MAX_STRING

MAX_STEPS = 1_000_000
"""Evaluation steps per configuration, before any for_each instance exists."""
STEPS_PER_INSTANCE = 250
"""Steps each for_each instance adds: its block's fields need about 100 (a 10,000-instance
fleet with a dozen computed fields used 1.1 million in all), so the budget grows with the
fleet while a bomb without instances still ends within a million."""
MAX_ELEMENTS = 100_000
"""Elements in one list, set or map."""
MAX_WEIGHT = 1_000_000
"""Elements in one value, nested ones included."""


class Spent(EvalError):
    """The configuration ran out of steps: no one expression is to blame, so no function's
    name goes before the message."""


class Budget:
    def __init__(self) -> None:
        self.left = self.total = MAX_STEPS
        self.sizes: dict[int, tuple[Any, int, int]] = {}
        """id(container) -> (container, weight, depth); holding the container keeps its id
        unique while it is known here."""

    def allow(self, units: int) -> None:
        """More steps, for work the configuration legitimately grew (for_each instances)."""
        self.left += units
        self.total += units

    def charge(self, units: int) -> None:
        """Spend steps; the first evaluation that runs out is told, the later ones are quiet."""
        if self.left < 0:
            raise Quiet
        self.left -= units
        if self.left < 0:
            raise Spent(
                f"evaluation needs more than {self.total:,} steps; simplify the expressions"
            )

    def size(self, value: Any) -> tuple[int, int]:
        """Elements in ``value`` (nested ones included, 1 for a primitive) and its depth."""
        if not isinstance(value, (list, dict, frozenset)):
            return 1, 0
        known = self.sizes.get(id(value))
        if known is not None:
            return known[1], known[2]
        self.charge(len(value))
        weight, depth = 1, 0
        for item in value.values() if isinstance(value, dict) else value:
            item_weight, item_depth = self.size(item)
            weight, depth = weight + item_weight, max(depth, item_depth)
        self.sizes[id(value)] = (value, weight, depth + 1)
        return weight, depth + 1

    def made(self, value: Any) -> Any:
        """Check a value just made: its size, its weight, and its strings' length."""
        if isinstance(value, str):
            self.string(len(value))
        elif isinstance(value, (list, dict, frozenset)):
            self.elements(len(value))
            weight, depth = self.size(value)
            if weight > MAX_WEIGHT:
                raise EvalError(f"a value holds more than {MAX_WEIGHT:,} elements in all")
            if depth > MAX_DEPTH:
                raise EvalError(f"a value is nested deeper than {MAX_DEPTH} levels")
        return value

    @staticmethod
    def elements(count: int) -> None:
        if count > MAX_ELEMENTS:
            raise EvalError(f"a collection would hold more than {MAX_ELEMENTS:,} elements")

    @staticmethod
    def string(length: int) -> None:
        if length > MAX_STRING:
            raise EvalError(f"a string would be longer than {MAX_STRING} characters")
