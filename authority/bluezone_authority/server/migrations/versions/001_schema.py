"""The tables as they were before the schema had versions.

Every statement is idempotent, so a database made before any ledger existed
takes this revision unchanged. (Named step ``core/001_schema`` before
Alembic; never edit a released revision, add one.)
"""

from bluezone_authority.server import declaration_quota
from bluezone_authority.server.migrations import connection

revision = "001_schema"
down_revision = None
branch_labels = ("core",)
depends_on = None

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS staff_tokens (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
        token_hash BLOB NOT NULL UNIQUE, created_at INTEGER NOT NULL, revoked_at INTEGER)""",
    """CREATE TABLE IF NOT EXISTS codes (
        id TEXT PRIMARY KEY, code_hash BLOB NOT NULL UNIQUE, kind TEXT NOT NULL,
        report_type INTEGER NOT NULL, symptom_onset_interval INTEGER, test_date_interval INTEGER,
        created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
        state TEXT NOT NULL, token_hash BLOB UNIQUE, token_expires_at INTEGER,
        certified_at INTEGER, used_at INTEGER, issued_by TEXT)""",
    """CREATE TABLE IF NOT EXISTS exposure_keys (
        key_data BLOB PRIMARY KEY, rolling_start INTEGER NOT NULL, rolling_period INTEGER NOT NULL,
        transmission_risk INTEGER NOT NULL, report_type INTEGER NOT NULL, dsos INTEGER,
        created_at INTEGER NOT NULL, available_at INTEGER NOT NULL, batch TEXT)""",
    "CREATE INDEX IF NOT EXISTS exposure_keys_pending ON exposure_keys(batch, available_at)",
    """CREATE TABLE IF NOT EXISTS batches (
        feed TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL,
        start_ts INTEGER NOT NULL, end_ts INTEGER NOT NULL, created_at INTEGER NOT NULL,
        real_items INTEGER NOT NULL, data BLOB NOT NULL, sha256 TEXT NOT NULL,
        PRIMARY KEY (feed, seq), UNIQUE (feed, name))""",
    """CREATE TABLE IF NOT EXISTS one_time_tokens (
        token_hash BLOB PRIMARY KEY, purpose TEXT NOT NULL, meta TEXT NOT NULL,
        created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER, issued_by TEXT)""",
    """CREATE TABLE IF NOT EXISTS declarations (
        id TEXT PRIMARY KEY, sealed BLOB NOT NULL, received_hour INTEGER NOT NULL,
        form TEXT NOT NULL DEFAULT '')""",
    # keyset pagination of declarations (staff API, portal download) in reception order
    "CREATE INDEX IF NOT EXISTS declarations_order ON declarations(received_hour, id)",
    """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
]


def upgrade() -> None:
    c = connection()
    for stmt in SCHEMA:
        c.execute(stmt)
    declaration_quota.migrate(c)  # type: ignore[arg-type]  # the same execute(), in either dialect


def downgrade() -> None:
    raise NotImplementedError("the server's schema only moves forward")
