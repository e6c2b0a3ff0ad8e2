"""Upload times to the hour and spent codes unlinked (docs/privacy.md), for
databases written before uploads were stored that way. (Named step
``core/002_coarse_upload_times`` before Alembic.)"""

from bluezone_authority.server.codes import scrub_used
from bluezone_authority.server.migrations import connection

revision = "002_coarse_upload_times"
down_revision = "001_schema"
branch_labels = None
depends_on = None


def upgrade() -> None:
    c = connection()
    c.execute("UPDATE exposure_keys SET created_at = created_at / 3600 * 3600")
    scrub_used(c)


def downgrade() -> None:
    raise NotImplementedError("the server's schema only moves forward")
