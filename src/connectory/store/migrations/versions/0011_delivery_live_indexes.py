"""Deliveries: partial indexes of live deliveries for the claim.

The claim looks up queue heads and due deliveries among live deliveries only (pending, in
flight). The full queue index also held every finished delivery, so deciding that a delivery
is its queue's head walked the queue's whole history; it is replaced by one of live
deliveries, and a second partial index serves the claim's per-endpoint scan in
``next_run_at`` order (see services/events/claim_heads.py). An index of each endpoint's
deliveries by creation time serves the lists the queue index served before.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_LIVE = sa.text("status IN ('pending', 'in_flight')")


def upgrade() -> None:
    """Apply this revision (indexes only; no row changes)."""
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_queue")
        batch_op.create_index(
            "ix_deliveries_live_queue",
            ["endpoint_id", "order_key", "event_seq"],
            unique=False,
            postgresql_where=_LIVE,
            sqlite_where=_LIVE,
        )
        batch_op.create_index(
            "ix_deliveries_live_due",
            ["endpoint_id", "next_run_at", "event_seq"],
            unique=False,
            postgresql_where=_LIVE,
            sqlite_where=_LIVE,
        )
        # The queue index also served the lists of an endpoint's deliveries.
        batch_op.create_index(
            "ix_deliveries_endpoint_created", ["endpoint_id", "created_at"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_endpoint_created")
        batch_op.drop_index("ix_deliveries_live_due")
        batch_op.drop_index("ix_deliveries_live_queue")
        batch_op.create_index(
            "ix_deliveries_queue", ["endpoint_id", "order_key", "event_seq"], unique=False
        )
