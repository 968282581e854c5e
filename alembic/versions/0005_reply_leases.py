"""reply leases: who is writing a reply, until when, and how it is paid for

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("lease_owner", sqlmodel.sql.sqltypes.AutoString(length=64),
                                   nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sqlmodel.sql.sqltypes.UTCDateTime(),
                                   nullable=True))
        batch.add_column(sa.Column("admission", sa.Text(), nullable=True))
    # Replies left active by an earlier version have no lease: they count as expired, so the
    # first page load or sweep ends them as interrupted (their text kept).


def downgrade() -> None:
    # Earlier versions know no "interrupted": such replies read as stopped there.
    op.execute("UPDATE messages SET status = 'cancelled' WHERE status = 'interrupted'")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("admission")
        batch.drop_column("lease_expires_at")
        batch.drop_column("lease_owner")
