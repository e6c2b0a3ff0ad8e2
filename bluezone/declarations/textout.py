"""Neutralising declaration text before it reaches a terminal or a spreadsheet.

Everything inside a sealed declaration was written by whoever sealed it, and
the declaration key is public: an attacker can put terminal escape
sequences (``ESC [ 2 J``, OSC 8 hyperlinks, C1 ``CSI``), bidi overrides that
reverse a phone number on screen, zero-width characters, lone surrogates
(which make printing itself fail) or spreadsheet formulas into any answer.
The authority's tools therefore pass every piece of such text through one
of the two functions here on its way out:

* :func:`safe_terminal_text` for anything printed to a terminal;
* :func:`csv_cell` for every CSV cell (it applies the same neutralising,
  then the formula guard).

Neutralised characters are shown as visible escapes (``\\x1b``,
``\\u202e``), so staff can see that something odd was sent rather than
having it silently dropped.

(A project-wide ``safe_terminal_text`` is being written elsewhere; this
module is the declarations tools' own copy until the two are merged.)
"""

from __future__ import annotations

import unicodedata

#: Unicode categories never printed as they are: controls (C0, DEL, C1),
#: format characters (bidi overrides and isolates, zero-width space/joiners,
#: BOM, soft hyphen), surrogates, and the line/paragraph separators.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

#: First characters that make a spreadsheet evaluate a cell (OWASP CSV
#: injection), plus their full-width forms which some spreadsheets fold.
FORMULA_TRIGGERS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
#: Characters that trigger the guard when a cell *begins* with them.
FORMULA_LEADERS = frozenset("\t\r\n")


def is_unsafe(ch: str) -> bool:
    """True for a character that must not reach a terminal or spreadsheet raw."""
    return unicodedata.category(ch) in UNSAFE_CATEGORIES


def _escape(ch: str) -> str:
    n = ord(ch)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def safe_terminal_text(text: object) -> str:
    """``text`` as one printable line: every control, format, surrogate or
    line-separator character is replaced by a visible escape."""
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():  # the common case, fast: nothing to replace
        return s
    return "".join(_escape(c) if is_unsafe(c) else c for c in s)


def _looks_like_formula(cell: str) -> bool:
    if cell[:1] in FORMULA_LEADERS:
        return True
    for ch in cell:
        if ch.isspace() or is_unsafe(ch):
            continue  # spreadsheets skip these before deciding what a cell is
        return ch in FORMULA_TRIGGERS
    return False


def csv_cell(text: object) -> str:
    """A CSV cell that a spreadsheet shows as text: unsafe characters become
    visible escapes, and a cell whose first meaningful character would start
    a formula (``= + - @``, also after leading spaces, tabs, newlines,
    zero-width or bidi characters) gets a leading apostrophe."""
    raw = text if isinstance(text, str) else str(text)
    guarded = "'" + raw if raw and _looks_like_formula(raw) else raw
    return safe_terminal_text(guarded)


__all__ = ["csv_cell", "is_unsafe", "safe_terminal_text"]
