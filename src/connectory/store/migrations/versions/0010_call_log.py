"""The call log of connections and their health history.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision (two new tables; nothing existing changes)."""
    op.create_table(
        "call_log",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("connector_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("operation", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error_class", sa.String(length=100), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("request_excerpt", sa.Text(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("parent_id", sa.String(length=32), nullable=True),
        sa.UniqueConstraint("id", name="uq_call_log_id"),
    )
    op.create_index("ix_call_log_connection_seq", "call_log", ["connection_id", "seq"])
    op.create_index("ix_call_log_started_at", "call_log", ["started_at"])
    op.create_table(
        "connection_health_events",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("health", sa.String(length=16), nullable=False),
        sa.Column("previous", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_health_events_connection_seq", "connection_health_events", ["connection_id", "seq"]
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_health_events_connection_seq", table_name="connection_health_events")
    op.drop_table("connection_health_events")
    op.drop_index("ix_call_log_started_at", table_name="call_log")
    op.drop_index("ix_call_log_connection_seq", table_name="call_log")
    op.drop_table("call_log")
