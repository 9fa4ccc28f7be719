"""Earlier majors' shapes of a snapshot, served to consumers pinned to them.

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "snapshot_majors",
        sa.Column("version", sa.Integer, sa.ForeignKey("snapshots.version", ondelete="CASCADE"), primary_key=True),
        sa.Column("major", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("spec_version", sa.String(32), nullable=False),
        sa.Column("customers", sa.Integer, nullable=False),
    )
    op.create_table(
        "snapshot_views",
        sa.Column("version", sa.Integer, sa.ForeignKey("snapshots.version", ondelete="CASCADE"), primary_key=True),
        sa.Column("major", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.String(32), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("snapshot_views")
    op.drop_table("snapshot_majors")
