"""Federation outbox refusals (docs/federation.md, "The outbox"): a batch the
gateway refused for good (its error code, e.g. ``duplicate_keys``, and when)
is set aside instead of being sent again at every round, where it used to
block every later batch and the imports behind it. NULL: not refused."""

from bluezone_authority.server.migrations import connection

revision = "006_outbox_refusals"
down_revision = "005_federation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    c = connection()
    have = c.columns("fed_outbox")  # SQLite's PRAGMA or PostgreSQL's catalogue
    for column, kind in (("refused", "TEXT"), ("refused_at", "INTEGER")):
        if column not in have:
            c.execute(f"ALTER TABLE fed_outbox ADD COLUMN {column} {kind}")


def downgrade() -> None:
    raise NotImplementedError("the server's schema only moves forward")
