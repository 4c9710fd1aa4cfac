"""Writing text as HCL reads it back: how a character is written inside a quoted string.

quote('cost ${x} "a"')   # -> '"cost $${x} \\"a\\""'
"""

from __future__ import annotations

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escaped(char: str) -> str:
    """``char`` as written inside an HCL quoted string (control characters as ``\\uXXXX``)."""
    if char in _ESCAPES:
        return _ESCAPES[char]
    if ord(char) < 0x20 or ord(char) == 0x7F:
        return f"\\u{ord(char):04x}"
    return char


def quote(text: str) -> str:
    """A quoted HCL string that means exactly ``text``: no interpolation, no directive."""
    inner = "".join(escaped(char) for char in text)
    return '"' + inner.replace("${", "$${").replace("%{", "%%{") + '"'
