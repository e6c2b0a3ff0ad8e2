"""Keys can be revised (docs/server.md, "Revisions"): when a key was revised
(to the hour), from which report type, and in which file the revision was
announced. Nothing records which upload or code a key came with: only the
reporting phone's revision token finds its keys. (Named step
``core/003_key_revisions`` before Alembic.)"""

from bluezone_authority.server.migrations import connection

revision = "003_key_revisions"
down_revision = "002_coarse_upload_times"
branch_labels = None
depends_on = None


def upgrade() -> None:
    c = connection()
    # Idempotent like 001 (a database whose version record was lost takes it again unchanged).
    have = c.columns("exposure_keys")
    for column, kind in (("revised_at", "INTEGER"), ("revised_from", "INTEGER"), ("revised_batch", "TEXT")):
        if column not in have:
            c.execute(f"ALTER TABLE exposure_keys ADD COLUMN {column} {kind}")
    c.execute("CREATE INDEX IF NOT EXISTS exposure_keys_revised ON exposure_keys(revised_batch, revised_at)")


def downgrade() -> None:
    raise NotImplementedError("the server's schema only moves forward")
