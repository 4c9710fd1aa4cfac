"""User-facing errors: each carries one clear message; the CLI maps them to exit 1.

d = Diagnostic("expected an integer", Pos("main.hcl", 7), "nodepool.train", "count")
raise ConfigError([d])  # -> "main.hcl:7: nodepool.train: count: expected an integer"
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

SHOWN_LIMIT = 200
"""Characters of a value read from a file that a message shows before cutting it short."""


def shown(text: str, limit: int | None = SHOWN_LIMIT) -> str:
    """``text`` safe to print: control, format (bidi overrides, zero-width) and unpaired
    surrogate characters escaped as ``\\uXXXX``, and cut to ``limit`` characters (None: never)
    with a count of the rest. Anything np prints that it read from a file or a server goes
    through this: a lock file's ESC sequence must not repaint a terminal, nor an RTL override
    hide a name, nor a lone surrogate crash the output."""
    head = text if limit is None else text[:limit]
    if head.isprintable():  # the common case, at C speed
        escaped = head
    else:
        escaped = "".join(
            _escape(char) if unicodedata.category(char) in _UNPRINTABLE else char for char in head
        )
    cut = 0 if limit is None else len(text) - limit
    return escaped + (f"... ({cut} more characters)" if cut > 0 else "")


_UNPRINTABLE = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}


def _escape(char: str) -> str:
    """``\\uXXXX`` as JSON (and HCL) read it back: a character beyond U+FFFF as its UTF-16
    surrogate pair."""
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


@dataclass(frozen=True, slots=True)
class Pos:
    """A place in a configuration file (1-based line; 0: the file as a whole, such as one that
    cannot be read at all)."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class NpError(Exception):
    """An error meant for the user: printed as one message, never as a traceback."""

    def problems(self) -> list[str]:
        """Each independent problem; the CLI prints ``Error: `` before each."""
        return [str(self), *getattr(self, "later", ())]

    def also(self, problem: str) -> None:
        """Add a problem met while cleaning up after this one (releasing the lock, say): it is
        shown after this one, never instead of it."""
        self.later: list[str] = [*getattr(self, "later", ()), problem]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One configuration problem, located by file:line, address and field."""

    message: str
    pos: Pos | None = None
    address: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts = [str(p) for p in (self.pos, self.address, self.field) if p]
        return ": ".join([*parts, self.message])


class DiagnosticsError(NpError):
    """Every problem found, one line each, so a user fixes them all in one go."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(str(d) for d in diagnostics))

    def problems(self) -> list[str]:
        return [str(d) for d in self.diagnostics] + list(getattr(self, "later", ()))


class ConfigError(DiagnosticsError):
    """Invalid configuration."""


class PlanError(DiagnosticsError):
    """The plan cannot be made (what the API would refuse, a flavor change, ...)."""


class StateError(NpError):
    """State cannot be read, written or trusted: a backend failed or is unreachable, a
    document is malformed, or a compare-and-swap write lost to another writer."""


class LockError(NpError):
    """The state lock cannot be taken, kept or removed: another run holds it, this run lost
    it, or there is no such lock to remove."""
