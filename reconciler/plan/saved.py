"""Saved plans (``np plan -out FILE``, ``np apply FILE``): the reviewed plan, applied exactly.

    save_plan(Path("p.plan"), plan, config_digest=config_digest(paths), target=target)
    saved = load_plan(Path("p.plan"))         # NpError when unreadable or modified
    check_target(saved, target)               # NpError for another endpoint, project, workspace
    check_still_valid(saved, state, live)     # NpError when state or live moved on

The file is JSON (0600) holding everything apply needs to rebuild the ``Plan`` (the exact
request bodies included), where it applies (endpoint, project, workspace), the digest of the
configuration it was made from, the state lineage and serial it was made against, a fingerprint
of each touched node pool's live spec and a sha256 checksum of all of that. It holds no
credentials: a plan never sees them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

from pydantic import BaseModel, ConfigDict, ValidationError

from reconciler import __version__
from reconciler.errors import NpError
from reconciler.fsutil import atomic_write
from reconciler.live import LiveWorld
from reconciler.plan.changes import Plan, fingerprint
from reconciler.state.document import State

FORMAT_VERSION = "2"


class PlanTarget(BaseModel):
    """Where a plan applies: a reviewed plan is never sent to another endpoint, project or
    workspace (say, through a variable that names the endpoint)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    endpoint: str
    project_id: str
    workspace: str


@dataclass(frozen=True)
class SavedPlan:
    plan: Plan
    fingerprints: dict[str, str]
    """Touched address → ``fingerprint()`` of its live spec when planned (of None: missing)."""
    config_digest: str
    np_version: str
    created_at: str
    target: PlanTarget

    @property
    def lineage(self) -> str:
        return self.plan.lineage

    @property
    def serial(self) -> int:
        return self.plan.serial


class _Content(BaseModel):
    """Everything in the file but its checksum; strict, so a forged field fails to load."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    format_version: str
    np_version: str
    created_at: str
    config_digest: str
    target: PlanTarget
    fingerprints: dict[str, str]
    plan: Plan


def config_digest(paths: Iterable[Path]) -> str:
    """A digest of the configuration files (names and bytes), to tell which config was planned."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        for part in (path.name.encode(), path.read_bytes()):
            digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def save_plan(path: Path, plan: Plan, *, config_digest: str, target: PlanTarget) -> None:
    content = _Content(
        format_version=FORMAT_VERSION,
        np_version=__version__,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        config_digest=config_digest,
        target=target,
        fingerprints={r.address: fingerprint(r.before) for r in plan.touched},
        plan=plan,
    )
    doc = content.model_dump(mode="json")
    doc["checksum"] = _checksum(doc)
    try:
        atomic_write(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise NpError(f"cannot write plan file {path}: {exc.strerror or exc}") from exc


def load_plan(path: Path) -> SavedPlan:
    """Read a saved plan; refuse one that was modified, malformed or written by a newer np."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise NpError(f"cannot read plan file {path}: {exc.strerror or exc}") from exc
    try:
        doc = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise NpError(f"{path} is not a saved np plan (not valid JSON: {exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("checksum"), str):
        raise NpError(f"{path} is not a saved np plan (no checksum)")
    checksum = doc.pop("checksum")
    if checksum != _checksum(doc):
        raise NpError(
            f"plan file {path} was modified after it was written (checksum mismatch); "
            f"run np plan -out {path} again"
        )
    version = doc.get("format_version")
    if version != FORMAT_VERSION:
        raise NpError(
            f"plan file {path} has format version {json.dumps(version)}, but np {__version__} "
            f'reads format version "{FORMAT_VERSION}"; run np plan -out {path} again with '
            "this np"
        )
    try:
        content = _Content.model_validate_json(json.dumps(doc), strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise NpError(f"plan file {path} is malformed: {where}: {first['msg']}") from None
    return SavedPlan(
        plan=content.plan,
        fingerprints=content.fingerprints,
        config_digest=content.config_digest,
        np_version=content.np_version,
        created_at=content.created_at,
        target=content.target,
    )


def check_target(saved: SavedPlan, target: PlanTarget) -> None:
    """Refuse a plan made for another endpoint, project or workspace.

    The configuration's own digest is recorded but not enforced: the plan holds every request
    body, and the state serial and live fingerprints already refuse a plan that the world moved
    past; a configuration change merged since (another pull request) is that change's own plan."""
    for what in ("endpoint", "project_id", "workspace"):
        was, now = getattr(saved.target, what), getattr(target, what)
        if was != now:
            label = what.replace("_", " ")
            raise NpError(
                f"the saved plan was made for {label} {was}, but this run uses {label} {now}; "
                "nothing was sent. Run np plan again for this target"
            )


def check_still_valid(saved: SavedPlan, state: State, live: LiveWorld) -> None:
    """Refuse a plan whose state or live node pools moved on since it was made.

    A plan made before any state existed (serial 0) has a lineage drawn for that run only, so
    only the serial tells whether a state appeared since.
    """
    if saved.serial != 0 and state.lineage != saved.lineage:
        _stale(f"state lineage changed ({saved.lineage} → {state.lineage})")
    if state.serial != saved.serial:
        _stale(f"state changed since the plan was made (serial {saved.serial} → {state.serial})")
    moved = [
        r.address
        for r in saved.plan.touched
        if fingerprint(live.nodepool(r.pool, r.name)) != saved.fingerprints.get(r.address)
    ]
    if moved:
        _stale(f"{', '.join(moved)} changed live since the plan was made")


def _stale(why: str) -> NoReturn:
    raise NpError(f"the saved plan is out of date: {why}; run np plan again")


def _checksum(content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
