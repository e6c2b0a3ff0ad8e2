"""The paper log of venue visits (sealed entries kept for the retention
window). Named step ``qr_checkin/001_venue_paper_log`` before the server
moved to Alembic: a database that recorded it is stamped at this revision.
Never edit a released revision; add one."""

revision = "qr_checkin_001_venue_paper_log"
down_revision = None
branch_labels = ("qr_checkin",)
depends_on = None

# IF NOT EXISTS: servers from before named migrations already made this table ad hoc.
PAPER_LOG = """CREATE TABLE IF NOT EXISTS venue_paper_log (
    trace_id TEXT NOT NULL, received_hour INTEGER NOT NULL, sealed BLOB NOT NULL)"""


def upgrade() -> None:
    from bluezone_authority.server.migrations import connection

    connection().execute(PAPER_LOG)


def downgrade() -> None:
    raise NotImplementedError("the server's schema only moves forward")
