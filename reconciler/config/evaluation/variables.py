"""Input variables: declarations, and their values from every source in precedence order
(default < ``NP_VAR_<name>`` < ``np.npvars``, ``*.auto.npvars`` < ``--var-file`` < ``--var``,
later beats earlier), each checked against the variable's type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.config.evaluation.expr import Names, evaluate_literal
from reconciler.config.evaluation.resolve import Problem, resolve, validate
from reconciler.config.evaluation.values import MAX_NUMBER, is_number, number_problem, plain
from reconciler.config.evaluation.vartypes import (
    ANY,
    TypeMismatch,
    VarType,
    conform,
    expected,
    parse_type,
)
from reconciler.config.messages import (
    Hints,
    describe_type,
    did_you_mean,
    excerpt,
    format_path,
)
from reconciler.config.schema import VariableSpec
from reconciler.config.syntax.files import is_json
from reconciler.config.syntax.nodes import MAX_DEPTH, MAX_STRING, Body, Mapping, Node, SourceError
from reconciler.config.syntax.sources import parse_file, read_text
from reconciler.errors import Diagnostic, Pos

_INT = re.compile(r"[+-]?[0-9]+")
_INT_DIGITS = 24
"""Longer integers are out of range whatever their digits (and Python refuses to read
integers of more than 4,300 digits at all)."""
_FLOAT = re.compile(r"[+-]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][+-]?[0-9]+)?")
_LITERAL_DEFAULT = "a default is a literal value (it cannot refer to anything)"
_LITERAL_FILE = "a var file holds values, not expressions"


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    type: VarType
    pos: Pos
    default: Any = None
    has_default: bool = False

    def conformed(self, value: Any) -> Any:
        """A value given from outside the configuration, checked (``entry_problem``) and as
        the declared type holds it; ValueError saying where it does not fit, which names
        types, never the value."""
        problem = entry_problem(value)
        if problem:
            raise ValueError(problem)
        try:
            return conform(value, self.type, show=describe_type)
        except TypeMismatch as exc:
            where = format_path(exc.path)
            raise ValueError(f"{where}: {exc.message}" if where else exc.message) from None

    def from_text(self, text: str) -> Any:
        """Convert an environment or ``--var`` string by the declared type (ValueError if not):
        a string as it is, numbers and bools as written, other types as JSON or HCL."""
        if len(text) > MAX_STRING:
            raise ValueError(f"value is longer than {MAX_STRING} characters")
        kind = self.type.kind
        if kind in ("any", "string"):
            return text
        if kind == "number" and _INT.fullmatch(text):
            return self.conformed(_integer(text))
        if kind == "number" and _FLOAT.fullmatch(text):
            return self.conformed(float(text))
        if kind == "bool" and text in ("true", "false"):
            return text == "true"
        if kind in ("number", "bool"):
            return self.conformed(text)
        return self.conformed(_structured(text, self.type))


def _structured(text: str, type_: VarType) -> Any:
    """A list, set, map or object written as JSON, or as an HCL literal."""
    try:
        return json.loads(text, parse_int=_integer)
    except (ValueError, RecursionError):
        pass
    from reconciler.config.syntax.hcl_adapter import expression  # lark only when needed

    try:
        return evaluate_literal(expression(text, Pos("--var", 1)))
    except ValueError:
        raise ValueError(f"expected {expected(type_)} written as JSON or HCL") from None


def _integer(text: str) -> int:
    """An integer as written; one too long to be in range stands in as ``MAX_NUMBER``, which
    ``entry_problem`` refuses as out of range (reading it all would be refused by Python
    beyond 4,300 digits, and take quadratic time below)."""
    return int(text) if len(text) <= _INT_DIGITS else MAX_NUMBER


def declare(name: str, body: Mapping, pos: Pos) -> tuple[Variable, list[Problem]]:
    """A ``variable`` block: ``type`` is a type (``list(string)``, read, not evaluated),
    ``default`` a literal value checked against it.

    A broken declaration still declares the name (without a value), so that references to
    it are not also reported as undeclared.
    """
    types = [entry for entry in body.entries if entry.key == "type"]
    rest = Mapping(tuple(e for e in body.entries if e.key != "type"), body.pos)
    resolved = resolve(rest, None, literal=_LITERAL_DEFAULT, allow_null=True)
    type_ = ANY
    for later in types[1:]:
        message = f"set more than once (first at {types[0].key_pos})"
        resolved.problems.append(Problem(message, later.key_pos, ("type",)))
    if types:
        try:
            type_ = parse_type(types[0].value)
        except ValueError as exc:
            resolved.problems.append(Problem(str(exc), types[0].value.pos, ("type",)))
    spec = validate(VariableSpec, resolved)
    if spec is None or resolved.problems:
        return Variable(name, type_, pos), resolved.problems
    if spec.default is None:
        return Variable(name, type_, pos), []
    problem = entry_problem(spec.default)
    if problem:
        resolved.report(("default",), problem)
        return Variable(name, type_, pos), resolved.problems
    try:
        default = conform(spec.default, type_)
    except TypeMismatch as exc:
        resolved.report(("default", *exc.path), exc.message)
        return Variable(name, type_, pos), resolved.problems
    return Variable(name, type_, pos, default, True), []


class VariableValues:
    """Collects values source by source; each later source overrides the earlier ones."""

    def __init__(
        self, variables: MappingABC[str, Variable], broken: Iterable[str], hints: Hints
    ) -> None:
        self.variables = variables
        self.values = {v.name: v.default for v in variables.values() if v.has_default}
        self.broken = set(broken)
        self.hints = hints
        self.diagnostics: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []

    def names(self) -> Names:
        return Names(self.variables, self.values, self.broken)

    def _error(self, diagnostic: Diagnostic, name: str | None = None) -> None:
        self.diagnostics.append(diagnostic)
        if name is not None:
            self.broken.add(name)

    def plain_values(self) -> dict[str, Any]:
        """Every variable's final value, as JSON holds it (a saved plan records these)."""
        return {name: plain(value) for name, value in sorted(self.values.items())}

    def from_recorded(self, recorded: MappingABC[str, Any]) -> None:
        """The values a saved plan recorded; a variable no longer declared is left out (the
        plan made again then differs, and says where)."""
        for name, value in recorded.items():
            variable = self.variables.get(name)
            if variable is None:
                continue
            try:
                self.values[name] = variable.conformed(value)
            except ValueError as exc:
                message = f"the saved plan's value does not fit this variable now: {exc}"
                self._error(Diagnostic(message, variable.pos, f"variable.{name}"), name)

    def from_environ(self, environ: MappingABC[str, str]) -> None:
        for name, variable in self.variables.items():
            text = environ.get(f"NP_VAR_{name}")
            if text is not None:
                self._set_text(variable, text, f"NP_VAR_{name}")

    def from_args(self, args: Iterable[str]) -> None:
        for number, arg in enumerate(args, 1):
            name, equals, text = arg.partition("=")
            name, text = name.strip(), text.strip()
            if not equals:  # perhaps a value alone: not shown
                message = f"--var must look like NAME=VALUE (--var {number} does not)"
                self._error(Diagnostic(message))
            elif name not in self.variables:
                shown = excerpt(name)
                message = f"--var {shown}: variable {shown} is not declared"
                hint = did_you_mean(name, self.variables, hints=self.hints)
                self._error(Diagnostic(message + hint, None, f"variable.{shown}"))
            else:
                self._set_text(self.variables[name], text, f"--var {name}")

    def from_file(self, path: Path, display: str | None = None) -> None:
        """A var file: HCL ``name = value`` lines, or a YAML or JSON mapping. A value for an
        undeclared variable is a warning: teams share one file among configurations."""
        display = display or str(path)
        try:
            if is_json(path):
                entries = _json_entries(read_text(path), display)
            else:
                entries = self._node_entries(parse_file(path, display), display)
        except SourceError as exc:
            self._error(Diagnostic(exc.message, Pos(display, exc.line)))
            # Any variable still without a value may have been meant to come from this file:
            # its uses stay quiet rather than add "has no value" to the one real problem.
            self.broken.update(name for name in self.variables if name not in self.values)
            return
        for name, value, pos in entries:
            self._set(name, value, pos)

    def _node_entries(self, parsed: Body | Node | None, display: str) -> list[tuple[str, Any, Pos]]:
        node = parsed.to_mapping() if isinstance(parsed, Body) else parsed
        if node is None:
            return []
        if not isinstance(node, Mapping):
            raise SourceError("a var file must map variable names to values", node.pos.line)
        resolved = resolve(node, None, literal=_LITERAL_FILE)
        for problem in resolved.problems:
            name = problem.path[0] if problem.path else None
            self._error(_var_file_diagnostic(problem), str(name) if name is not None else None)
        return [
            (name, value, resolved.positions[(name,)])
            for name, value in resolved.value.items()
            if not resolved.is_failed((name,))
        ]

    def _set(self, name: str, value: Any, pos: Pos) -> None:
        variable = self.variables.get(name)
        if variable is None:
            hint = did_you_mean(name, self.variables, hints=self.hints)
            message = f"variable {excerpt(name)} is not declared, so this value is ignored{hint}"
            self.warnings.append(Diagnostic(message, pos))
            return
        try:
            self.values[name] = variable.conformed(value)
        except ValueError as exc:
            self._error(Diagnostic(str(exc), pos, f"variable.{name}"), name)

    def _set_text(self, variable: Variable, text: str, source: str) -> None:
        try:
            self.values[variable.name] = variable.from_text(text)
        except ValueError as exc:
            address = f"variable.{variable.name}"
            self._error(Diagnostic(f"{source}: {exc}", None, address), variable.name)


def _var_file_diagnostic(problem: Problem) -> Diagnostic:
    """In a var file the first path element is the variable."""
    address = f"variable.{excerpt(str(problem.path[0]))}" if problem.path else None
    return Diagnostic(problem.message, problem.pos, address, format_path(problem.path[1:]) or None)


def _json_entries(text: str, display: str) -> list[tuple[str, Any, Pos]]:
    """A JSON var file's top-level entries (JSON gives no positions: the key's line is used)."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found = dict(pairs)
        if len(found) < len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    line = _key_lines(text).get(key, 1)
                    raise SourceError(f"key {excerpt(key)!r} is set more than once", line)
                seen.add(key)
        return found

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates, parse_int=_integer)
    except json.JSONDecodeError as exc:
        raise SourceError(f"syntax error: {exc.msg}", exc.lineno) from None
    except RecursionError:
        raise SourceError("JSON is nested too deeply", 1) from None
    if not isinstance(data, dict):
        raise SourceError("a var file must map variable names to values", 1)
    lines = _key_lines(text)
    return [(key, value, Pos(display, lines.get(key, 1))) for key, value in data.items()]


_JSON_KEY = re.compile(r'("(?:[^"\\]|\\.)*")\s*:')


def _key_lines(text: str) -> dict[str, int]:
    """The line where each key is first written, found in one pass over the text."""
    lines: dict[str, int] = {}
    line, counted = 1, 0
    for match in _JSON_KEY.finditer(text):
        line += text.count("\n", counted, match.start())
        counted = match.start()
        written = match.group(1)
        try:
            key = written[1:-1] if "\\" not in written else json.loads(written)
        except ValueError:
            continue
        lines.setdefault(key, line)
    return lines


def entry_problem(value: Any) -> str | None:
    """What makes a value given from outside the configuration unusable, and where in it:
    nesting deeper than ``MAX_DEPTH``, a string or key over ``MAX_STRING`` characters, a
    number that is not one of the language's (NaN, an infinity, 2^63 or more in magnitude).
    Walked without recursion, before anything else looks at the value."""
    pending: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while pending:
        path, item = pending.pop()
        if len(path) > MAX_DEPTH:
            return f"value is nested deeper than {MAX_DEPTH} levels"
        problem = None
        if isinstance(item, str) and len(item) > MAX_STRING:
            problem = f"string is longer than {MAX_STRING} characters"
        elif is_number(item):
            found = number_problem(item)
            problem = f"the number is {found}" if found else None
        elif isinstance(item, dict):
            pending += [((*path, key), inner) for key, inner in item.items()]
            if any(len(key) > MAX_STRING for key in item):
                problem = f"a key is longer than {MAX_STRING} characters"
        elif isinstance(item, list):
            pending += [((*path, index), inner) for index, inner in enumerate(item)]
        if problem:
            where = format_path(path)
            return f"{where}: {problem}" if where else problem
    return None
