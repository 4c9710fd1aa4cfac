"""Saved plans (``np plan -out FILE``, ``np apply FILE``): the reviewed plan, applied exactly.

    save_plan(Path("p.plan"), plan, request, config_digest=..., targets=targets, environ=env)
    saved = load_plan(Path("p.plan"), env)    # NpError when unreadable, modified or unsigned
    check_target(saved, targets)              # NpError for another endpoint, project, workspace
    check_still_valid(saved, state, live)     # NpError when state or live moved on
    check_same(saved.plan, make_plan(...))    # NpError naming the first change that differs

The file is JSON (0600) holding the reviewed ``Plan`` (the exact request bodies included), the
variables' values and the ``--target``/``--exclude`` it was made with, where it applies (for
every provider it reads: endpoint, project, workspaces), the state lineage and serial it was
made against, a fingerprint of each touched node pool's live spec and a checksum of all of
that (an HMAC when ``NP_PLAN_KEY`` is set). It holds no credentials: a plan never sees them.

A plan file is not trusted to say what to send: anyone who can write it can recompute a bare
checksum. ``np apply FILE`` plans again from the configuration at hand with the recorded
variables and sends only when every change (address, action, body) equals the saved one; what
it sends is what it planned itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

from pydantic import BaseModel, ConfigDict, ValidationError

from reconciler import __version__
from reconciler.errors import NpError, shown
from reconciler.fsutil import atomic_write, read_bytes
from reconciler.identifiers import DEFAULT_PROVIDER
from reconciler.live import LiveWorld, Worlds, worlds
from reconciler.plan.changes import Plan, fingerprint
from reconciler.state.document import State

FORMAT_VERSION = "4"
"""4: a target per provider (``providers``), and each change's ``provider``."""
KEY_VARIABLE = "NP_PLAN_KEY"
MAX_PLAN_BYTES = 512 * 1024 * 1024
"""A plan of 10,000 node pools is about 20 MB; a file far beyond that is not np's."""


class PlanTarget(BaseModel):
    """Where one provider's part of a plan applies: a reviewed plan is never sent to another
    endpoint, project or workspace (say, through a variable that names the endpoint)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    endpoint: str
    project_id: str
    workspace: str
    """np's workspace (the state's)."""
    workspace_id: str | None = None
    """The ModelArts workspace whose pools the provider lists (None: the default one)."""


Targets = Mapping[str, PlanTarget]
"""Where a plan applies, by provider address."""


class Recipe(BaseModel):
    """What a plan was made from besides the configuration files: the variables' final values
    and the targeting. ``np apply FILE`` makes the plan again from exactly these."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    variables: dict[str, Any]
    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SavedPlan:
    plan: Plan
    recipe: Recipe
    fingerprints: dict[str, str]
    """Touched address → ``fingerprint()`` of its live spec when planned (of None: missing)."""
    config_digest: str
    np_version: str
    created_at: str
    providers: dict[str, PlanTarget]
    """Where the plan applies, for every provider it reads (by address)."""

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
    providers: dict[str, PlanTarget]
    recipe: Recipe
    fingerprints: dict[str, str]
    plan: Plan


def config_digest(paths: Iterable[Path]) -> str:
    """A digest of the configuration files (names and bytes), to tell which config was planned."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        for part in (path.name.encode(), path.read_bytes()):
            digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def save_plan(
    path: Path,
    plan: Plan,
    recipe: Recipe,
    *,
    config_digest: str,
    targets: Targets,
    environ: Mapping[str, str],
) -> None:
    content = _Content(
        format_version=FORMAT_VERSION,
        np_version=__version__,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        config_digest=config_digest,
        providers=dict(targets),
        recipe=recipe,
        fingerprints={r.address: fingerprint(r.before) for r in plan.touched},
        plan=plan,
    )
    doc = content.model_dump(mode="json")
    doc["checksum"] = _checksum(doc)
    key = environ.get(KEY_VARIABLE)
    if key:
        doc["signature"] = _signature(key, doc["checksum"])
    try:
        atomic_write(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise NpError(f"cannot write plan file {path}: {exc.strerror or exc}") from exc


def load_plan(path: Path, environ: Mapping[str, str]) -> SavedPlan:
    """Read a saved plan; refuse one that was modified, malformed, written by a newer np, or
    (with ``NP_PLAN_KEY`` set) not signed with that key."""
    try:
        raw = read_bytes(path, MAX_PLAN_BYTES)
    except OSError as exc:
        raise NpError(f"cannot read plan file {path}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_PLAN_BYTES:
        raise NpError(f"{path} is not a saved np plan (larger than {MAX_PLAN_BYTES >> 20} MiB)")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # also UnicodeDecodeError, a nesting bomb
        reason = "nested too deeply" if isinstance(exc, RecursionError) else shown(str(exc))
        raise NpError(f"{path} is not a saved np plan (not valid JSON: {reason})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("checksum"), str):
        raise NpError(f"{path} is not a saved np plan (no checksum)")
    signature = doc.pop("signature", None)
    checksum = doc.pop("checksum")
    if checksum != _checksum(doc):
        raise NpError(
            f"plan file {path} was modified after it was written (checksum mismatch); "
            f"run np plan -out {path} again"
        )
    key = environ.get(KEY_VARIABLE)
    if key and not (
        isinstance(signature, str) and hmac.compare_digest(signature, _signature(key, checksum))
    ):
        what = "is not signed" if signature is None else "has a signature that does not match"
        raise NpError(
            f"plan file {path} {what} with the key in {KEY_VARIABLE}; nothing was sent. Make "
            f"the plan with the same {KEY_VARIABLE} set"
        )
    version = doc.get("format_version")
    if version != FORMAT_VERSION:
        raise NpError(
            f"plan file {path} has format version {shown(json.dumps(version), 40)}, but np "
            f'{__version__} reads format version "{FORMAT_VERSION}"; run np plan -out {path} '
            "again with this np"
        )
    try:
        content = _Content.model_validate_json(json.dumps(doc), strict=True)
    except (ValidationError, RecursionError) as exc:
        if isinstance(exc, RecursionError):
            raise NpError(f"plan file {path} is malformed: nested too deeply") from None
        first = exc.errors()[0]
        where = shown(".".join(str(part) for part in first["loc"]), 80)
        raise NpError(f"plan file {path} is malformed: {where}: {first['msg']}") from None
    return SavedPlan(
        plan=content.plan,
        recipe=content.recipe,
        fingerprints=content.fingerprints,
        config_digest=content.config_digest,
        np_version=content.np_version,
        created_at=content.created_at,
        providers=content.providers,
    )


def check_target(saved: SavedPlan, targets: Targets) -> None:
    """Refuse a plan made for other providers, or for another endpoint, project or workspace
    of any of them.

    The configuration's own digest is recorded but not enforced: apply plans again and sends
    only what equals the saved one, so an edit that changes nothing (a comment) still applies,
    and one that changes a request is refused by ``check_same``."""
    if set(saved.providers) != set(targets):
        raise NpError(
            f"the saved plan was made for providers {_listed(saved.providers)}, but this run "
            f"uses {_listed(targets)}; nothing was sent. Run np plan again for this target"
        )
    for provider in sorted(targets):
        _check_one(saved.providers[provider], targets[provider], provider)


def _check_one(saved: PlanTarget, target: PlanTarget, provider: str) -> None:
    whose = "" if provider == DEFAULT_PROVIDER else f" of provider {provider}"
    for what, label in (
        ("endpoint", "endpoint"),
        ("project_id", "project id"),
        ("workspace", "workspace"),
        ("workspace_id", "ModelArts workspace id"),
    ):
        was, now = getattr(saved, what), getattr(target, what)
        if was != now:
            raise NpError(
                f"the saved plan was made for {label}{whose} {shown(str(was), 80)}, but this run "
                f"uses {label} {shown(str(now), 80)}; "
                "nothing was sent. Run np plan again for this target"
            )


def _listed(providers: Iterable[str]) -> str:
    return ", ".join(shown(p, 80) for p in sorted(providers)) or "none"


def check_still_valid(saved: SavedPlan, state: State, live: LiveWorld | Worlds) -> None:
    """Refuse a plan whose state or live node pools moved on since it was made.

    A plan made before any state existed (serial 0) has a lineage drawn for that run only, so
    only the serial tells whether a state appeared since.
    """
    if saved.serial != 0 and state.lineage != saved.lineage:
        _stale(f"state lineage changed ({saved.lineage} → {state.lineage})")
    if state.serial != saved.serial:
        _stale(f"state changed since the plan was made (serial {saved.serial} → {state.serial})")
    by_provider = worlds(live)

    def now(provider: str, pool: str, name: str) -> dict[str, Any] | None:
        world = by_provider.get(provider)
        return None if world is None else world.nodepool(pool, name)

    moved = [
        r.address
        for r in saved.plan.touched
        if fingerprint(now(r.provider, r.pool, r.name)) != saved.fingerprints.get(r.address)
    ]
    if moved:
        _stale(f"{', '.join(moved)} changed live since the plan was made")


def check_same(saved: Plan, again: Plan) -> None:
    """Refuse, naming the first difference, unless the plan made again changes exactly what
    the saved one says: the same addresses, each with the same action, request body, move and
    forgetting. What apply then sends is np's own plan, never the file's bodies."""
    before = {c.address: c for c in saved.touched}
    now = {c.address: c for c in again.touched}
    for address in sorted(set(before) | set(now)):
        old, new = before.get(address), now.get(address)
        if old is None or new is None:
            said = f"{old.action} it" if old is not None else "leave it alone"
            plans = f"{new.action} it" if new is not None else "leave it alone"
            _differs(address, f"the saved plan would {said}, np plans to {plans}")
        for what, was, is_now in (
            ("provider", old.provider, new.provider),
            ("action", old.action, new.action),
            ("request body", old.body, new.body),
            ("previous address", old.moved_from, new.moved_from),
            ("forgets it", old.forgets, new.forgets),
        ):
            if was != is_now:
                _differs(
                    address, f"{what}: the saved plan has {_brief(was)}, np plans {_brief(is_now)}"
                )


def _differs(address: str, why: str) -> NoReturn:
    raise NpError(
        f"the saved plan is not what np plans from this configuration: {shown(address, 80)}: "
        f"{why}; nothing was sent. Run np plan -out again and review it"
    )


def _brief(value: object) -> str:
    return shown(json.dumps(value, sort_keys=True, ensure_ascii=False), 120)


def _stale(why: str) -> NoReturn:
    raise NpError(f"the saved plan is out of date: {why}; run np plan again")


def _signature(key: str, checksum: str) -> str:
    """HMAC-SHA256 of the checksum (which covers every other field) under ``NP_PLAN_KEY``."""
    return hmac.new(key.encode(), checksum.encode(), hashlib.sha256).hexdigest()


def _checksum(content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: a forged file may hold a lone surrogate; it must only fail to match
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
