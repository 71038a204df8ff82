"""A tool policy per connection (MCP): which write tools it offers, result size.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision (NULL: the default policy, read-only tools)."""
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mcp_policy", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("mcp_policy")
