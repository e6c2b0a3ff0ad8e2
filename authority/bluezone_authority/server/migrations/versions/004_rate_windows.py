"""Rate limits shared by the server's worker processes (shared_limits.py):
one row per minute, bucket and client, the client only as an HMAC under a
key that is never written down. (Named step ``core/004_rate_windows``
before Alembic.)"""

from bluezone_authority.server.migrations import connection

revision = "004_rate_windows"
down_revision = "003_key_revisions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # "minute", not "window": WINDOW is a reserved word in PostgreSQL
    connection().execute("""CREATE TABLE IF NOT EXISTS rate_windows (
        minute INTEGER NOT NULL, bucket TEXT NOT NULL, client BLOB NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (minute, bucket, client))""")


def downgrade() -> None:
    raise NotImplementedError("the server's schema only moves forward")
