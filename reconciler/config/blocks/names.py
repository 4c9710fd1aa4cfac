"""The API's rule for the name of a new node pool, and a suggestion that follows it.

    new_name_problem("cpu_batch")  # -> "... is not a valid name for a new node pool ..."
    suggested_name("cpu_batch")    # -> "cpu-batch"

Existing node pools may have other names (a pool's default node pool often does), so the rule
binds names np would create. ``np validate`` applies it to block labels used as names, which
would otherwise pass validation and fail the plan.
"""

from __future__ import annotations

import re

from reconciler.config.messages import excerpt

_NEW_NAME = re.compile(r"[a-z][a-z0-9-]{0,48}[a-z0-9]")
NEW_NAME_RULE = (
    "2-50 lowercase letters, digits and '-', starting with a letter, not ending with '-' or "
    "'-default'"
)


def new_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a new node pool (None when it can)."""
    if _NEW_NAME.fullmatch(name) and not name.endswith("-default"):
        return None
    return f'"{excerpt(name)}" is not a valid name for a new node pool: {NEW_NAME_RULE}'


def suggested_name(label: str) -> str | None:
    """The closest valid name: lowercase, ``_`` and ``.`` as ``-``, trimmed (None if none)."""
    name = re.sub(r"[^a-z0-9-]+", "-", label.lower())
    name = re.sub(r"-{2,}", "-", name).lstrip("-0123456789")[:50].rstrip("-")
    return name if new_name_problem(name) is None else None
