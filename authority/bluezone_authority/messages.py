"""The authority's message catalogue: the ``bluezone_authority`` gettext domain.

Every text of this distribution -- the portal's pages, the server's error
answers, the ``bluezone authority`` and ``bluezone serve`` commands -- is
written in English with :func:`bluezone.i18n._` and translated through this
domain (``locale/<language>/LC_MESSAGES/bluezone_authority.mo``), searched
after the core's. The built-in plugins return it from
``bluezone_message_catalogues``; it is also registered when this module is
imported, because a server built in code (tests, an embedding program)
answers errors without going through the plugin manager.
"""

from __future__ import annotations

from pathlib import Path

from bluezone.i18n import MessageCatalogue, register_catalogue

DOMAIN = "bluezone_authority"
CATALOGUE = MessageCatalogue(DOMAIN, Path(__file__).parent / "locale")

register_catalogue(CATALOGUE)


def catalogues() -> list[MessageCatalogue]:
    """What the authority's ``bluezone_message_catalogues`` hooks return."""
    return [CATALOGUE]
