"""Text from other people, made safe to print on a terminal.

Venue names in QR codes, declaration fields and file contents reach our
command-line tools from people we do not trust. Printed raw, an ESC sequence
can repaint or hide lines, move the cursor or set the window title; a bidi
override (U+202E) makes "gpj.exe" read "exe.jpg"; zero-width characters make
two different names look the same. :func:`safe_terminal_text` turns every
such character into a visible escape written in plain ASCII, and leaves
ordinary text — Vietnamese with its combining marks included — exactly as it
was, so every CLI can pass untrusted strings through one function.
"""

from __future__ import annotations

import unicodedata

__all__ = ["safe_terminal_text", "is_unsafe_char"]

# Control (C0, DEL, C1), format (bidi embeddings/overrides/isolates,
# zero-width space/joiners, BOM, soft hyphen, ...), lone surrogates (they
# cannot even be encoded to the terminal) and the Unicode line/paragraph
# separators, which some terminals treat as a new line.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def is_unsafe_char(ch: str) -> bool:
    """True if printing ``ch`` could change how the terminal shows other text."""
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES


def _escape(ch: str) -> str:
    cp = ord(ch)
    if cp < 0x100:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def safe_terminal_text(s: str) -> str:
    """``s`` with every control, format, bidi and zero-width character escaped.

    ESC becomes ``\\x1b``, a newline ``\\x0a``, U+202E ``\\u202e`` — visible
    and inert, so a reader sees that the text contained them. Everything else
    (letters of any script, combining accents, emoji, spaces) is unchanged.
    The result is one line; callers add their own line breaks.
    """
    if s.isprintable() and not any(is_unsafe_char(c) for c in s):
        return s
    return "".join(_escape(c) if is_unsafe_char(c) else c for c in s)
