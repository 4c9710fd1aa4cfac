"""The typed result of reading a configuration directory.

Values in ``DesiredNodePool.fields`` are plain Python (variables resolved), keyed by the
config's snake_case names; ``reconciler.model`` maps them to the wire's camelCase.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.endpoint import check_endpoint, endpoint_variable, resolve_endpoint
from reconciler.errors import Diagnostic, Pos
from reconciler.identifiers import DEFAULT_PROVIDER, provider_address


@dataclass(frozen=True, slots=True)
class Provider:
    """One ``provider "modelarts"`` block, or one instance of a ``for_each`` provider: where
    the API of one region (and project, and workspace) is."""

    region: str | None = None
    project_id: str | None = None
    endpoint: str | None = None
    pos: Pos | None = None
    """Where ``endpoint`` is written (else the block), for messages about the endpoint."""

    workspace_id: str | None = None
    """The ModelArts workspace whose pools np lists (``workspaceId``); None: the default."""
    alias: str | None = None
    """None for the default provider."""
    key: str | None = None
    """The ``for_each`` key of this instance (None: the block has no ``for_each``)."""

    @property
    def address(self) -> str:
        """``modelarts``, ``modelarts.hk`` or ``modelarts.region["cn-north-4"]``."""
        return provider_address(self.alias, self.key)

    @property
    def name(self) -> str:
        """How messages name the provider: ``provider`` for the default one (as before there
        were others), ``provider modelarts.hk`` for an alias."""
        return "provider" if self.alias is None else f"provider {self.address}"

    @property
    def where(self) -> str:
        """How error messages name the provider: ``main.hcl:2: provider``."""
        return f"{self.pos}: {self.name}" if self.pos else self.name

    @property
    def endpoint_variable(self) -> str:
        """The environment variable that overrides this provider's endpoint, and only its."""
        return endpoint_variable(self.alias, self.key)

    def resolved_endpoint(self, environ: Mapping[str, str]) -> str:
        """The endpoint np talks to for this provider (its override, else ``endpoint``, else
        the region's public endpoint); NpError when there is none."""
        return resolve_endpoint(
            self.endpoint, self.region, environ, self.endpoint_variable, self.where
        )

    def checked_endpoint(
        self,
        environ: Mapping[str, str],
        allow_insecure_http: bool = False,
        config_dir: Path | None = None,
    ) -> str:
        """``resolved_endpoint`` held to the endpoint rules (reconciler.endpoint): NpError,
        before any connection, for an endpoint the operator has not allowed."""
        return check_endpoint(
            self.endpoint,
            self.region,
            environ,
            allow_insecure_http,
            self.where,
            config_dir,
            self.endpoint_variable,
        )


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
    provider: str = DEFAULT_PROVIDER
    """The address of the provider the block names (``provider = modelarts.hk``): with pool
    and name, the node pool's identity."""

    @property
    def identity(self) -> tuple[str, str, str]:
        """(provider, pool, name): the same pool and name in two regions are two node pools."""
        return (self.provider, self.pool, self.name)


@dataclass(frozen=True, slots=True)
class Configuration:
    provider: Provider
    """The default provider (the block without an alias; empty when none is written)."""
    nodepools: tuple[DesiredNodePool, ...]
    files: tuple[str, ...] = ()
    """The configuration files read, by name inside the configuration directory."""
    backend: Backend | None = None
    moved: tuple[Moved, ...] = ()
    var_files: tuple[str, ...] = ()
    """Variable files that loaded by themselves (``np.npvars``, ``*.auto.npvars``), by name."""
    warnings: tuple[Diagnostic, ...] = ()
    """Problems that do not stop np (an undeclared variable in a var file), one line each."""
    variables: dict[str, Any] = field(default_factory=dict)
    """Every variable's final value (plain JSON): what a saved plan records."""
    aliases: dict[str, Provider] = field(default_factory=dict)
    """Every aliased provider (each instance of a ``for_each`` one), by address."""

    @property
    def providers(self) -> dict[str, Provider]:
        """Every provider by address, the default one first."""
        return {DEFAULT_PROVIDER: self.provider, **self.aliases}

    def providers_in_use(self) -> list[str]:
        """The providers the node pools name, in address order (the default one when no node
        pool is declared: a plan still reads its world and checks its state)."""
        used = {np.provider for np in self.nodepools}
        return sorted(used) if used else [DEFAULT_PROVIDER]

    def providers_to_check(self, environ: Mapping[str, str], offline: bool) -> list[Provider]:
        """The providers whose endpoint np checks before anything else: every one whose
        endpoint is set (in the configuration or by its override in the environment), and,
        unless ``offline`` (validate: an endpoint is plan's concern), every one in use."""
        in_use = set() if offline else set(self.providers_in_use())
        return [
            provider
            for address, provider in self.providers.items()
            if address in in_use or provider.endpoint or environ.get(provider.endpoint_variable)
        ]
