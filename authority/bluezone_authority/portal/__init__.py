"""The health-authority web portal (``/portal/`` of ``bluezone serve``).

Staff log in with a name and an Argon2id-hashed password, then issue F0 and
F1 verification codes, download sealed declarations and watch a dashboard
of counts; plugins add their own pages, menu links, roles and counters
(:mod:`.extensions`; venue traces come from the QR check-in plugin). It is a thin layer of HTML pages over the same
:class:`bluezone_authority.server.AuthorityServer` methods as the staff API.
See docs/portal.md.
"""

from .app import create_portal_app, mount
from .settings import PortalSettings

__all__ = ["PortalSettings", "create_portal_app", "mount"]
