"""Keep each outbox event's trace context: the W3C traceparent of the request that wrote it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

Expand only: one nullable column. The previous release, which knows nothing of it, keeps
writing rows without one (the relay then starts a new trace for them) and ignores it when it
publishes; a rollback leaves it unused. A nullable ADD COLUMN is a catalog change in PostgreSQL
(no table rewrite), but it still waits for the table's lock, hence the lock timeout.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TRACEPARENT = 55


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Behind a long transaction of the running release, give up rather than hold every
        # write to the outbox; the task fails its start and ECS starts another.
        op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column("outbox", sa.Column("trace_parent", sa.String(length=TRACEPARENT), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "trace_parent")
