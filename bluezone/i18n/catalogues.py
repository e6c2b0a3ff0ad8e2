"""Keep a distribution's message catalogue in step with its code (Babel).

Translators edit ``.po`` files; everything else is made here:

- ``extract``: the template (``<domain>.pot``) from every ``_()``, ``_n()``
  and ``N_()`` in the package's Python files and its Jinja templates;
- ``update``: each language's ``.po`` gains the new msgids (untranslated,
  for the translator) and loses the ones the code no longer uses;
- ``compile``: the ``.mo`` files the program reads.

``make messages`` runs all three for every distribution. Tests call
:func:`problems` so that a text added to the code without its Vietnamese
translation, or a stale ``.mo``, fails CI with the msgid named.

Usage: ``python -m bluezone.i18n.catalogues update|check PACKAGE_DIR DOMAIN LOCALEDIR``,
or ``... fill PO_FILE TRANSLATIONS.json`` to set many translations at once.
Needs Babel (in the ``test`` extra); the running program needs only the
standard library's gettext.
"""

from __future__ import annotations

import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Which files hold texts, and how to read them.
METHOD_MAP = [
    ("**/tests/**", "ignore"),
    ("**.py", "python"),
    ("**/templates/**.html", "jinja2"),
]
KEYWORDS = {"_": None, "_n": (1, 2), "N_": None, "gettext": None, "ngettext": (1, 2)}
FIELD = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Distribution:
    """One gettext domain: the package it is extracted from, where its catalogues live."""

    package_dir: Path
    domain: str
    localedir: Path

    @property
    def template(self) -> Path:
        return self.localedir / f"{self.domain}.pot"

    def po(self, language: str) -> Path:
        return self.localedir / language / "LC_MESSAGES" / f"{self.domain}.po"

    def mo(self, language: str) -> Path:
        return self.po(language).with_suffix(".mo")

    def languages(self) -> list[str]:
        if not self.localedir.is_dir():
            return []
        return sorted(p.name for p in self.localedir.iterdir() if self.po(p.name).is_file())


def extract(dist: Distribution) -> Any:
    """The catalogue template the code implies (not written)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    catalog = Catalog(project=dist.domain, domain=dist.domain)
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    for filename, lineno, message, comments, context in extract_from_dir(
            str(dist.package_dir), METHOD_MAP, options_map=options, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",),
            strip_comment_tags=True):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


#: Fixed header dates: a regenerated catalogue differs from the last one only where its texts do.
STABLE_DATE = __import__("datetime").datetime(2026, 12, 6, tzinfo=__import__("datetime").timezone.utc)


def _write_po(catalog: Any, path: Path) -> None:
    from babel.messages.pofile import write_po

    catalog.project, catalog.version = "Bluezone", ""
    catalog.copyright_holder = "Bluezone contributors"
    catalog.msgid_bugs_address = ""
    catalog.creation_date = catalog.revision_date = STABLE_DATE
    catalog.last_translator = "Bluezone translators"
    catalog.fuzzy = False
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, sort_output=True, include_lineno=False, omit_header=False)
    path.write_bytes(buffer.getvalue())


def _read_po(path: Path, language: str | None = None) -> Any:
    from babel.messages.pofile import read_po

    with open(path, "rb") as f:
        return read_po(f, locale=language)


def update(dist: Distribution, languages: list[str] | None = None) -> None:
    """Write the template, merge it into each language's ``.po``, compile."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    template = extract(dist)
    _write_po(template, dist.template)
    for language in languages or dist.languages() or ["vi"]:
        po = dist.po(language)
        catalog = _read_po(po, language) if po.is_file() else Catalog(locale=language, domain=dist.domain)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        _write_po(catalog, po)
        with open(dist.mo(language), "wb") as f:
            write_mo(f, catalog)
        missing = sum(1 for m in catalog if m.id and not m.string)
        print(f"{dist.domain} [{language}]: {len(catalog) - 1} texts, {missing} to translate", file=sys.stderr)


def problems(dist: Distribution, languages: tuple[str, ...] = ("vi",)) -> list[str]:
    """What is wrong between the code and its catalogues, one line each: a
    text not in the ``.po`` or not translated, a translation that drops or
    invents a ``{field}``, a ``.po`` entry the code no longer uses, a
    ``.mo`` that does not say what the ``.po`` says."""
    import gettext

    found: list[str] = []
    template = extract(dist)
    wanted = {m.id for m in template if m.id}
    for language in languages:
        po = dist.po(language)
        if not po.is_file():
            found.append(f"{dist.domain} [{language}]: no catalogue at {po}")
            continue
        catalog = _read_po(po, language)
        have = {m.id: m for m in catalog if m.id}
        for msgid in sorted(wanted, key=str):
            entry = have.get(msgid)
            label = msgid if isinstance(msgid, str) else msgid[0]
            if entry is None:
                found.append(f"{dist.domain} [{language}]: not in the catalogue (run 'make messages'): {label!r}")
            elif not entry.string or (isinstance(entry.string, tuple) and not all(entry.string)) or entry.fuzzy:
                found.append(f"{dist.domain} [{language}]: not translated: {label!r}")
            else:
                sources = msgid if isinstance(msgid, tuple) else (msgid,)
                targets = entry.string if isinstance(entry.string, tuple) else (entry.string,)
                fields = set(FIELD.findall(sources[0]))
                for target in targets:
                    if set(FIELD.findall(target)) != fields:
                        found.append(f"{dist.domain} [{language}]: the fields differ in the translation of {label!r}")
        for msgid in sorted(set(have) - wanted, key=str):
            found.append(f"{dist.domain} [{language}]: no longer used (run 'make messages'): {msgid!r}")
        mo = dist.mo(language)
        if not mo.is_file():
            found.append(f"{dist.domain} [{language}]: not compiled (run 'make messages'): {mo}")
            continue
        with open(mo, "rb") as f:
            compiled = gettext.GNUTranslations(f)
        for msgid, entry in have.items():
            if isinstance(msgid, str) and entry.string and not entry.fuzzy and compiled.gettext(msgid) != entry.string:
                found.append(f"{dist.domain} [{language}]: the .mo is older than the .po (run 'make messages')")
                break
    return found


def fill(po: Path, translations: dict[str, Any]) -> int:
    """Set translations in a ``.po`` from ``{msgid: text or [plural forms]}``
    (a translator's batch, or texts moved from an older table); returns how
    many entries it set. Run ``update`` after it to compile."""
    catalog = _read_po(po)
    count = 0
    for message in catalog:
        key = message.id if isinstance(message.id, str) else message.id[0] if message.id else None
        if key and key in translations:
            value = translations[key]
            message.string = tuple(value) if isinstance(value, list) else value
            message.flags.discard("fuzzy")
            count += 1
    _write_po(catalog, po)
    return count


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "fill":
        import json

        print(fill(Path(argv[1]), json.loads(Path(argv[2]).read_text(encoding="utf-8"))), "set", file=sys.stderr)
        return 0
    if len(argv) != 4 or argv[0] not in ("update", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    dist = Distribution(Path(argv[1]), argv[2], Path(argv[3]))
    if argv[0] == "update":
        update(dist)
        return 0
    listed = problems(dist)
    for line in listed:
        print(line)
    return 1 if listed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
