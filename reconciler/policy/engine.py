"""Evaluating policies against a plan, and running their unit tests.

    sources = policy_sources(config_dir, os.environ, policy_dirs)
    report = evaluate_policies(input_doc, sources)      # PolicyReport
    tests = run_policy_tests([PolicySource(Path("policy"), "policy", "configuration")])

**Two sets, evaluated apart.** The operator's directories form one policy set, the
configuration's ``policy/`` directory (a pull request's code) another; each is evaluated in
its own child process by its own interpreter. A file in the second set can therefore not
redefine a helper, a ``default`` or a rule of the first, nor make it fail to compile: it can
only add results. An error in either set fails the whole evaluation (closed).

**Attribution.** Rego merges every ``deny`` of a package into one set, which forgets the file
each entry came from. Before evaluation np renames each file's own ``deny``/``warn``/
``violation`` rule heads to ``np__deny__<i>`` (only the head token, so lines and columns of
everything else stay put) and queries those per file; the package's own ``deny`` is defined
again as the union of the renamed ones, so rules that refer to ``deny`` still see all of it.
A result is thus attributed to the file whose rule produced it, even when several files
share ``package main``. Identifiers starting with ``np__`` are reserved for this.

Which files count: packages ``main`` and ``np`` / ``np.*`` are queried; files in other
packages are loaded as libraries (importable, never queried); ``*_test.rego`` files are left
out of evaluation and only run by ``np policy test``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.policy.inputdoc import project
from reconciler.policy.lexer import LexError, Token, tokenize
from reconciler.policy.results import (
    RULES,
    PolicyError,
    PolicyFileInfo,
    PolicyReport,
    PolicyResult,
    Rule,
    TestOutcome,
    TestReport,
    clean,
)
from reconciler.policy.sandbox import Job, Limits, WorkerStopped, run_workers
from reconciler.policy.scan import (
    RESERVED_PREFIX,
    Path,
    forbidden_calls,
    input_paths,
    package_path,
    reserved_names,
    rule_heads,
)
from reconciler.policy.sources import PolicyFile, PolicySource, read_policies


@dataclass
class _Parsed:
    """One file, read by np: its tokens and its package."""

    file: PolicyFile
    tokens: list[Token]
    package: list[str]


@dataclass
class _Prepared:
    """A policy set ready for the worker."""

    modules: list[tuple[str, str]] = field(default_factory=list)
    queries: list[tuple[str, str]] = field(default_factory=list)
    query_files: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    paths: set[Path] = field(default_factory=set)


def data_ref(package: Sequence[str]) -> str:
    """``["np", "flavors"]`` → ``data.np.flavors`` (bracketed where a part is not a name)."""
    out = "data"
    for part in package:
        out += f".{part}" if part.isidentifier() and part.isascii() else f"[{json.dumps(part)}]"
    return out


def _evaluated(package: Sequence[str]) -> bool:
    return list(package) == ["main"] or package[0] == "np"


def _parse(files: Sequence[PolicyFile]) -> list[_Parsed]:
    """Every file lexed and checked; all problems at once, each located by file:line."""
    parsed: list[_Parsed] = []
    problems: list[str] = []
    for f in files:
        try:
            tokens = tokenize(f.text)
        except LexError as exc:
            problems.append(f"{f.name}:{exc.line}: {exc.message}")
            continue
        for line, name, why in forbidden_calls(tokens):
            problems.append(f"{f.name}:{line}: {name} is refused: it {why}")
        for line, name in reserved_names(tokens):
            problems.append(
                f"{f.name}:{line}: {name}: names starting with {RESERVED_PREFIX} are reserved"
            )
        package = package_path(tokens)
        if package is None:
            problems.append(f"{f.name}:1: a policy must start with a package declaration")
            continue
        parsed.append(_Parsed(f, tokens, package))
    if problems:
        raise PolicyError("\n".join(problems))
    return parsed


def _prepare_evaluation(parsed: list[_Parsed]) -> _Prepared:
    prepared = _Prepared()
    renamed_by_package: dict[tuple[str, ...], dict[Rule, list[str]]] = {}
    referenced: set[tuple[tuple[str, ...], str]] = set()
    for i, p in enumerate(parsed):
        prepared.paths |= input_paths(p.tokens)
        text = p.file.text
        if _evaluated(p.package):
            heads = rule_heads(p.tokens, RULES)
            head_starts = {h.token.start for h in heads}
            for t in p.tokens:
                if t.kind == "ident" and t.text in RULES and t.start not in head_starts:
                    referenced.add((tuple(p.package), t.text))
            for head in sorted(heads, key=lambda h: h.token.start, reverse=True):
                new = f"{RESERVED_PREFIX}{head.name}__{i}"
                text = text[: head.token.start] + new + text[head.token.end :]
            kinds = [r for r in RULES if any(h.name == r for h in heads)]
            if kinds:
                ref = data_ref(p.package)
                lines = [f"package {RESERVED_PREFIX}out.f{i}", ""]
                lines += [f'r["{r}"] := {ref}.{RESERVED_PREFIX}{r}__{i}' for r in kinds]
                prepared.modules.append((f"{RESERVED_PREFIX}out/{i}.rego", "\n".join(lines)))
                prepared.queries.append((p.file.name, f"data.{RESERVED_PREFIX}out.f{i}.r"))
                prepared.query_files.append(p.file.name)
                by_rule = renamed_by_package.setdefault(tuple(p.package), {})
                for r in kinds:
                    by_rule.setdefault(r, []).append(f"{RESERVED_PREFIX}{r}__{i}")
        prepared.modules.append((p.file.name, text))
        prepared.texts[p.file.name] = text
    for package, by_rule in renamed_by_package.items():
        wanted = {r: names for r, names in by_rule.items() if (package, r) in referenced}
        if not wanted:
            continue
        lines = [f"package {data_ref(package).removeprefix('data.')}", "", "import rego.v1", ""]
        for rule, names in wanted.items():
            lines += [f"{rule} contains x if some x in {name}" for name in names]
        name = f"{RESERVED_PREFIX}union/{'.'.join(package)}.rego"
        prepared.modules.append((name, "\n".join(lines) + "\n"))
    return prepared


def _line(texts: Mapping[str, str], module: str | None, offset: int | None) -> int | None:
    text = texts.get(module or "")
    if text is None or offset is None:
        return None
    return text.encode()[:offset].count(b"\n") + 1


def _error_text(errors: Any, texts: Mapping[str, str], default: str) -> str:
    """rego-cpp's errors as one line: ``policy/x.rego:3: message`` (the first, and a count)."""
    if not isinstance(errors, list) or not errors:
        return f"{default}: {clean(str(errors), 500)}"
    first = errors[0] if isinstance(errors[0], dict) else {"message": str(errors[0])}
    module = first.get("module")
    offset = first.get("offset")
    line = _line(texts, module, offset if isinstance(offset, int) else None)
    where = f"{module}:{line}" if module in texts and line else default
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {clean(str(first.get('message', '')), 500)}{more}"


def _module_failure(response: Mapping[str, Any], texts: Mapping[str, str]) -> PolicyError:
    module = str(response.get("module", "?"))
    return PolicyError(_error_text(response.get("error"), texts, module))


def _results_of(file: str, value: Any) -> list[PolicyResult]:
    if not isinstance(value, dict):
        raise PolicyError(f"{file}: unexpected answer from rego-cpp")
    results: list[PolicyResult] = []
    for rule in RULES:
        if rule not in value:
            continue
        got = value[rule]
        if isinstance(got, bool):
            if got:
                results.append(PolicyResult(file, rule, f"{rule} is true"))
            continue
        if isinstance(got, dict):
            raise PolicyError(
                f"{file}: {rule} is an object, not a set: write "
                f"`{rule} contains msg if {{ ... }}` (Rego v1)"
            )
        if not isinstance(got, list):
            raise PolicyError(f"{file}: {rule} must be a set of messages, not {_kind(got)}")
        for entry in got:
            results.append(_result(file, rule, entry))
    return results


def _kind(value: Any) -> str:
    return {str: "a string", int: "a number", float: "a number"}.get(type(value), "that")


def _result(file: str, rule: Rule, entry: Any) -> PolicyResult:
    if isinstance(entry, str):
        return PolicyResult(file, rule, clean(entry))
    if isinstance(entry, dict) and isinstance(entry.get("msg"), str):
        address = entry.get("address")
        if address is not None and not isinstance(address, str):
            raise PolicyError(f"{file}: {rule}: address must be a string or null")
        return PolicyResult(
            file, rule, clean(entry["msg"]), None if address is None else clean(address, 300)
        )
    raise PolicyError(
        f"{file}: {rule}: each entry must be a string or an object with a string msg, got "
        f"{clean(json.dumps(entry), 200)}"
    )


def evaluate_policies(
    input_doc: Mapping[str, Any],
    sources: Sequence[PolicySource],
    limits: Limits | None = None,
) -> PolicyReport:
    """Every policy in ``sources`` against ``input_doc`` (see ``build_input``).

    The operator's sources are evaluated together, the configuration's apart; the report
    lists the operator's results first. Raises ``PolicyError`` (one message, located where it
    can be) for any policy that does not parse, calls a refused builtin, fails at run time or
    exceeds ``limits``: a broken policy never passes silently."""
    changes = input_doc.get("resource_changes")
    limits = (limits or Limits()).scaled(len(changes) if isinstance(changes, list) else 0)
    sets: list[tuple[str, list[PolicyFile]]] = []
    for origin in ("operator", "configuration"):
        files = [f for s in sources if s.origin == origin for f in read_policies(s)]
        if files:
            shown = ", ".join(s.shown for s in sources if s.origin == origin)
            sets.append((shown, files))
    parsed_sets = [(shown, _parse(files)) for shown, files in sets]
    prepared = [(shown, _prepare_evaluation(parsed)) for shown, parsed in parsed_sets]
    jobs = [
        Job(
            {
                "modules": p.modules,
                "queries": p.queries,
                "input": project(input_doc, p.paths),
                "memory_mb": limits.memory_mb,
            },
            _describer(p.query_files, shown),
        )
        for shown, p in prepared  # a set without deny/warn rules runs too: every file parses
    ]
    responses = run_workers(jobs, limits)
    results: list[PolicyResult] = []
    for (_shown, p), response in zip(prepared, responses, strict=True):
        if not response.get("ok"):
            raise _module_failure(response, p.texts)
        for file, answer in zip(p.query_files, response.get("answers", []), strict=True):
            if "error" in answer:
                raise PolicyError(_error_text(answer["error"], p.texts, file))
            if answer.get("defined"):
                results += _results_of(file, answer.get("value"))
    infos = [PolicyFileInfo(f.name, f.origin) for _shown, files in sets for f in files]
    return PolicyReport(results, infos)


def _describer(files: Sequence[str], shown: str) -> Callable[[int | None], str]:
    """Names what a child was running when it stopped: the file of query ``index``."""

    def describe(index: int | None) -> str:
        if index is None or not 0 <= index < len(files):
            return f"policies in {shown}"
        return files[index]

    return describe


def run_policy_tests(sources: Sequence[PolicySource], limits: Limits | None = None) -> TestReport:
    """Every ``test_*`` rule in ``sources`` (one set, test files included), as ``opa test``:
    PASS when it is true, FAIL when false or undefined, ERROR when it fails."""
    limits = limits or Limits()
    files = [f for s in sources for f in read_policies(s, tests=True)]
    parsed = _parse(files)
    texts = {p.file.name: p.file.text for p in parsed}
    tests: list[tuple[str, list[str], str]] = []
    seen: set[tuple[tuple[str, ...], str]] = set()
    for p in parsed:
        for head in rule_heads(p.tokens, ["test_*"]):
            key = (tuple(p.package), head.name)
            if key not in seen:
                seen.add(key)
                tests.append((p.file.name, p.package, head.name))
    modules = [(p.file.name, p.file.text) for p in parsed]
    shown = ", ".join(s.shown for s in sources)
    outcomes: dict[int, TestOutcome] = {}
    pending = list(range(len(tests)))
    first = True
    while pending or first:  # once even without tests: rego-cpp must parse every file
        first = False
        # One child runs the pending tests. A test that stops it (a limit, a crash) is an
        # ERROR, and a new child runs the others again without it.
        todo = [tests[i] for i in pending]
        request = {
            "modules": modules,
            "queries": [(name, f"{data_ref(pkg)}.{name}") for _f, pkg, name in todo],
            "input": None,
            "memory_mb": limits.memory_mb,
        }
        job = Job(request, _describer([t[0] for t in todo], shown))
        try:
            (response,) = run_workers([job], limits)
        except WorkerStopped as exc:
            if exc.index is None or not 0 <= exc.index < len(todo):
                raise
            file, pkg, name = todo[exc.index]
            outcomes[pending[exc.index]] = TestOutcome(file, ".".join(pkg), name, "ERROR", str(exc))
            del pending[exc.index]
            continue
        if not response.get("ok"):
            raise _module_failure(response, texts)
        for i, answer in zip(pending, response.get("answers", []), strict=True):
            outcomes[i] = _test_outcome(tests[i], answer, texts)
        pending = []
    return TestReport([outcomes[i] for i in range(len(tests))])


def _test_outcome(
    test: tuple[str, list[str], str], answer: Mapping[str, Any], texts: Mapping[str, str]
) -> TestOutcome:
    file, pkg, name = test
    package = ".".join(pkg)
    if "error" in answer:
        return TestOutcome(file, package, name, "ERROR", _error_text(answer["error"], texts, file))
    if answer.get("defined") and answer.get("value") is True:
        return TestOutcome(file, package, name, "PASS")
    return TestOutcome(file, package, name, "FAIL")
