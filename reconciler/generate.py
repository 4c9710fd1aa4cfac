"""``np generate``: configuration blocks for live node pools np does not manage yet.

    text = generate(live, config, state, pools=["pool-prod"], language="hcl")
    text = generate(hk_live, config, state, ["pool-prod"], "yaml", provider="modelarts.hk")

Pure: one provider's live world, the configuration and the state in, text out. A node pool
already declared (by provider, pool and name) or recorded in state is left out; a block for a
node pool of another provider than the default one names it (``provider = modelarts.hk``).
Every field np manages that is set live is written, exactly as live holds it, so that adding
the output to the configuration plans no changes. ``name`` is always written: the output then
passes ``np validate`` whatever the live name (``Default_NP``, ``pool-dev-default``), and
renaming a block's label later moves its address instead of replacing the node pool. What the
configuration cannot express (a reserved tag, a label that breaks Kubernetes' rules) is left
out and named in a comment, which leaves it unmanaged. Labels are valid addresses, unique,
qualified by the pool when two pools hold the same name, and never one the configuration or
the state already uses.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from reconciler.config.configuration import Configuration
from reconciler.config.messages import FieldPath, format_path, pydantic_problems
from reconciler.config.schema import MANAGED_FIELDS, NodePoolSpec
from reconciler.config.syntax.hcltext import quote
from reconciler.identifiers import DEFAULT_PROVIDER, LABEL, parse_address, parse_provider_address
from reconciler.live import LiveWorld
from reconciler.model import RESERVED_TAG_PREFIXES, wire_to_config
from reconciler.state.document import State

Language = Literal["hcl", "yaml"]
_BLOCKS = ("network", "creating_step", "os")
"""Fields written as nested blocks in HCL."""
_HCL_KEYWORDS = frozenset({"true", "false", "null", "for", "in", "if", "else", "endif", "endfor"})
_YAML_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")


@dataclass(frozen=True, slots=True)
class Generated:
    label: str
    pool: str
    name: str
    fields: dict[str, Any]
    left_out: tuple[str, ...]
    """What live holds that the configuration cannot express (so it stays unmanaged)."""
    provider: str = DEFAULT_PROVIDER


def unmanaged(
    live: LiveWorld,
    config: Configuration,
    state: State,
    pools: Iterable[str],
    provider: str = DEFAULT_PROVIDER,
) -> list[Generated]:
    """The live node pools of ``pools`` (in ``provider``'s world ``live``) that neither the
    configuration nor the state names."""
    known = {(p.pool, p.name) for p in config.nodepools if p.provider == provider}
    known |= {(r.pool, r.name) for r in state.resources.values() if r.provider == provider}
    everything = [
        (pool, name, spec)
        for pool in sorted(set(pools))
        if pool in live.pools
        for name, spec in sorted(live.pools[pool].nodepools.items())
    ]
    pools_of_name = Counter(name for _, name, _ in everything)
    taken = {parse_address(p.address)[0] for p in config.nodepools}
    taken |= {label_of(address) for address in state.resources}
    result: list[Generated] = []
    for pool, name, spec in everything:
        if (pool, name) in known:
            continue
        qualified = pools_of_name[name] > 1
        label = _unique(_label(f"{pool}_{name}" if qualified else name), taken)
        taken.add(label)
        fields, left_out = _expressible(pool, wire_to_config(spec))
        result.append(Generated(label, pool, name, fields, left_out, provider))
    return result


def generate(
    live: LiveWorld,
    config: Configuration,
    state: State,
    pools: Iterable[str],
    language: Language,
    provider: str = DEFAULT_PROVIDER,
) -> str:
    """The blocks (HCL) or the ``nodepools:`` document (YAML) for ``unmanaged`` node pools."""
    found = unmanaged(live, config, state, pools, provider)
    if not found:
        return ""
    if language == "yaml":
        return "nodepools:\n" + "".join(_yaml_block(item) for item in found)
    return "\n".join(hcl_block(item) for item in found)


def label_of(address: str) -> str:
    """The block label of an address (``nodepool.gpu[\"a\"]`` → ``gpu``)."""
    try:
        return parse_address(address)[0]
    except ValueError:
        return address


def _label(text: str) -> str:
    """A block label made from a name: invalid characters become ``_``."""
    label = re.sub(r"[^A-Za-z0-9_-]", "_", text)
    return label if LABEL.fullmatch(label) else f"_{label}"


def _unique(label: str, taken: set[str]) -> str:
    candidate, number = label, 2
    while candidate in taken:
        candidate, number = f"{label}_{number}", number + 1
    return candidate


def _expressible(pool: str, live: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The managed fields set live, in the configuration's order, less what its rules refuse."""
    fields = {k: _without_nulls(live[k]) for k in MANAGED_FIELDS if live.get(k) is not None}
    left_out: list[str] = []
    tags = fields.get("tags")
    if isinstance(tags, dict):
        reserved = sorted(k for k in tags if k.startswith(RESERVED_TAG_PREFIXES))
        left_out += [f"tags[{json.dumps(k)}]: reserved by the service" for k in reserved]
        fields["tags"] = {k: v for k, v in tags.items() if k not in reserved}
    while True:
        problem = _first_problem(pool, fields)
        if problem is None:
            return {k: v for k, v in fields.items() if v not in ({}, [])}, tuple(left_out)
        path, message = problem
        left_out.append(f"{format_path(path)}: {message}")
        _drop(fields, path)


def _first_problem(pool: str, fields: dict[str, Any]) -> tuple[FieldPath, str] | None:
    """What validating these fields as a block would refuse first (field rules, then the rules
    across fields)."""
    try:
        spec = NodePoolSpec.model_validate({"pool": pool, **fields})
    except ValidationError as exc:
        return pydantic_problems(exc.errors(), NodePoolSpec)[0]
    problems = spec.problems()
    return problems[0] if problems else None


def _drop(fields: dict[str, Any], path: FieldPath) -> None:
    """Leave out a map entry (for a map field) or the whole top-level field."""
    field = path[0]
    if len(path) > 1 and field in ("labels", "tags", "extend_params"):
        del fields[field][path[1]]
    else:
        del fields[str(field)]


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value if v is not None]
    return value


# -- HCL -----------------------------------------------------------------------------------


def hcl_block(item: Generated) -> str:
    """``item`` as a ``nodepool`` block, as a user would write it (also how ``np state show``
    prints what was last applied)."""
    attributes = [("provider", item.provider)] if item.provider != DEFAULT_PROVIDER else []
    attributes += [("pool", quote(item.pool))]
    attributes += [("name", quote(item.name))]
    attributes += [(k, _hcl_value(v)) for k, v in item.fields.items() if k not in _BLOCKS]
    lines = [f'nodepool "{item.label}" {{', *_aligned(attributes, "  ")]
    for field in _BLOCKS:
        if field in item.fields:
            inner = [(_hcl_key(k), _hcl_value(v)) for k, v in item.fields[field].items()]
            lines += [f"  {field} {{", *_aligned(inner, "    "), "  }"]
    lines += [f"  # not generated: {what}" for what in item.left_out]
    return "\n".join([*lines, "}", ""])


def _aligned(attributes: list[tuple[str, str]], indent: str) -> list[str]:
    """``name = value`` lines with the ``=`` signs in one column, as ``terraform fmt`` does."""
    width = max((len(name) for name, _ in attributes), default=0)
    return [f"{indent}{name.ljust(width)} = {value}" for name, value in attributes]


def _hcl_value(value: Any) -> str:
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_hcl_value(v) for v in value) + "]"
    inner = ", ".join(f"{_hcl_key(k)} = {_hcl_value(v)}" for k, v in value.items())
    return "{ " + inner + " }" if inner else "{}"


def _hcl_key(key: str) -> str:
    plain = LABEL.fullmatch(key) and key not in _HCL_KEYWORDS
    return key if plain else quote(key)


# -- YAML ----------------------------------------------------------------------------------


def _yaml_block(item: Generated) -> str:
    lines = [f"  {_yaml_key(item.label)}:"]
    if item.provider != DEFAULT_PROVIDER:
        alias, key = parse_provider_address(item.provider)
        written = alias if key is None and alias else item.provider
        lines.append(f"    provider: {_yaml_value(written)}")
    lines.append(f"    pool: {_yaml_value(item.pool)}")
    lines.append(f"    name: {_yaml_value(item.name)}")
    lines += [f"    {field}: {_yaml_value(value)}" for field, value in item.fields.items()]
    lines += [f"    # not generated: {what}" for what in item.left_out]
    return "\n".join([*lines, ""])


def _yaml_value(value: Any) -> str:
    """Flow style throughout: strings always quoted (JSON is YAML), so a value never changes
    type on the way back (``"010"``, ``"yes"``, ``"0o17"`` stay strings)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("${", "$${")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_yaml_key(k)}: {_yaml_value(v)}" for k, v in value.items()) + "}"


def _yaml_key(key: str) -> str:
    return key if _YAML_PLAIN.fullmatch(key) else json.dumps(key, ensure_ascii=False)
