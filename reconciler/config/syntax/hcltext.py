"""Writing text as HCL reads it back: how a character is written inside a quoted string.

quote('cost ${x} "a"')   # -> '"cost $${x} \\"a\\""'
"""

from __future__ import annotations

import unicodedata

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escaped(char: str) -> str:
    """``char`` as written inside an HCL quoted string (control, format and separator
    characters as ``\\uXXXX``: a bidi override written raw would hide what a line says)."""
    if char in _ESCAPES:
        return _ESCAPES[char]
    if not char.isprintable() and unicodedata.category(char) in _UNPRINTABLE:
        code = ord(char)
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return char


_UNPRINTABLE = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}


def quote(text: str) -> str:
    """A quoted HCL string that means exactly ``text``: no interpolation, no directive."""
    inner = "".join(escaped(char) for char in text)
    return '"' + inner.replace("${", "$${").replace("%{", "%%{") + '"'
