"""Give todos, outbox events and activity an owner: the issuer's user id.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

Expand only: nullable columns and indexes. Rows written before this migration keep a NULL
owner, which no user sees (docs/auth.md says how to hand them to someone); the previous
release, which knows nothing of the column, keeps working and writes rows without an owner.

The indexes are built inside the migration's transaction, under the advisory lock that keeps
two starting tasks from migrating at once (todo_common.migrate): writes to the two tables wait
while they are built, which on this app's tables takes moments. A fork with large tables builds
them CONCURRENTLY by hand first (same names); this migration then finds them in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OWNER = 128
INDEXES = {
    "ix_todos_owner_id_created_at_id": ("todos", ["owner_id", "created_at", "id"]),
    "ix_activity_owner_id_occurred_at_event_id": (
        "activity",
        ["owner_id", "occurred_at", "event_id"],
    ),
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # ADD COLUMN and CREATE INDEX wait for the table's lock: behind a long transaction of
        # the running release they would hold every write to it. Give up instead; the task
        # fails its start and ECS starts another, while the running tasks keep serving.
        op.execute("SET LOCAL lock_timeout = '5s'")
    for table in ("todos", "outbox", "activity"):
        op.add_column(table, sa.Column("owner_id", sa.String(length=OWNER), nullable=True))
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns, unique=False, if_not_exists=True)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
    for table in ("activity", "outbox", "todos"):
        op.drop_column(table, "owner_id")
