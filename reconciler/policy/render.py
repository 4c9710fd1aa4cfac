"""Policy results for people and CI systems: text lines, a Markdown section for a pull-request
comment, JUnit test cases, and ``np policy test``'s lines. Pure functions: the caller puts them
into np's outputs.

    deny  policy/flavors.rego  nodepool.gpu: flavor X is not allowed in pool-prod
    warn  /etc/np/policy/labels.rego  nodepool.old: missing labels cost_center

Messages were written by policies, some from a pull request: they arrive here already cleaned
of control characters (``results.clean``), and Markdown and XML escape them again.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET

from reconciler.policy.results import PolicyReport, PolicyResult, TestReport, refusal


def _message(result: PolicyResult) -> str:
    """The address in front of the message, unless the message already starts with it."""
    if result.address and not result.msg.startswith(result.address):
        return f"{result.address}: {result.msg}"
    return result.msg


def result_line(result: PolicyResult) -> str:
    return f"{result.level:<4}  {result.policy}  {_message(result)}"


def summary_line(report: PolicyReport) -> str:
    """``Plan refused by 2 policies (3 denies, 1 warning).`` or ``Policies: 4 files, no
    denies, 1 warning.``"""
    counts = f"{_plural(report.denied, 'deny', 'denies')}, {_plural(report.warned, 'warning')}"
    refused = refusal(report)
    if refused:
        return f"{refused} ({counts})."
    files = _plural(len(report.files), "policy file")
    return f"Policies passed: {files} checked, {counts}."


def _plural(n: int, one: str, many: str | None = None) -> str:
    if n == 0:
        return f"no {many or one + 's'}"
    return f"{n} {one if n == 1 else many or one + 's'}"


def policy_text(report: PolicyReport) -> str:
    """One line per result (denies first), then the summary line."""
    ordered = [r for r in report.results if r.level == "deny"]
    ordered += [r for r in report.results if r.level != "deny"]
    return "\n".join([*(result_line(r) for r in ordered), summary_line(report)])


def _cell(text: str) -> str:
    """Text for a Markdown table cell: HTML-escaped (no tags, no mentions rendered as links
    beyond what GitHub does for plain text), pipes and backticks neutralised."""
    escaped = html.escape(text, quote=False).replace("|", "\\|").replace("`", "\\`")
    return escaped.replace("@", "@\u200b")  # no @mentions from a policy's message


def policy_markdown(report: PolicyReport) -> str:
    """A section for the top of a pull-request comment: the verdict, then a table."""
    refused = refusal(report)
    if refused:
        head = f"### :no_entry: Policy check: {refused}"
    elif report.warned:
        head = "### :warning: Policy check passed with warnings"
    else:
        head = "### :white_check_mark: Policy check passed"
    lines = [head, "", summary_line(report)]
    if report.results:
        lines += ["", "| level | policy | address | message |", "|---|---|---|---|"]
        ordered = sorted(report.results, key=lambda r: r.level != "deny")
        for r in ordered:
            address = f"`{_cell(r.address)}`" if r.address else ""
            lines.append(f"| **{r.level}** | `{_cell(r.policy)}` | {address} | {_cell(r.msg)} |")
    return "\n".join(lines) + "\n"


def policy_junit_cases(report: PolicyReport) -> list[ET.Element]:
    """One ``<testcase>`` per policy file evaluated: a ``<failure>`` when it denies (every
    deny in its text), its warnings in ``<system-out>``."""
    cases: list[ET.Element] = []
    for info in report.files:
        case = ET.Element("testcase", classname=f"np.policy.{info.origin}", name=info.name)
        mine = [r for r in report.results if r.policy == info.name]
        denies = [r for r in mine if r.level == "deny"]
        warns = [r for r in mine if r.level == "warn"]
        if denies:
            failure = ET.SubElement(
                case, "failure", message=_plural(len(denies), "deny", "denies"), type="deny"
            )
            failure.text = "\n".join(_message(r) for r in denies)
        if warns:
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(f"warn: {_message(r)}" for r in warns)
        cases.append(case)
    return cases


def policy_junit(report: PolicyReport | None) -> str:
    """``np plan --format junit``: one test suite, one test case per policy file (none when
    no policy is configured), so a CI system lists each denying policy as a failed test."""
    cases = [] if report is None else policy_junit_cases(report)
    failures = sum(1 for case in cases if case.find("failure") is not None)
    suite = ET.Element(
        "testsuite",
        name="np plan policies",
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    suite.extend(cases)
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def tests_text(report: TestReport) -> list[str]:
    """``np policy test``: one line per test, then the summary."""
    lines = []
    for o in report.outcomes:
        line = f"{o.status:<5} {o.policy}: data.{o.package}.{o.name}"
        lines.append(f"{line}\n      {o.detail}" if o.detail else line)
    passed = sum(1 for o in report.outcomes if o.status == "PASS")
    failed = sum(1 for o in report.outcomes if o.status == "FAIL")
    errors = sum(1 for o in report.outcomes if o.status == "ERROR")
    if not report.outcomes:
        return ["No tests found (test_* rules)."]
    summary = f"{passed} passed, {failed} failed, {errors} errors ({len(report.outcomes)} tests)."
    return [*lines, "", summary]
