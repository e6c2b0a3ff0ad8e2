"""bluezone.textsafe: untrusted text cannot steer the terminal, ordinary text is untouched."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from bluezone.textsafe import is_unsafe_char, safe_terminal_text

DANGEROUS = (
    [chr(c) for c in range(0x00, 0x20)] + ["\x7f"] + [chr(c) for c in range(0x80, 0xA0)]
    + [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff", "\u061c",
       "\u2028", "\u2029", "\u00ad"]
)


def test_every_listed_character_is_escaped_visibly():
    for ch in DANGEROUS:
        out = safe_terminal_text(f"a{ch}b")
        assert ch not in out, repr(ch)
        assert out.startswith("a\\") and out.endswith("b"), out
        assert out.isascii() and out.isprintable()


def test_known_escapes():
    assert safe_terminal_text("\x1b[2J") == "\\x1b[2J"
    assert safe_terminal_text("evil\u202egpj.exe") == "evil\\u202egpj.exe"
    assert safe_terminal_text("a\nb\tc") == "a\\x0ab\\x09c"
    assert safe_terminal_text("\U000e0041") == "\\U000e0041"  # tag character (Cf)


def test_vietnamese_text_is_unchanged_in_both_normal_forms():
    name = "Quán Phở Bà Tư — Đường Lê Lợi, P. Hội Thương, TP. Pleiku 🍜"
    assert safe_terminal_text(name) == name
    decomposed = unicodedata.normalize("NFD", name)
    assert decomposed != name  # really uses combining marks
    assert safe_terminal_text(decomposed) == decomposed


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_output_never_contains_an_unsafe_character(s: str):
    out = safe_terminal_text(s)
    assert not any(is_unsafe_char(c) for c in out)
    out.encode("utf-8")  # raises on a lone surrogate; none may be left
    # Idempotent: escapes are plain ASCII, nothing more to do the second time.
    assert safe_terminal_text(out) == out


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp"))))
def test_safe_text_passes_through_unchanged(s: str):
    assert safe_terminal_text(s) == s


@settings(max_examples=200, deadline=None)
@given(st.text(), st.sampled_from(DANGEROUS), st.text())
def test_an_injected_character_is_always_escaped(before: str, ch: str, after: str):
    out = safe_terminal_text(before + ch + after)
    assert ch not in out
    assert f"{ord(ch):02x}" in out or f"{ord(ch):04x}" in out
