"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from bluezone_authority.server.migrations import connection

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    c = connection()  # the server's SQL: ? placeholders, INTEGER/TEXT/BLOB columns
    ${upgrades if upgrades else "c.execute('SELECT 1')"}


def downgrade() -> None:
    raise NotImplementedError("the server's schema only moves forward")
