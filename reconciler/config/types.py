"""The typed result of reading a configuration directory.

Values in ``DesiredNodePool.fields`` are plain Python (variables resolved), keyed by the
config's snake_case names; ``reconciler.model`` maps them to the wire's camelCase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import Pos


@dataclass(frozen=True, slots=True)
class Provider:
    region: str | None = None
    project_id: str | None = None
    endpoint: str | None = None
    pos: Pos | None = None
    """Where ``endpoint`` is written (else the block), for messages about the endpoint."""

    @property
    def where(self) -> str:
        """How error messages name the provider: ``main.hcl:2: provider``."""
        return f"{self.pos}: provider" if self.pos else "provider"


@dataclass(frozen=True, slots=True)
class Lifecycle:
    ignore_changes: tuple[str, ...] = ()
    prevent_destroy: bool = False


@dataclass(frozen=True, slots=True)
class DesiredNodePool:
    """One ``nodepool`` block: the fields np manages for one ModelArts node pool.

    ``fields`` holds only what the block writes (snake_case, e.g. ``max_count``,
    ``extend_params``, ``creating_step``, ``os.image_id``), never ``pool``/``name``/``lifecycle``.
    ``field_pos`` maps a top-level field name to where it is written.
    """

    address: str
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
