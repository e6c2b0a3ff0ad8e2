"""A pseudo-locale: every translated text is visibly marked.

``qps`` (the tag Windows uses for its pseudo-locales) turns each msgid
into ``⟦Ŧĥíś ŵàý⟧``: letters accented, braces kept, the whole wrapped in
brackets. Shown in that language, any text that is *not* bracketed did not
go through the catalogue -- the pseudo-locale tests run the client, the
portal and the server in it and look for such text. A translator can also
use it to see where a translation will appear and how much room it needs.

:func:`write_pseudo_catalogues` builds it from the domains' templates
(``.pot``), so it always covers every msgid that extraction finds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

PSEUDO_LANGUAGE = "qps"
OPEN, CLOSE = "⟦", "⟧"

_ACCENTS = str.maketrans(
    "abcdeghiklnorstuwyzABCDEGHIKLNORSTUWYZ",
    "àƀçđéĝĥíķĺñóŕśŧúŵýžÀƁÇĐÉĜĤÍĶĹÑÓŔŚŦÚŴÝŽ",
)
_FIELD = re.compile(r"(\{[^{}]*\})")
_BRACKETED = re.compile(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")
_WORD = re.compile(r"[A-Za-z]{3,}")


def pseudo(msgid: str) -> str:
    """The pseudo-translation of one msgid: accents outside ``{fields}``."""
    parts = _FIELD.split(msgid)
    return OPEN + "".join(p if _FIELD.fullmatch(p) else p.translate(_ACCENTS) for p in parts) + CLOSE


def write_pseudo_catalogues(templates: Iterable[tuple[str, Path]], localedir: Path) -> Path:
    """Compile a ``qps`` catalogue per ``(domain, template.pot)`` into
    ``localedir`` and return it (point ``$BLUEZONE_LOCALE_DIRS`` at it)."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for domain, template in templates:
        with open(template, "rb") as f:
            source = read_po(f)
        catalog = Catalog(locale=None, domain=domain)
        for message in source:
            if not message.id:
                continue
            if isinstance(message.id, tuple):
                catalog.add(message.id, tuple(pseudo(i) for i in message.id))
            else:
                catalog.add(message.id, pseudo(str(message.id)))
        out = localedir / PSEUDO_LANGUAGE / "LC_MESSAGES"
        out.mkdir(parents=True, exist_ok=True)
        with open(out / f"{domain}.mo", "wb") as f:
            write_mo(f, catalog)
    return localedir


def untranslated(shown: str, allowed: Iterable[str] = ()) -> list[str]:
    """English words left in text shown in the pseudo-locale: what remains
    after removing the bracketed (translated) spans and the ``allowed``
    values (paths, names and numbers the test itself put in)."""
    rest = shown
    for value in sorted(allowed, key=len, reverse=True):
        if value:
            rest = rest.replace(value, " ")
    previous = None
    while previous != rest:  # a translated field inside a translated text nests brackets
        previous, rest = rest, _BRACKETED.sub(" ", rest)
    return _WORD.findall(rest)
