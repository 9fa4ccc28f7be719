"""Serving latency over time, per consumer and worker, for the SLA charts.

Revision ID: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "latency_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("worker", sa.String(96), nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("reads", sa.Integer, nullable=False),
        sa.Column("p50_ms", sa.Float, nullable=False),
        sa.Column("p99_ms", sa.Float, nullable=False),
        sa.Column("max_ms", sa.Float, nullable=False),
    )
    op.create_index("ix_latency_history_consumer_at", "latency_history", ["consumer", "at"])


def downgrade() -> None:
    op.drop_index("ix_latency_history_consumer_at", "latency_history")
    op.drop_table("latency_history")
