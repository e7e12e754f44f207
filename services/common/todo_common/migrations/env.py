"""Alembic environment: always run through :func:`todo_common.migrate.upgrade`,
which hands over an open connection (and holds the migration lock)."""

from __future__ import annotations

from alembic import context

from todo_common.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `python -m todo_common.migrate`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
