"""What an evaluation produces: one record per deny/warn/violation entry, each saying which
policy file it came from, and the report the CLI decides with.

    report.denied            # deny-level results (deny and violation)
    report.policies_denying  # distinct policy files with a deny: "Plan refused by 2 policies"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from reconciler.errors import NpError

Rule = Literal["deny", "warn", "violation"]
Level = Literal["deny", "warn"]
LEVELS: dict[str, Level] = {"deny": "deny", "violation": "deny", "warn": "warn"}
RULES: tuple[Rule, ...] = ("deny", "violation", "warn")

MAX_MESSAGE = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class PolicyError(NpError):
    """A policy that cannot be trusted to have decided: it does not parse, calls a refused
    builtin, fails at run time, or exceeds a limit. np fails closed on it (exit 1)."""


def clean(text: str, limit: int = MAX_MESSAGE) -> str:
    """Untrusted text (a policy wrote it) made safe to print, post and log: control characters
    (terminal escapes, bidi overrides) become U+FFFD, newlines a space, and length is bounded."""
    text = _CONTROL.sub("\ufffd", text.replace("\r\n", "\n").replace("\n", " "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """One entry of a ``deny``, ``warn`` or ``violation`` rule, attributed to its file."""

    policy: str
    rule: Rule
    msg: str
    address: str | None = None

    @property
    def level(self) -> Level:
        return LEVELS[self.rule]

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "rule": self.rule,
            "level": self.level,
            "msg": self.msg,
            "address": self.address,
        }


@dataclass(frozen=True, slots=True)
class PolicyFileInfo:
    """A policy file that was evaluated, and whether it is the operator's or the
    configuration's (a pull request's) own."""

    name: str
    origin: Literal["operator", "configuration"]


@dataclass(frozen=True)
class PolicyReport:
    """Every result of one evaluation, operator policies first."""

    results: list[PolicyResult]
    files: list[PolicyFileInfo] = field(default_factory=list)

    @property
    def denied(self) -> int:
        return sum(1 for r in self.results if r.level == "deny")

    @property
    def warned(self) -> int:
        return sum(1 for r in self.results if r.level == "warn")

    @property
    def policies_denying(self) -> int:
        return len({r.policy for r in self.results if r.level == "deny"})

    def to_json(self) -> list[dict[str, Any]]:
        """``policy_results`` of the JSON plan."""
        return [r.to_json() for r in self.results]


def refusal(report: PolicyReport) -> str | None:
    """``Plan refused by 2 policies`` when anything denies, else None."""
    n = report.policies_denying
    if not n:
        return None
    return f"Plan refused by {n} {'policy' if n == 1 else 'policies'}"


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """One ``test_*`` rule: PASS (true), FAIL (false or undefined) or ERROR (it failed)."""

    __test__: ClassVar[bool] = False  # not a pytest class

    policy: str
    package: str
    name: str
    status: Literal["PASS", "FAIL", "ERROR"]
    detail: str = ""


@dataclass(frozen=True)
class TestReport:
    """Every test of ``np policy test``, in file order."""

    __test__: ClassVar[bool] = False

    outcomes: list[TestOutcome]

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if o.status != "PASS")
