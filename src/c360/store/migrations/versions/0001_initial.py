"""Initial store: staging, identity map, snapshots, consumers' keys, spec versions.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staged_records",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("fetched_at", TS, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
    )
    op.create_index("ix_staged_live", "staged_records", ["source", "deleted"])
    op.create_table(
        "sync_state",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("cursor", sa.Text),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(40), nullable=False, index=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("summary", sa.Text),
    )
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(32), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("merged_into", sa.String(32)),
        sa.Column("run_id", sa.String(40), nullable=False),
    )
    op.create_table(
        "identity_map",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("customer_id", sa.String(32), nullable=False, index=True),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("evidence", sa.Text),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "identity_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(40), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.String(32), nullable=False),
        sa.Column("other_id", sa.String(32)),
        sa.Column("detail", sa.Text),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "identity_pins",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("left_rid", sa.String(320), nullable=False),
        sa.Column("right_rid", sa.String(320), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("created_by", sa.String(128)),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "identity_review",
        sa.Column("left_rid", sa.String(320), primary_key=True),
        sa.Column("right_rid", sa.String(320), primary_key=True),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("evidence", sa.Text),
        sa.Column("run_id", sa.String(40), nullable=False),
    )
    op.create_table(
        "snapshots",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("spec_version", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("built_at", TS, nullable=False),
        sa.Column("as_of", TS, nullable=False),
        sa.Column("published_at", TS),
        sa.Column("customers", sa.Integer, nullable=False),
    )
    op.create_table(
        "snapshot_records",
        sa.Column("version", sa.Integer, sa.ForeignKey("snapshots.version", ondelete="CASCADE"), primary_key=True),
        sa.Column("customer_id", sa.String(32), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "published",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.Integer, sa.ForeignKey("snapshots.version"), nullable=False),
        sa.Column("published_at", TS, nullable=False),
    )
    op.create_table(
        "consumer_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(64), nullable=False, index=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(24), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS),
        sa.Column("revoked_at", TS),
    )
    op.create_table(
        "spec_versions",
        sa.Column("version", sa.String(32), primary_key=True),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("applied_at", TS, nullable=False),
        sa.Column("applied_by", sa.String(128)),
    )


def downgrade() -> None:
    for table in (
        "spec_versions",
        "consumer_keys",
        "published",
        "snapshot_records",
        "snapshots",
        "identity_events",
        "identity_review",
        "identity_pins",
        "identity_map",
        "customers",
        "runs",
        "quarantine",
        "sync_state",
        "staged_records",
    ):
        op.drop_table(table)
