"""The call log and the health history of connections.

Both are append-only and pruned by retention (age and count per connection), so their rows
have an increasing ``seq`` that orders them and serves as the paging cursor. Neither has a
foreign key to ``connections``: entries written in a batch after a connection was deleted
must not fail the batch (the entries of a deleted connection age out).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connectory.store.models import Base, utcnow

#: BIGINT on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY autoincrements.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class CallLogEntry(Base):
    """One call a connection made (see connectory.observability.calls.CallEntry)."""

    __tablename__ = "call_log"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32))
    connection_id: Mapped[str] = mapped_column(String(64))
    enterprise_id: Mapped[str | None] = mapped_column(String(32), default=None)
    connector_id: Mapped[str | None] = mapped_column(String(64), default=None)
    kind: Mapped[str] = mapped_column(String(32))
    operation: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[str] = mapped_column(String(8))
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_class: Mapped[str | None] = mapped_column(String(100), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    request_excerpt: Mapped[str | None] = mapped_column(Text, default=None)
    response_excerpt: Mapped[str | None] = mapped_column(Text, default=None)
    trace_id: Mapped[str | None] = mapped_column(String(32), default=None)
    parent_id: Mapped[str | None] = mapped_column(String(32), default=None)

    __table_args__ = (
        UniqueConstraint("id", name="uq_call_log_id"),
        Index("ix_call_log_connection_seq", "connection_id", "seq"),
    )


class HealthEvent(Base):
    """A change of a connection's health: from what, to what, why and when."""

    __tablename__ = "connection_health_events"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(String(64))
    enterprise_id: Mapped[str | None] = mapped_column(String(32), default=None)
    health: Mapped[str] = mapped_column(String(16))
    previous: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_health_events_connection_seq", "connection_id", "seq"),)
