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
from reconciler.config.evaluation.vartypes import (
    ANY,
    TypeMismatch,
    VarType,
    conform,
    expected,
    parse_type,
)
from reconciler.config.messages import did_you_mean, format_path
from reconciler.config.schema import VariableSpec
from reconciler.config.syntax.files import is_json
from reconciler.config.syntax.nodes import MAX_DEPTH, MAX_STRING, Body, Mapping, Node, SourceError
from reconciler.config.syntax.sources import parse_file, read_text
from reconciler.errors import Diagnostic, Pos

_INT = re.compile(r"[+-]?[0-9]+")
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
        """``value`` as the declared type holds it; ValueError saying where it does not fit."""
        try:
            return conform(value, self.type)
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
            return int(text)
        if kind == "number" and _FLOAT.fullmatch(text):
            return float(text)
        if kind == "bool" and text in ("true", "false"):
            return text == "true"
        if kind in ("number", "bool"):
            return self.conformed(text)
        problem = _too_deep(value := _structured(text, self.type))
        if problem:
            raise ValueError(problem)
        return self.conformed(value)


def _structured(text: str, type_: VarType) -> Any:
    """A list, set, map or object written as JSON, or as an HCL literal."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    from reconciler.config.syntax.hcl_adapter import expression  # lark only when needed

    try:
        return evaluate_literal(expression(text, Pos("--var", 1)))
    except ValueError:
        raise ValueError(f"expected {expected(type_)} written as JSON or HCL") from None


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
    try:
        default = conform(spec.default, type_)
    except TypeMismatch as exc:
        resolved.report(("default", *exc.path), exc.message)
        return Variable(name, type_, pos), resolved.problems
    return Variable(name, type_, pos, default, True), []


class VariableValues:
    """Collects values source by source; each later source overrides the earlier ones."""

    def __init__(self, variables: MappingABC[str, Variable], broken: Iterable[str] = ()) -> None:
        self.variables = variables
        self.values = {v.name: v.default for v in variables.values() if v.has_default}
        self.broken = set(broken)
        self.diagnostics: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []

    def names(self) -> Names:
        return Names(self.variables, self.values, self.broken)

    def _error(self, diagnostic: Diagnostic, name: str | None = None) -> None:
        self.diagnostics.append(diagnostic)
        if name is not None:
            self.broken.add(name)

    def from_environ(self, environ: MappingABC[str, str]) -> None:
        for name, variable in self.variables.items():
            text = environ.get(f"NP_VAR_{name}")
            if text is not None:
                self._set_text(variable, text, f"NP_VAR_{name}")

    def from_args(self, args: Iterable[str]) -> None:
        for arg in args:
            name, equals, text = arg.partition("=")
            name, text = name.strip(), text.strip()
            if not equals:
                self._error(Diagnostic(f"--var {name!r} must look like NAME=VALUE"))
            elif name not in self.variables:
                message = f"--var {name}: variable {name} is not declared"
                hint = did_you_mean(name, self.variables)
                self._error(Diagnostic(message + hint, None, f"variable.{name}"))
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
            hint = did_you_mean(name, self.variables)
            message = f"variable {name} is not declared, so this value is ignored{hint}"
            self.warnings.append(Diagnostic(message, pos))
            return
        problem = _too_long(value)
        try:
            if problem is None:
                self.values[name] = variable.conformed(value)
        except ValueError as exc:
            problem = str(exc)
        if problem:
            self._error(Diagnostic(problem, pos, f"variable.{name}"), name)

    def _set_text(self, variable: Variable, text: str, source: str) -> None:
        try:
            self.values[variable.name] = variable.from_text(text)
        except ValueError as exc:
            address = f"variable.{variable.name}"
            self._error(Diagnostic(f"{source}: {exc}", None, address), variable.name)


def _var_file_diagnostic(problem: Problem) -> Diagnostic:
    """In a var file the first path element is the variable."""
    address = f"variable.{problem.path[0]}" if problem.path else None
    return Diagnostic(problem.message, problem.pos, address, format_path(problem.path[1:]) or None)


def _json_entries(text: str, display: str) -> list[tuple[str, Any, Pos]]:
    """A JSON var file's top-level entries (JSON gives no positions: the key's line is used)."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        for key in keys:
            if keys.count(key) > 1:
                raise SourceError(f"key {key!r} is set more than once", _key_line(text, key))
        return dict(pairs)

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise SourceError(f"syntax error: {exc.msg}", exc.lineno) from None
    except RecursionError:
        raise SourceError("JSON is nested too deeply", 1) from None
    if not isinstance(data, dict):
        raise SourceError("a var file must map variable names to values", 1)
    problem = _too_deep(data)
    if problem:
        raise SourceError(problem, 1)
    return [(key, value, Pos(display, _key_line(text, key))) for key, value in data.items()]


def _key_line(text: str, key: str) -> int:
    found = re.search(re.escape(json.dumps(key, ensure_ascii=False)) + r"\s*:", text)
    return text.count("\n", 0, found.start()) + 1 if found else 1


def _too_long(value: Any) -> str | None:
    """Refuse any string (or key) over ``MAX_STRING`` inside a value from a file."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str) and len(item) > MAX_STRING:
            return f"string is longer than {MAX_STRING} characters"
        if isinstance(item, dict):
            pending += [*item, *item.values()]
        elif isinstance(item, list):
            pending += item
    return None


def _too_deep(value: Any) -> str | None:
    """Refuse values nested beyond ``MAX_DEPTH`` (checked without recursion)."""
    level: list[Any] = [value]
    for _ in range(MAX_DEPTH + 1):
        level = [
            child
            for item in level
            if isinstance(item, (list, dict))
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return None
    return f"value is nested deeper than {MAX_DEPTH} levels"
