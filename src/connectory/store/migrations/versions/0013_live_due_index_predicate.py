"""Deliveries: the live time index serves the time scan only, never the queue look-ups.

The claim finds queue heads with look-ups in the live queue index (endpoint, order key,
sequence). Its time scan reads the live time index (endpoint, ``next_run_at``, sequence), whose
leading column also matches those look-ups. With real order keys (a subscription's id, 32
characters) the queue index is the wider of the two; at backlog sizes where its tree is a level
deeper and the table has no statistics yet (a new database, a burst before autovacuum's first
ANALYZE, or a server without autovacuum) the planner priced the look-ups cheaper from the time
index, filtering the order key there: every look-up then read every live delivery of the
endpoint (150 ms a claim at 8,000 due, under the claim lock). The time index now also requires
``next_run_at IS NOT NULL`` (true of every row: the column is NOT NULL): a condition the time
scan's ``next_run_at <= now`` implies and the queue look-ups do not, so the planner can only use
it for the time scan, whatever it believes of the table.

The index is rebuilt inside the migration's transaction: dropping the old one locks
``deliveries`` until the upgrade commits, so every read and write of it waits while the new
one builds (it holds live deliveries only, but the build reads the table once).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_COLUMNS = ["endpoint_id", "next_run_at", "event_seq"]
_LIVE = "status IN ('pending', 'in_flight')"
_TIME_SCAN_ONLY = sa.text(f"{_LIVE} AND next_run_at IS NOT NULL")


def _replace_time_index(where: sa.TextClause) -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_live_due")
        batch_op.create_index(
            "ix_deliveries_live_due",
            _COLUMNS,
            unique=False,
            postgresql_where=where,
            sqlite_where=where,
        )


def upgrade() -> None:
    """Apply this revision (an index rebuilt; no row changes)."""
    _replace_time_index(_TIME_SCAN_ONLY)


def downgrade() -> None:
    """Revert this revision."""
    _replace_time_index(sa.text(_LIVE))
