"""Alembic environment: runs on the connection :func:`connectory.store.db.migrate` passes in."""

from __future__ import annotations

from alembic import context

from connectory.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through connectory.store.db.migrate (or `connectory db upgrade`)"
    )
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
