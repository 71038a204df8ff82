"""Connection inputs, health and encrypted secret values.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision (existing connections get neutral values by server default)."""
    op.create_table(
        "secret_values",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner_type", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner_type", "owner_id", "field", name="uq_secret_values_owner_field"),
    )
    with op.batch_alter_table("secret_values", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_secret_values_key_version"), ["key_version"], unique=False
        )

    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "public_credentials",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'{}'"),
            )
        )
        batch_op.add_column(
            sa.Column(
                "config",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'{}'"),
            )
        )
        batch_op.add_column(
            sa.Column("health", sa.String(length=16), nullable=False, server_default="unknown")
        )
        batch_op.add_column(
            sa.Column("health_detail", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("health_checked_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "updated_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.func.now(),
            )
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("health_checked_at")
        batch_op.drop_column("health_detail")
        batch_op.drop_column("health")
        batch_op.drop_column("config")
        batch_op.drop_column("public_credentials")

    with op.batch_alter_table("secret_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_secret_values_key_version"))

    op.drop_table("secret_values")
