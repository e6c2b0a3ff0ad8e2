"""The tables this plugin owns, as named migrations (owner ``qr_checkin``).

The core never creates them: the server applies them once through
``bluezone_server_migrations`` and records them in ``_migrations``. Never
edit or rename a released step; append a new one.
"""

from __future__ import annotations

from bluezone import Migration

OWNER = "qr_checkin"

# IF NOT EXISTS: servers from before named migrations already made this table ad hoc.
PAPER_LOG = """CREATE TABLE IF NOT EXISTS venue_paper_log (
    trace_id TEXT NOT NULL, received_hour INTEGER NOT NULL, sealed BLOB NOT NULL)"""

SERVER_MIGRATIONS = [Migration(OWNER, "001_venue_paper_log", PAPER_LOG)]
