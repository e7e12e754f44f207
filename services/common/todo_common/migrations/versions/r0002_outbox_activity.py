"""Create the outbox and activity tables.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from todo_common.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Uuid(as_uuid=True), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("todo_id", sa.Uuid(as_uuid=True), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_sent_at_occurred_at", "outbox", ["sent_at", "occurred_at"], unique=False
    )
    op.create_table(
        "activity",
        sa.Column("event_id", sa.Uuid(as_uuid=True), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("todo_id", sa.Uuid(as_uuid=True), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_activity")),
    )
    op.create_index(
        "ix_activity_occurred_at_event_id",
        "activity",
        ["occurred_at", "event_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_activity_occurred_at_event_id", table_name="activity")
    op.drop_table("activity")
    op.drop_index("ix_outbox_sent_at_occurred_at", table_name="outbox")
    op.drop_table("outbox")
