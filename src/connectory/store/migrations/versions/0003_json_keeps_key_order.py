"""Store documents as json, not jsonb, on PostgreSQL: jsonb reorders object keys.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("connector_versions", "document"),
    ("connector_versions", "files"),
    ("connections", "public_credentials"),
    ("connections", "config"),
)


def upgrade() -> None:
    """Apply this revision (SQLite keeps JSON as text already: nothing to do there)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in _COLUMNS:
        op.alter_column(table, column, type_=sa.JSON(), postgresql_using=f"{column}::json")


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name != "postgresql":
        return
    from sqlalchemy.dialects.postgresql import JSONB

    for table, column in _COLUMNS:
        op.alter_column(table, column, type_=JSONB(), postgresql_using=f"{column}::jsonb")
