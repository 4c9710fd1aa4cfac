"""Bounds on evaluation, so that hostile expressions end in a clear error, never a hang.

Every configuration load has one ``Budget``. Work is charged in steps: each evaluation step
costs one, walking, comparing or serialising a value one per element. Bytes are charged too:
every string a template or function makes, every value serialised, and every value an
expression gives a field (shared parts counted each time they appear, as planning and output
will copy them). Every value made is weighed (elements in all, nested ones included) before
anything can walk it whole.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from reconciler.config.evaluation.values import EvalError, Quiet
from reconciler.config.messages import Hints
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
MAX_BYTES = 64 * 1024 * 1024
"""Bytes evaluation may make in all (see ``Size.bytes``): a 10,000-node-pool fleet from one
for_each block with a dozen computed fields makes 1.8 MB (the benchmark's); 20,000 strings of
65,000 characters made 1.3 GB."""
ELEMENT_BYTES = 8
"""What a container, and each reference it holds, counts for besides the strings."""


class Spent(EvalError):
    """The configuration ran out of steps or bytes: no one expression is to blame, so no
    function's name goes before the message."""


class Size(NamedTuple):
    weight: int
    """Elements, nested ones included; 1 for a primitive."""
    depth: int
    bytes: int
    """About what the value takes in memory or written out: the characters of its strings
    and keys, and ``ELEMENT_BYTES`` for every container and every element it holds; a shared
    part counts every time it appears."""


class Budget:
    def __init__(self) -> None:
        self.left = self.total = MAX_STEPS
        self.bytes_left = MAX_BYTES
        self.sizes: dict[int, tuple[Any, Size]] = {}
        """id(container) -> (container, its size); holding the container keeps its id unique
        while it is known here."""
        self.hints = Hints()
        """The did-you-mean searches of this configuration (bounded together)."""

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

    def produce(self, count: int) -> None:
        """Spend bytes (of a string made, a value serialised or given to a field), before
        they are made where that is possible; as with steps, only the first to run out is
        told."""
        if self.bytes_left < 0:
            raise Quiet
        self.bytes_left -= count
        if self.bytes_left < 0:
            raise Spent(
                f"evaluation makes more than {MAX_BYTES // (1024 * 1024)} MiB of values; "
                "simplify the expressions"
            )

    def size(self, value: Any) -> Size:
        """The size of ``value`` (walked once per container, one step per element)."""
        if not isinstance(value, (list, dict, frozenset)):
            return Size(1, 0, len(value) if isinstance(value, str) else ELEMENT_BYTES)
        known = self.sizes.get(id(value))
        if known is not None:
            return known[1]
        self.charge(len(value))
        weight, depth, size = 1 + len(value), 0, ELEMENT_BYTES * (1 + len(value))
        if isinstance(value, dict):
            size += sum(map(len, value))
        for item in value.values() if isinstance(value, dict) else value:
            if isinstance(item, str):  # the common case, without a Size of its own
                size += len(item)
            elif isinstance(item, (list, dict, frozenset)):
                inner = self.size(item)
                weight, depth = weight + inner.weight - 1, max(depth, inner.depth)
                size += inner.bytes
            else:
                size += ELEMENT_BYTES
        found = self.sizes[id(value)] = (value, Size(weight, depth + 1, size))
        return found[1]

    def made(self, value: Any) -> Any:
        """Check a value just made: a string's length (its bytes are spent), a collection's
        size, weight and depth."""
        if isinstance(value, str):
            self.text(len(value))
        elif isinstance(value, (list, dict, frozenset)):
            self.elements(len(value))
            size = self.size(value)
            if size.weight > MAX_WEIGHT:
                raise EvalError(f"a value holds more than {MAX_WEIGHT:,} elements in all")
            if size.depth > MAX_DEPTH:
                raise EvalError(f"a value is nested deeper than {MAX_DEPTH} levels")
        return value

    def kept(self, value: Any) -> Any:
        """A value an expression gives a field: the configuration keeps it, and planning,
        rendering and state copy it whole, so its bytes are spent (before any copy is made)."""
        if isinstance(value, str):
            self.produce(len(value))
        else:
            self.produce(self.size(value).bytes)
        return value

    def text(self, length: int) -> None:
        """A string of ``length`` characters about to be made: within the limit of one
        string, and its bytes spent."""
        self.string(length)
        self.produce(length)

    @staticmethod
    def elements(count: int) -> None:
        if count > MAX_ELEMENTS:
            raise EvalError(f"a collection would hold more than {MAX_ELEMENTS:,} elements")

    @staticmethod
    def string(length: int) -> None:
        if length > MAX_STRING:
            raise EvalError(f"a string would be longer than {MAX_STRING} characters")
