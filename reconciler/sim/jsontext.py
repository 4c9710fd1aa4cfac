"""JSON the simulator can keep: a request body or a world file is decoded here, so that nothing
is stored that the world file could not be written with again.

    doc = decode(text)   # JsonTextError(line, reason) when the text is not such JSON

`json.loads` alone accepts two things the simulator cannot keep. A lone UTF-16 surrogate
(`"\\ud800"`) decodes to a str that no UTF-8 encoder accepts: stored, it would make every later
write of the world fail. Nesting deeper than Python's recursion limit raises RecursionError
instead of an answer, and nesting short of that still overflows the merge and copy of a node
pool; no node pool needs more than a few levels, so `MAX_DEPTH` bounds it.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

MAX_DEPTH = 32
"""Objects and arrays inside one another; a world file needs 7, a request body 5."""
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class JsonTextError(ValueError):
    """Text that is not JSON the simulator can keep; `line` is 1-based, None when unknown."""

    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(reason if line is None else f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def decode(text: str) -> Any:
    """The JSON value of `text`: valid JSON, at most `MAX_DEPTH` deep, every string Unicode."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonTextError(exc.lineno, f"invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise JsonTextError(None, _too_deep()) from None
    except ValueError:  # the only other one: an integer beyond Python's digit limit
        limit = sys.get_int_max_str_digits()
        raise JsonTextError(None, f"a number has more than {limit} digits") from None
    if _deeper_than_allowed(doc):
        raise JsonTextError(None, _too_deep())
    if _SURROGATE_ESCAPE.search(text):  # cheap: only an escape can write a surrogate
        _refuse_lone_surrogates(text)
    return doc


def _too_deep() -> str:
    return f"nested deeper than {MAX_DEPTH} levels"


def _deeper_than_allowed(doc: Any) -> bool:
    """Level by level, without recursion: True when containers remain below `MAX_DEPTH`."""
    level = [doc] if isinstance(doc, (dict, list)) else []
    for _ in range(MAX_DEPTH):
        level = [
            child
            for value in level
            for child in (value.values() if isinstance(value, dict) else value)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return False
    return True


def _refuse_lone_surrogates(text: str) -> None:
    """Raise for the first string (key or value) of valid JSON `text` holding a surrogate that
    is not half of a pair: decoding joins every pair, so any surrogate left is lone."""
    for token in _STRING.finditer(text):
        if not _SURROGATE_ESCAPE.search(token[0]):
            continue
        lone = next((c for c in json.loads(token[0]) if "\ud800" <= c <= "\udfff"), None)
        if lone is not None:
            line = text.count("\n", 0, token.start()) + 1
            raise JsonTextError(
                line,
                f"a string holds a lone surrogate (\\u{ord(lone):04x}), which is not Unicode text",
            )
