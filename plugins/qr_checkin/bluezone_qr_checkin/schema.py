"""Where the tables this plugin owns on the authority server are defined:
a folder of Alembic revisions on the branch ``qr_checkin`` (its ids begin
with ``qr_checkin_``).

The core never creates them: the server applies them once, through
``bluezone_server_migrations``, in the same transaction as its own. Never
edit or rename a released revision; add one.
"""

from __future__ import annotations

from pathlib import Path

OWNER = "qr_checkin"
SERVER_MIGRATIONS = Path(__file__).parent / "server_migrations"
