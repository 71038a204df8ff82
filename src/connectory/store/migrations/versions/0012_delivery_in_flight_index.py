"""Deliveries: a partial index of the deliveries in flight, for the claim's count per endpoint.

A claim counts each endpoint's queues in flight (its ``max_in_flight`` counts queues). That
count read the ``(status, next_run_at)`` index's ``in_flight`` entries, which keep one entry per
delivery ever sent until a vacuum (each update to ``succeeded`` leaves its in-flight version's
entry behind, and a bitmap scan never marks them dead): its cost grew with every delivery sent
(787 pages per claim after 20,000 on a server without autovacuum). This index holds the
in-flight versions only, per endpoint and queue; the claim reads it per endpoint with a plain
index scan, which marks the entries of finished deliveries dead as it passes them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_IN_FLIGHT = sa.text("status = 'in_flight'")


def upgrade() -> None:
    """Apply this revision (an index only; no row changes)."""
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_in_flight",
            ["endpoint_id", "order_key"],
            unique=False,
            postgresql_where=_IN_FLIGHT,
            sqlite_where=_IN_FLIGHT,
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_in_flight")
