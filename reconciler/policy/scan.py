"""What np reads out of a policy before rego-cpp sees it: its package, its rule heads, the
builtins it must not call and the parts of the input it can read.

    tokens = tokenize(text)
    package_path(tokens)          # ["np", "flavors"]
    rule_heads(tokens, {"deny"})  # [Head(name="deny", token=...)]
    forbidden_calls(tokens)       # [(7, "opa.runtime")]
    input_paths(tokens)           # {("resource_changes",), ("workspace",)}
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from reconciler.policy.lexer import Token

# Builtins that reach outside the process in OPA or rego-cpp. rego-cpp 1.5 implements
# opa.runtime (it returns the whole process environment); http.send, net.* and
# providers.aws.sign_req are placeholders there that fail, but OPA and conftest run them, and
# a policy np accepts must not reach out when the same file runs elsewhere.
_FORBIDDEN_NAMESPACES = {
    "opa": {"runtime"},
    "http": {"send"},
    "net": {
        "cidr_contains",
        "cidr_contains_matches",
        "cidr_expand",
        "cidr_intersects",
        "cidr_is_valid",
        "cidr_merge",
        "cidr_overlap",
        "lookup_ip_addr",
    },
}
_FORBIDDEN_EXACT = {("providers", "aws", "sign_req")}
_WHY = {
    "opa": "reads the process environment",
    "http": "sends requests over the network",
    "net": "net.* builtins are refused (net.lookup_ip_addr resolves names over the network)",
    "providers": "signs requests with credentials",
}

# Tokens after which a name at the start of a statement is a rule head being defined.
_HEAD_FOLLOWERS = {"contains", "[", "if", "{", ":=", "=", "."}
RESERVED_PREFIX = "np__"


@dataclass(frozen=True, slots=True)
class Head:
    """A top-level rule head: the token holding the rule's name."""

    name: str
    token: Token


def package_path(tokens: list[Token]) -> list[str] | None:
    """``package np.flavors`` → ``["np", "flavors"]``; None without a (readable) package."""
    significant = [t for t in tokens if t.kind != "newline"]
    for i, tok in enumerate(significant):
        if tok.kind == "ident" and tok.text == "package":
            return _ref_after(significant, i + 1)
    return None


def _ref_after(tokens: list[Token], i: int) -> list[str] | None:
    parts: list[str] = []
    if i >= len(tokens) or tokens[i].kind != "ident":
        return None
    parts.append(tokens[i].text)
    i += 1
    while i < len(tokens):
        tok = tokens[i]
        if tok.text == "." and i + 1 < len(tokens) and tokens[i + 1].kind == "ident":
            parts.append(tokens[i + 1].text)
            i += 2
        elif (
            tok.text == "["
            and i + 2 < len(tokens)
            and tokens[i + 1].kind == "string"
            and tokens[i + 2].text == "]"
        ):
            parts.append(tokens[i + 1].text)
            i += 3
        else:
            break
    return parts


def statement_starts(tokens: list[Token]) -> Iterator[int]:
    """Indexes of the first token of each top-level statement (depth 0, after a newline)."""
    depth = 0
    at_start = True
    for i, tok in enumerate(tokens):
        if tok.in_template:
            continue
        if tok.kind == "newline":
            at_start = at_start or depth == 0
            continue
        if at_start and depth == 0:
            yield i
        at_start = False
        if tok.kind == "punct":
            if tok.text in ("(", "[", "{"):
                depth += 1
            elif tok.text in (")", "]", "}"):
                depth = max(0, depth - 1)


def rule_heads(tokens: list[Token], names: Collection[str] | None = None) -> list[Head]:
    """The heads of top-level rules named in ``names`` (every rule when None), including
    ``default name := ...``. ``names`` may end in ``*`` to match a prefix (``test_*``)."""
    heads: list[Head] = []
    for i in statement_starts(tokens):
        j = i
        if tokens[j].kind == "ident" and tokens[j].text == "default":
            j += 1
        if j >= len(tokens) or tokens[j].kind != "ident":
            continue
        name = tokens[j].text
        if name in ("package", "import", "default", "else", "if", "some", "every", "not"):
            continue
        follower = _next_significant(tokens, j + 1)
        if follower is None or follower.text not in _HEAD_FOLLOWERS:
            continue
        if names is None or _matches(name, names):
            heads.append(Head(name, tokens[j]))
    return heads


def _matches(name: str, names: Collection[str]) -> bool:
    return any(name.startswith(n[:-1]) if n.endswith("*") else name == n for n in names)


def _next_significant(tokens: list[Token], i: int) -> Token | None:
    while i < len(tokens):
        if tokens[i].kind != "newline":
            return tokens[i]
        i += 1
    return None


def _previous_significant(tokens: list[Token], i: int) -> Token | None:
    while i > 0:
        i -= 1
        if tokens[i].kind != "newline":
            return tokens[i]
    return None


def forbidden_calls(tokens: list[Token]) -> list[tuple[int, str, str]]:
    """``(line, name, why)`` for each use of a builtin that reaches outside the process.

    ``opa.X``, ``http.X`` and ``net.X`` are refused when X is one of those builtins or the
    reference is called (``net.anything(...)``), so a local variable named ``net`` with a
    field (``net.vpc``) is still allowed."""
    found: list[tuple[int, str, str]] = []
    significant = [t for t in tokens if t.kind != "newline"]
    for i, tok in enumerate(significant):
        if tok.kind != "ident" or i + 1 >= len(significant):
            continue
        before = significant[i - 1] if i else None
        if before is not None and before.text == ".":
            continue  # a field (input.net.x), not a root
        ref = _ref_after(significant, i) or []
        end = i + _ref_length(significant, i)
        called = end < len(significant) and significant[end].text == "("
        if tok.text in _FORBIDDEN_NAMESPACES and len(ref) >= 2:
            if ref[1] in _FORBIDDEN_NAMESPACES[tok.text] or called:
                found.append((tok.line, ".".join(ref[:2]), _WHY[tok.text]))
        elif tuple(ref[:3]) in _FORBIDDEN_EXACT:
            found.append((tok.line, ".".join(ref[:3]), _WHY[ref[0]]))
    return found


def _ref_length(tokens: list[Token], i: int) -> int:
    """How many tokens the static reference starting at ``i`` spans."""
    j = i + 1
    while j < len(tokens):
        if tokens[j].text == "." and j + 1 < len(tokens) and tokens[j + 1].kind == "ident":
            j += 2
        elif (
            tokens[j].text == "["
            and j + 2 < len(tokens)
            and tokens[j + 1].kind == "string"
            and tokens[j + 2].text == "]"
        ):
            j += 3
        else:
            break
    return j - i


def reserved_names(tokens: list[Token]) -> list[tuple[int, str]]:
    """Identifiers np keeps for itself (``np__...``, the renamed rule heads)."""
    return [
        (t.line, t.text) for t in tokens if t.kind == "ident" and t.text.startswith(RESERVED_PREFIX)
    ]


Path = tuple[str, ...]


def input_paths(tokens: list[Token]) -> set[Path]:
    """Every part of ``input`` the module can read, as the static prefix of each reference.

    ``input.resource_changes[_].after`` → ``("resource_changes",)``: everything under it is
    readable. A bare ``input`` (``x := input``, ``input[k]``, ``walk(input)``) → ``()``: the
    whole document. A key no reference names cannot influence the module, which is what lets np
    hand rego-cpp only the named parts of a large input."""
    paths: set[Path] = set()
    significant = [t for t in tokens if t.kind != "newline"]
    for i, tok in enumerate(significant):
        if tok.kind != "ident" or tok.text != "input":
            continue
        before = _previous_significant(significant, i)
        if before is not None and before.text == ".":
            continue  # a field named input (x.input), not the input document
        paths.add(tuple(_ref_after(significant, i) or ["input"])[1:])
    return paths
