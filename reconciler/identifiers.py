"""The names np reads from files and writes into requests, with the one grammar of each:
node-pool addresses, provider addresses, and the names that become a segment of an API path.

    address("gpu", "a100")                   # -> 'nodepool.gpu["a100"]'
    parse_address('nodepool.gpu["a100"]')    # -> ("gpu", "a100"); nodepool.gpu[a100] too
    provider_address("region", "cn-north-4") # -> 'modelarts.region["cn-north-4"]'
    parse_provider_address("modelarts.hk")   # -> ("hk", None); "modelarts" -> (None, None)
    segment_problem("..")                    # -> 'is "." or "..", which a URL would collapse'

Configuration, state, journal, saved plans, ``np import`` and ``np state mv`` all read names
through here, so a name that passes in one place passes in all of them, and ``.``/``..``
never become path segments (httpx would collapse ``/pools/x/nodepools/..`` into the pool).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from reconciler.errors import shown

LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
"""What a block label may be (so that it reads as a name in an address)."""
_ADDRESS = re.compile(
    rf"nodepool\.(?P<label>{LABEL.pattern})"
    r'(?:\[(?:(?P<quoted>"(?:[^"\\]|\\.)*")|(?P<bare>[A-Za-z0-9_.-]+))\])?'
)
ADDRESS_SHAPE = 'nodepool.NAME or nodepool.NAME["KEY"]'

DEFAULT_PROVIDER = "modelarts"
"""The address of the provider block without an alias: what every node pool uses unless its
block names another, and what a state entry without ``provider`` was written with."""
ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What a provider alias may be: a name that also reads as part of an environment variable
(``NP_ENDPOINT_<ALIAS>``), so no ``-``."""
_PROVIDER_ADDRESS = re.compile(
    rf"{DEFAULT_PROVIDER}(?:\.(?P<alias>{ALIAS.pattern})"
    r'(?:\[(?:(?P<quoted>"(?:[^"\\]|\\.)*")|(?P<bare>[A-Za-z0-9_.-]+))\])?)?'
)
PROVIDER_SHAPE = 'modelarts, modelarts.ALIAS or modelarts.ALIAS["KEY"]'

_SEGMENT = re.compile(r"[A-Za-z0-9._-]{1,128}")
SEGMENT_RULE = "1-128 letters, digits, '.', '_' or '-'"


def address(label: str, key: str | None = None) -> str:
    """The address of a block, or of one instance of a ``for_each`` block."""
    if key is None:
        return f"nodepool.{label}"
    # Unprintable characters as JSON escapes: an address is printed everywhere, and reads
    # back (parse_address) as the same key.
    return f"nodepool.{label}[{shown(json.dumps(key, ensure_ascii=False), None)}]"


def parse_address(text: str) -> tuple[str, str | None]:
    """``(label, key)`` of an address; ValueError naming the expected shape otherwise.

    A key may be written unquoted when it is a plain word (``nodepool.gpu[a100]``): that is
    what a shell leaves of ``nodepool.gpu["a100"]`` typed without quotes around it."""
    match = _ADDRESS.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{shown(text, 80)!r} is not a node pool address ({ADDRESS_SHAPE})")
    quoted = match["quoted"]
    try:
        key = match["bare"] if quoted is None else json.loads(quoted)
    except ValueError:
        raise ValueError(f"{shown(text, 80)!r}: the key is not a valid quoted string") from None
    return match["label"], key


@lru_cache(maxsize=1024)  # a fleet names a few providers, once per node pool (and state entry)
def provider_address(alias: str | None = None, key: str | None = None) -> str:
    """The address of a provider: ``modelarts``, ``modelarts.hk``, or one instance of a
    ``for_each`` provider, ``modelarts.region["cn-north-4"]``."""
    if alias is None:
        return DEFAULT_PROVIDER
    if key is None:
        return f"{DEFAULT_PROVIDER}.{alias}"
    return f"{DEFAULT_PROVIDER}.{alias}[{shown(json.dumps(key, ensure_ascii=False), None)}]"


def parse_provider_address(text: str) -> tuple[str | None, str | None]:
    """``(alias, key)`` of a provider address (``(None, None)`` for the default provider);
    ValueError naming the expected shape otherwise. As with node-pool addresses, a plain-word
    key may be written unquoted (``modelarts.region[cn-north-4]``)."""
    match = _PROVIDER_ADDRESS.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{shown(text, 80)!r} is not a provider address ({PROVIDER_SHAPE})")
    quoted = match["quoted"]
    try:
        key = match["bare"] if quoted is None else json.loads(quoted)
    except ValueError:
        raise ValueError(f"{shown(text, 80)!r}: the key is not a valid quoted string") from None
    return match["alias"], key


@lru_cache(maxsize=1024)
def canonical_provider(text: str) -> str:
    """A provider address in its one written form."""
    return provider_address(*parse_provider_address(text))


def canonical_address(text: str) -> str:
    """An address in its one written form (``nodepool.gpu[a]`` → ``nodepool.gpu["a"]``)."""
    return address(*parse_address(text))


def segment_problem(name: object) -> str | None:
    """Why ``name`` cannot be a pool, node-pool, project or workspace name in an API path
    (None when it can). Looser than the rule for new node pools: live names such as
    ``Default_NP`` or ``pool-dev-default`` exist and must be readable."""
    if not isinstance(name, str):
        return "must be a string"
    if name in (".", ".."):
        return f'is "{name}", which a URL would collapse'
    if not _SEGMENT.fullmatch(name):
        return f"{shown(name, 80)!r} is not a valid name ({SEGMENT_RULE})"
    return None
