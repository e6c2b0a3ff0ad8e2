"""One message catalogue for every text a person reads.

Every user-facing string of Bluezone -- the phone's commands, alerts, the
authority's portal and the server's error answers -- is written in English
in the code, marked with :func:`_` (or :func:`N_` where it must stay a plain
string until shown), and translated through standard gettext catalogues
(``.po`` files edited by translators, compiled to ``.mo`` with Babel). The
core's catalogue is the ``bluezone`` domain in ``bluezone/i18n/locale``;
each plugin ships its own domain and adds it through the
``bluezone_message_catalogues`` hook, so a lookup searches the core first
and then every active plugin: one catalogue, extended by plugins.

Which languages a text is shown in comes from the deployment file
(``[deployment] languages``): a person's own output (alerts, ``status``)
uses the language chosen at ``init``; a message with no person behind it
(a configuration error, a server refusal) is shown in every deployment
language, joined by " / ". A language needs a catalogue for it; English,
the language the code is written in, needs none.

Translators can try a catalogue without reinstalling: every folder in
``$BLUEZONE_LOCALE_DIRS`` (separated by ``os.pathsep``) is searched before
the installed ones. The pseudo-locale test uses this to prove that every
string goes through the catalogue (see :mod:`bluezone.i18n.pseudo`).
"""

from __future__ import annotations

import contextlib
import contextvars
import gettext as _gettext
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CORE_DOMAIN", "DEFAULT_LANGUAGES", "ENV_LOCALE_DIRS", "SOURCE_LANGUAGE", "Message", "MessageCatalogue",
    "N_", "_", "_n", "active_languages", "available_languages", "gettext", "ngettext", "register_catalogue",
    "registered_catalogues", "render", "set_default_languages", "text", "use_languages",
]

#: The language the code's msgids are written in: it needs no catalogue.
SOURCE_LANGUAGE = "en"
#: The core's gettext domain.
CORE_DOMAIN = "bluezone"
#: Used until a deployment file says otherwise (Vietnam's two).
DEFAULT_LANGUAGES: tuple[str, ...] = ("vi", "en")
#: Extra catalogue folders searched first (for translators and the pseudo-locale test).
ENV_LOCALE_DIRS = "BLUEZONE_LOCALE_DIRS"
#: What joins one message's languages on one line.
SEPARATOR = " / "

LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class MessageCatalogue:
    """Where one gettext domain's compiled catalogues live:
    ``localedir/<language>/LC_MESSAGES/<domain>.mo``."""

    domain: str
    localedir: Path

    def languages(self) -> set[str]:
        """The languages this domain has a compiled catalogue for."""
        if not self.localedir.is_dir():
            return set()
        return {p.name for p in self.localedir.iterdir() if (p / "LC_MESSAGES" / f"{self.domain}.mo").is_file()}


_CORE = MessageCatalogue(CORE_DOMAIN, Path(__file__).parent / "locale")
_catalogues: list[MessageCatalogue] = [_CORE]
_lock = threading.Lock()
_translations: dict[tuple[str, tuple[str, ...], tuple[MessageCatalogue, ...]], _gettext.NullTranslations] = {}
_default_languages: tuple[str, ...] = DEFAULT_LANGUAGES
_active: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar("bluezone_languages", default=None)


def register_catalogue(catalogue: MessageCatalogue) -> None:
    """Add a plugin's domain to the catalogue (searched after the core and
    the domains registered before it). Registering the same one twice is a
    no-op. :func:`bluezone.plugins.plugin_set` calls this for every domain
    an active plugin returns from ``bluezone_message_catalogues``."""
    with _lock:
        if catalogue not in _catalogues:
            _catalogues.append(catalogue)
            _translations.clear()


def registered_catalogues() -> tuple[MessageCatalogue, ...]:
    """Every registered domain, core first."""
    return tuple(_catalogues)


def _extra_dirs() -> tuple[str, ...]:
    return tuple(d for d in os.environ.get(ENV_LOCALE_DIRS, "").split(os.pathsep) if d)


def _translation(language: str) -> _gettext.NullTranslations:
    """The chain for one language: extra folders, then each domain in order."""
    extra = _extra_dirs()
    key = (language, extra, tuple(_catalogues))
    found = _translations.get(key)
    if found is not None:
        return found
    chain: _gettext.NullTranslations = _gettext.NullTranslations()
    links: list[_gettext.NullTranslations] = []
    for catalogue in _catalogues:
        for localedir in (*extra, str(catalogue.localedir)):
            try:
                links.append(_gettext.translation(catalogue.domain, localedir, languages=[language]))
            except OSError:
                continue
    if links:
        chain = links[0]
        for link in links[1:]:
            chain.add_fallback(link)
    with _lock:
        _translations[key] = chain
    return chain


def available_languages() -> set[str]:
    """Languages some registered domain (or an extra folder) has a catalogue
    for, plus the source language."""
    found = {SOURCE_LANGUAGE}
    for catalogue in _catalogues:
        found |= catalogue.languages()
        for extra in _extra_dirs():
            found |= MessageCatalogue(catalogue.domain, Path(extra)).languages()
    return found


def gettext(msgid: str, language: str) -> str:
    """``msgid`` in ``language`` (the msgid itself when no catalogue has it)."""
    if language == SOURCE_LANGUAGE and not _extra_dirs():
        return msgid
    return _translation(language).gettext(msgid)


def ngettext(singular: str, plural: str, n: int, language: str) -> str:
    if language == SOURCE_LANGUAGE and not _extra_dirs():
        return singular if n == 1 else plural
    return _translation(language).ngettext(singular, plural, n)


class _Fields(dict[str, Any]):
    """Format fields; a field that is itself a Message is shown in the same language."""

    def __init__(self, fields: Mapping[str, Any], language: str) -> None:
        super().__init__(fields)
        self.language = language

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        return value.text(self.language) if isinstance(value, Message) else value


@dataclass(frozen=True)
class Message:
    """A text to be shown, not yet in any language.

    ``str()`` renders it in the active languages (see :func:`render`), so a
    Message can be raised inside an exception, passed to ``click.echo`` or
    put in a JSON answer and is translated when it is finally shown."""

    msgid: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    plural: str | None = None
    n: int | None = None

    def text(self, language: str) -> str:
        """This message in one language, with its fields filled in."""
        if self.plural is not None and self.n is not None:
            template = ngettext(self.msgid, self.plural, self.n, language)
        else:
            template = gettext(self.msgid, language)
        if not self.fields:
            return template
        try:
            return template.format_map(_Fields(self.fields, language))
        except (KeyError, IndexError, ValueError):
            # A broken translation must not hide the message: fall back to English.
            return self.msgid.format_map(_Fields(self.fields, language))

    def texts(self, languages: Iterable[str] | None = None) -> dict[str, str]:
        """``{language: text}`` for each language (default: the active ones)."""
        return {lang: self.text(lang) for lang in (active_languages() if languages is None else languages)}

    def __str__(self) -> str:
        return render(self)

    def __add__(self, other: object) -> str:
        return str(self) + str(other)

    def __radd__(self, other: object) -> str:
        return str(other) + str(self)


def _(msgid: str, /, **fields: Any) -> Message:
    """Mark ``msgid`` (English, ``str.format`` fields) for translation."""
    return Message(msgid, fields)


def _n(singular: str, plural: str, n: int, /, **fields: Any) -> Message:
    """A message whose wording depends on a count (``n`` is also a field)."""
    return Message(singular, {"n": n, **fields}, plural, n)


def N_(msgid: str) -> str:
    """Mark a constant for extraction only; translate it later with :func:`text`."""
    return msgid


def text(message: Message | str, language: str | None = None) -> str:
    """One language's text of a Message or of a msgid marked with :func:`N_`
    (default: the first active language)."""
    language = language or active_languages()[0]
    if isinstance(message, Message):
        return message.text(language)
    return gettext(message, language)


def render(message: Message | str, languages: Iterable[str] | None = None, sep: str = SEPARATOR) -> str:
    """A message in each language, joined by ``sep``; languages whose text is
    the same are shown once (a message no catalogue translates stays one line)."""
    langs = tuple(active_languages() if languages is None else languages)
    seen: list[str] = []
    for lang in langs:
        shown = text(message, lang)
        if shown not in seen:
            seen.append(shown)
    return sep.join(seen)


def active_languages() -> tuple[str, ...]:
    """The languages texts are shown in here: a :func:`use_languages` block's,
    else the deployment's (:func:`set_default_languages`)."""
    return _active.get() or _default_languages


def set_default_languages(languages: Iterable[str]) -> None:
    """The process's languages, from the deployment file (the CLI calls this
    once it knows the file)."""
    global _default_languages
    langs = tuple(languages)
    if langs:
        _default_languages = langs


@contextlib.contextmanager
def use_languages(*languages: str) -> Iterator[None]:
    """Show texts in these languages inside the block (one person's language,
    or the languages a request asked for)."""
    token = _active.set(tuple(languages) or None)
    try:
        yield
    finally:
        _active.reset(token)
