"""``np drift`` for people (text, Markdown) and for CI systems (JSON, JUnit XML).

entries = drift_report(state, live)
drift_junit(entries)   # one failing testcase per drifted or missing node pool

With more than one provider (region), each entry names its provider, and JUnit has one suite
per provider, so a CI system shows which region drifted.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from reconciler.drift import DriftEntry
from reconciler.model import wire_path_to_config
from reconciler.render.markdown import diff_block, diff_pair
from reconciler.render.text import Painter, by_provider, drift_line, value

_ABSENT = {
    "missing": ("-", "the node pool no longer exists"),
    "unmanaged": ("+", "declared and live, but not in state: np apply adopts it"),
    "not-created": ("+", "declared, but the node pool does not exist: np apply creates it"),
}
"""Statuses with nothing to compare: the sign and the line that say why."""
_STATUS_COLOR = {
    "in-sync": "green",
    "drifted": "yellow",
    "missing": "red",
    "unmanaged": "red",
    "not-created": "red",
}


def drifted(entries: Sequence[DriftEntry]) -> bool:
    """True when any node pool drifted, is missing or is not managed (``np drift`` exits 2)."""
    return any(entry.status != "in-sync" for entry in entries)


def drift_text(entries: Sequence[DriftEntry], paint: Painter) -> str:
    if not entries:
        return "No node pools are declared or managed: nothing to compare."
    lines: list[str] = []
    several = _several(entries)
    for entry in entries:
        status = paint(entry.status, _STATUS_COLOR[entry.status], bold=True)
        region = f"provider {entry.provider}, " if several else ""
        where = f"({region}pool {value(entry.pool)}, node pool {value(entry.name)})"
        lines.append(paint(entry.address, bold=True) + f" {where}: {status}")
        if entry.status in _ABSENT:
            sign, why = _ABSENT[entry.status]
            lines.append(f"  {paint.sign(sign)} {why}")
        lines += [drift_line(change, paint) for change in entry.changes]
    if drifted(entries):
        lines += ["", paint("Drift found: ", "yellow", bold=True) + _counts(entries) + "."]
    else:
        lines += [
            "",
            paint("No drift.", "green", bold=True) + " Live matches what np last applied.",
        ]
    return "\n".join(lines)


def drift_json(entries: Sequence[DriftEntry]) -> dict[str, Any]:
    return {
        "drifted": drifted(entries),
        "resources": [
            {
                "address": entry.address,
                "provider": entry.provider,
                "pool": entry.pool,
                "name": entry.name,
                "status": entry.status,
                "changes": [
                    {"path": wire_path_to_config(c.path), "applied": c.applied, "live": c.live}
                    for c in entry.changes
                ],
            }
            for entry in entries
        ],
    }


def drift_markdown(entries: Sequence[DriftEntry]) -> str:
    sections = [[f"### np drift: {_counts(entries) or 'no managed node pools'}"]]
    several = _several(entries)
    if entries:
        rows = [
            f"| `{e.address}` |{f' `{e.provider}` |' if several else ''} `{e.pool}` | "
            f"`{e.name}` | {e.status} | {len(e.changes)} |"
            for e in entries
        ]
        columns = ["address", *(["provider"] if several else []), "pool", "node pool"]
        columns += ["status", "changes"]
        head = [f"| {' | '.join(columns)} |", "|" + " --- |" * len(columns)]
        sections.append(head + rows)
    lines: list[str] = []
    for entry in entries:
        if entry.status == "in-sync":
            continue
        lines.append(f"  # {entry.address}: {entry.status}")
        if entry.status in _ABSENT:
            sign, why = _ABSENT[entry.status]
            lines.append(f"{sign} nodepool {value(entry.name)} ({why})")
        for c in entry.changes:
            lines += diff_pair(wire_path_to_config(c.path), c.applied, c.live, " ")
        lines.append("")
    if lines:
        sections += [
            ["Live values that moved away from what np last applied (`-` last applied, `+` live):"],
            diff_block(lines, "Drift"),
        ]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


def drift_junit(entries: Sequence[DriftEntry]) -> str:
    """JUnit XML, so CI systems list each drifted node pool as a failed test: one suite, or,
    with more than one provider, one suite per provider inside ``<testsuites>``."""
    groups = by_provider(entries)
    if groups[0][0] is None:
        root = _suite(entries, "np drift")
    else:
        root = ET.Element("testsuites", name="np drift")
        for provider, group in groups:
            root.append(_suite(group, f"np drift: {provider}"))
        failures = sum(1 for entry in entries if entry.status != "in-sync")
        root.set("tests", str(len(entries)))
        root.set("failures", str(failures))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(entries: Sequence[DriftEntry], name: str) -> ET.Element:
    failures = sum(1 for entry in entries if entry.status != "in-sync")
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(entries)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    for entry in entries:
        case = ET.SubElement(suite, "testcase", classname="np.drift", name=entry.address)
        if entry.status in _ABSENT:
            message = f"{entry.status}: {_ABSENT[entry.status][1]}"
            failure = ET.SubElement(case, "failure", message=message, type=entry.status)
            failure.text = f"pool {value(entry.pool)}, node pool {value(entry.name)}"
        elif entry.status == "drifted":
            message = f"drifted: {len(entry.changes)} change(s)"
            failure = ET.SubElement(case, "failure", message=message, type="drifted")
            failure.text = "\n".join(
                f"{wire_path_to_config(c.path)}: {value(c.applied)} -> {value(c.live)}"
                "  (last applied -> live)"
                for c in entry.changes
            )
    return suite


def _several(entries: Sequence[DriftEntry]) -> bool:
    """Whether the entries span more than one provider (then each is named with its own)."""
    return len({entry.provider for entry in entries}) > 1


def _counts(entries: Sequence[DriftEntry]) -> str:
    """``1 drifted, 2 in-sync``; empty when there is nothing."""
    counts = dict.fromkeys(("drifted", "missing", "unmanaged", "not-created", "in-sync"), 0)
    for entry in entries:
        counts[entry.status] += 1
    return ", ".join(f"{n} {status}" for status, n in counts.items() if n)
