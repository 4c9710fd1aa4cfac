"""User-facing errors: each carries one clear message; the CLI maps them to exit 1.

d = Diagnostic("expected an integer", Pos("main.hcl", 7), "nodepool.train", "count")
raise ConfigError([d])  # -> "main.hcl:7: nodepool.train: count: expected an integer"
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pos:
    """A place in a configuration file (1-based line)."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class NpError(Exception):
    """An error meant for the user: printed as one message, never as a traceback."""

    def problems(self) -> list[str]:
        """Each independent problem; the CLI prints ``Error: `` before each."""
        return [str(self)]


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
        return [str(d) for d in self.diagnostics]


class ConfigError(DiagnosticsError):
    """Invalid configuration."""


class PlanError(DiagnosticsError):
    """The plan cannot be made (what the API would refuse, a flavor change, ...)."""


class StateError(NpError):
    """The state file is unreadable or cannot be written."""


class LockError(NpError):
    """Another run holds the state lock."""
