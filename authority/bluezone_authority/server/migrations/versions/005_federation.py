"""Federation (docs/federation.md): whether the owner of a key agreed to
share it beyond the province, the province it came from when imported
(NULL: this province's own), the federation batch it left in; the outbox of
signed batches waiting for the gateway, and what was imported. (Named step
``core/005_federation`` before Alembic.)"""

from bluezone_authority.server.migrations import connection

revision = "005_federation"
down_revision = "004_rate_windows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    c = connection()
    have = c.columns("exposure_keys")  # SQLite's PRAGMA or PostgreSQL's catalogue
    for column, kind in (("share_beyond", "INTEGER NOT NULL DEFAULT 0"), ("origin", "TEXT"), ("fed_batch", "TEXT")):
        if column not in have:
            c.execute(f"ALTER TABLE exposure_keys ADD COLUMN {column} {kind}")
    c.execute("CREATE INDEX IF NOT EXISTS exposure_keys_to_federate ON exposure_keys(share_beyond, fed_batch)")
    c.execute("""CREATE TABLE IF NOT EXISTS fed_outbox (
        tag TEXT PRIMARY KEY, data BLOB NOT NULL, signature BLOB NOT NULL, key_count INTEGER NOT NULL,
        created_at INTEGER NOT NULL, sent_at INTEGER)""")
    c.execute("""CREATE TABLE IF NOT EXISTS fed_imports (
        tag TEXT PRIMARY KEY, date TEXT NOT NULL, origin TEXT NOT NULL, key_count INTEGER NOT NULL,
        imported_keys INTEGER NOT NULL, result TEXT NOT NULL, at INTEGER NOT NULL,
        seq INTEGER NOT NULL)""")  # the order of imports (several share one second under one clock)
    c.execute("CREATE INDEX IF NOT EXISTS fed_imports_by_date ON fed_imports(date, at)")


def downgrade() -> None:
    raise NotImplementedError("the server's schema only moves forward")
