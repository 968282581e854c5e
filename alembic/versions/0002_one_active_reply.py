"""at most one pending or streaming reply per thread

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("status IN ('pending', 'streaming')")


def upgrade() -> None:
    op.create_index(
        "uq_messages_one_active_per_thread", "messages", ["thread_id"], unique=True,
        sqlite_where=ACTIVE, postgresql_where=ACTIVE,
    )


def downgrade() -> None:
    op.drop_index("uq_messages_one_active_per_thread", table_name="messages")
