"""The portal's languages: Jinja's i18n extension on the one message catalogue.

Templates write English with ``{{ _("...") }}`` (fields as keywords:
``_("Signed in as {name}", name=user.name)``) or ``{% trans %}...{% endtrans %}``;
``make messages`` extracts them into the ``bluezone_authority`` domain and
translators work in its ``.po`` files like everywhere else. A page is
rendered inside :func:`bluezone.i18n.use_languages` with the request's
language, and the gettext callables installed here read that language, so a
page is in one language while requests in other languages run side by side.

The request's language is the ``bz_lang`` cookie (set by the switch in the
header), else the first of the browser's ``Accept-Language`` the deployment
offers, else ``[portal] default_language`` (by default the deployment's
first language). The switch offers ``[deployment] languages``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import jinja2

from bluezone.i18n import N_, SOURCE_LANGUAGE, Message, text

#: TRANSLATORS: the name of the language you are translating into, written in that
#: language (Vietnamese: "Tiếng Việt"); it is shown in the portal's language switch.
LANGUAGE_NAME = N_("English")


def _gettext(msgid: str, **fields: Any) -> str:
    """A template's ``_()``: the msgid in the page's language, fields filled in."""
    return text(Message(msgid, fields))


def _ngettext(singular: str, plural: str, n: int, **fields: Any) -> str:
    return text(Message(singular, {"n": n, **fields}, plural, n))


def install(env: jinja2.Environment) -> None:
    """Give ``env`` the catalogue's gettext (``_``, ``gettext``, ``ngettext``,
    ``{% trans %}``) and ``tr(msgid)`` for msgids a plugin or the code passes
    in (menu labels, counters, role names: marked with ``N_`` where written)."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True  # as extracted (bluezone.i18n.catalogues)
    env.install_gettext_callables(_gettext, _ngettext, newstyle=False)  # type: ignore[attr-defined]
    env.globals["tr"] = text


def language_name(language: str) -> str:
    """A language's name in itself, from its catalogue (the tag when none names it)."""
    name = text(LANGUAGE_NAME, language)
    return name if name != LANGUAGE_NAME or language == SOURCE_LANGUAGE else language


def role_name(role: str, roles: Mapping[str, Any] | None = None) -> str:
    """A role's label (:class:`bluezone_authority.server.staff.StaffRole`; the core's
    when ``roles`` is not given) in the page's language; an unknown role shows as its name."""
    if roles is None:
        from ..server.staff import CORE_ROLES

        roles = {r.name: r for r in CORE_ROLES}
    known = roles.get(role)
    return text(known.label) if known else role


def _matches(tag: str, languages: Iterable[str]) -> str | None:
    tag = tag.strip().replace("_", "-").lower()
    for language in languages:
        if tag == language.replace("_", "-").lower():
            return language
    primary = tag.split("-")[0]
    for language in languages:
        if primary and primary == language.replace("_", "-").lower().split("-")[0]:
            return language
    return None


def pick_language(cookie: str | None, accept_language: str | None, languages: tuple[str, ...], default: str) -> str:
    """Cookie first, then the first of Accept-Language the deployment offers, then the default."""
    if cookie in languages:
        return cookie
    for part in (accept_language or "").split(","):
        found = _matches(part.split(";")[0], languages)
        if found:
            return found
    return default
