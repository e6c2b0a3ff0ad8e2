"""The gateway's first schema: registered provinces, stored batches (as
uploaded, with their audit fields) and one digest per stored key. Written
with ``IF NOT EXISTS`` because gateways from before Alembic created exactly
these tables at every start: such a database is adopted as it is, rows and
all, and only gains the version table."""

from bluezone_authority.server.migrations import connection

revision = "001_gateway_schema"
down_revision = None
branch_labels = ("gateway",)
depends_on = None


def upgrade() -> None:
    c = connection()
    c.execute("""CREATE TABLE IF NOT EXISTS provinces (
        code TEXT PRIMARY KEY, signing_key_pem TEXT NOT NULL, added_at INTEGER NOT NULL)""")
    # seq: the order of uploads, which downloads follow (an identity column on PostgreSQL)
    c.execute("""CREATE TABLE IF NOT EXISTS batches (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, tag TEXT NOT NULL UNIQUE, date TEXT NOT NULL,
        origin TEXT NOT NULL, uploader TEXT NOT NULL, uploaded_at INTEGER NOT NULL,
        key_count INTEGER NOT NULL, data BLOB NOT NULL, signature BLOB NOT NULL, sha256 TEXT NOT NULL)""")
    c.execute("CREATE INDEX IF NOT EXISTS batches_by_date ON batches(date, seq)")
    # one row per stored key: its digest (the primary key: a key is stored once) and its batch
    c.execute("""CREATE TABLE IF NOT EXISTS batch_keys (
        key_sha256 BLOB PRIMARY KEY, batch_seq INTEGER NOT NULL REFERENCES batches(seq))""")
    c.execute("CREATE INDEX IF NOT EXISTS batch_keys_by_batch ON batch_keys(batch_seq)")


def downgrade() -> None:
    raise NotImplementedError("the gateway's schema only moves forward")
