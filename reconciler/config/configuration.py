"""The typed result of reading a configuration directory.

Values in ``DesiredNodePool.fields`` are plain Python (variables resolved), keyed by the
config's snake_case names; ``reconciler.model`` maps them to the wire's camelCase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import Diagnostic, Pos


@dataclass(frozen=True, slots=True)
class Provider:
    region: str | None = None
    project_id: str | None = None
    endpoint: str | None = None
    pos: Pos | None = None
    """Where ``endpoint`` is written (else the block), for messages about the endpoint."""

    workspace_id: str | None = None
    """The ModelArts workspace whose pools np lists (``workspaceId``); None: the default."""

    @property
    def where(self) -> str:
        """How error messages name the provider: ``main.hcl:2: provider``."""
        return f"{self.pos}: provider" if self.pos else "provider"


@dataclass(frozen=True, slots=True)
class Backend:
    """Where state lives when not in the local file: ``backend "pg" {}`` or ``backend "s3" {}``.

    ``settings`` holds the block's fields as written (never a secret: those come from the
    environment and a block that holds one is refused while loading).
    """

    kind: str
    """``pg`` or ``s3``."""
    settings: dict[str, str]
    pos: Pos | None = None


@dataclass(frozen=True, slots=True)
class Moved:
    """A ``moved { from = ADDR  to = ADDR }`` block: rename a state entry, send nothing."""

    from_address: str
    to_address: str
    pos: Pos | None = None


@dataclass(frozen=True, slots=True)
class Lifecycle:
    ignore_changes: tuple[str, ...] = ()
    """Top-level config field names (``count``, ``labels``) np neither changes nor reports."""
    prevent_destroy: bool = False
    ignore_keys: tuple[tuple[str, str], ...] = ()
    """Single map keys: ``labels["team"]`` is ``("labels", "team")``."""
    ignore_all: bool = False
    """``ignore_changes = all``: after creation np changes nothing and reports no drift.
    ``ignore_changes`` then also lists every field, so that a reader that knows only the
    field list ignores everything too."""


@dataclass(frozen=True, slots=True)
class DesiredNodePool:
    """One ``nodepool`` block: the fields np manages for one ModelArts node pool.

    ``fields`` holds only what the block writes (snake_case, e.g. ``max_count``,
    ``extend_params``, ``creating_step``, ``os.image_id``), never ``pool``/``name``/``lifecycle``.
    ``field_pos`` maps a top-level field name to where it is written.
    """

    address: str
    """``nodepool.LABEL``, or ``nodepool.LABEL["KEY"]`` for an instance of a ``for_each`` block."""
    pool: str
    name: str
    fields: dict[str, Any]
    lifecycle: Lifecycle = Lifecycle()
    pos: Pos | None = None
    field_pos: dict[str, Pos] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Configuration:
    provider: Provider
    nodepools: tuple[DesiredNodePool, ...]
    files: tuple[str, ...] = ()
    """The configuration files read, by name inside the configuration directory."""
    backend: Backend | None = None
    moved: tuple[Moved, ...] = ()
    var_files: tuple[str, ...] = ()
    """Variable files that loaded by themselves (``np.npvars``, ``*.auto.npvars``), by name."""
    warnings: tuple[Diagnostic, ...] = ()
    variables: dict[str, Any] = field(default_factory=dict)
    """Every variable's final value (plain JSON): what a saved plan records."""
    """Problems that do not stop np (an undeclared variable in a var file), one line each."""
