"""Text from other people, made safe to print on a terminal.

Venue names in QR codes, declaration fields and file contents reach our
command-line tools from people we do not trust. Printed raw, an ESC sequence
can repaint or hide lines, move the cursor or set the window title; a bidi
override (U+202E) makes "gpj.exe" read "exe.jpg"; zero-width characters make
two different names look the same. :func:`safe_terminal_text` turns every
such character into a visible escape written in plain ASCII, and leaves
ordinary text — Vietnamese with its combining marks included — exactly as it
was, so every CLI can pass untrusted strings through one function.

CSV files opened in a spreadsheet have a second hazard: a cell that starts
with ``= + - @`` is evaluated as a formula, and a spreadsheet that splits on
``;`` (or ``,``) makes a cell of the text after each one. :func:`csv_cell`
neutralises the same characters and then guards against both.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["csv_cell", "is_unsafe_char", "safe_terminal_text", "FORMULA_TRIGGERS"]

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


def safe_terminal_text(text: object) -> str:
    """``s`` with every control, format, bidi and zero-width character escaped.

    ESC becomes ``\\x1b``, a newline ``\\x0a``, U+202E ``\\u202e`` — visible
    and inert, so a reader sees that the text contained them. Everything else
    (letters of any script, combining accents, emoji, spaces) is unchanged.
    The result is one line; callers add their own line breaks.
    """
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():  # the common case: isprintable() is False for every unsafe category
        return s
    return "".join(_escape(c) if is_unsafe_char(c) else c for c in s)


#: First characters that make a spreadsheet evaluate a cell (CSV injection),
#: with their full-width forms, which some spreadsheets fold.
FORMULA_TRIGGERS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
#: Characters that trigger the guard when a cell *begins* with them.
FORMULA_LEADERS = frozenset("\t\r\n")


def _looks_like_formula(cell: str) -> bool:
    if cell[:1] in FORMULA_LEADERS:
        return True
    for ch in cell:
        if ch.isspace() or is_unsafe_char(ch):
            continue  # spreadsheets skip these before deciding what a cell is
        return ch in FORMULA_TRIGGERS
    return False


#: Where a spreadsheet may start a new cell inside our cell: locales whose
#: decimal mark is a comma (Vietnamese among them) split CSV on ';', and
#: import dialogs often split on ',' and ';' together.
_LIST_SEPARATOR = re.compile(r"([,;])")


def csv_cell(text: object) -> str:
    """A CSV cell that a spreadsheet shows as text: unsafe characters become
    visible escapes, and every piece that a spreadsheet could take for a
    cell — the start, and the text after each ``,`` or ``;`` — whose first
    meaningful character would start a formula (``= + - @``, also after
    spaces, tabs, newlines, zero-width or bidi characters) gets an
    apostrophe in front."""
    raw = text if isinstance(text, str) else str(text)
    pieces = _LIST_SEPARATOR.split(raw)  # text, separator, text, separator, ..., text
    guarded = "".join("'" + p if i % 2 == 0 and p and _looks_like_formula(p) else p for i, p in enumerate(pieces))
    return safe_terminal_text(guarded)
