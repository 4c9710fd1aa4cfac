"""The ``backend`` block: where state lives when not in the local file.

Settings are literal values (the backend is chosen before anything else is evaluated) and
never secrets: passwords, keys and connection strings come from the environment, and a block
that holds one is refused with the names of the variables to set, without echoing the value.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.config.configuration import Backend
from reconciler.config.evaluation.resolve import resolve, validate
from reconciler.config.schema import BACKENDS
from reconciler.config.syntax.declarations import Declaration
from reconciler.config.syntax.nodes import Entry, Mapping
from reconciler.errors import Diagnostic

_SECRET = "credentials must not be written in configuration; set {} instead"
_CONNECTION = "the connection comes from the environment, not the configuration: set {}"


def build_backend(
    declarations: Sequence[Declaration], diagnostics: list[Diagnostic]
) -> Backend | None:
    """The one backend block (None: the local file); a second one is an error."""
    blocks = [d for d in declarations if d.kind == "backend"]
    for extra in blocks[1:]:
        message = f"only one backend block is allowed (first at {blocks[0].pos})"
        diagnostics.append(Diagnostic(message, extra.pos, extra.address))
    return _backend(blocks[0], diagnostics) if blocks else None


def _backend(decl: Declaration, diagnostics: list[Diagnostic]) -> Backend | None:
    spec = BACKENDS[decl.label]
    kept: list[Entry] = []
    for entry in decl.body.entries:
        secret = spec.secret_hint(entry.key)
        known = entry.key in spec.model_fields
        connection = None if known else spec.environment_hint(entry.key)
        if secret is None and connection is None:
            kept.append(entry)
            continue
        message = _SECRET.format(secret) if secret else _CONNECTION.format(connection)
        diagnostics.append(Diagnostic(message, entry.key_pos, decl.address, entry.key))
    literal = "np chooses the backend before it evaluates anything"
    resolved = resolve(Mapping(tuple(kept), decl.body.pos), None, literal=literal)
    validate(spec, resolved)
    diagnostics += [problem.diagnostic(decl.address) for problem in resolved.problems]
    if resolved.problems or len(kept) != len(decl.body.entries):
        return None
    return Backend(decl.label, dict(resolved.value), decl.pos)
