"""Storing events (each once per subscription) and fanning them out to endpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.events.handling import ReceivedEvent
from connectory.store.event_models import Delivery, Event, EventSubscription, WebhookEndpoint


def dialect_of(session: AsyncSession) -> str:
    """The session's database dialect name (``postgresql``, ``sqlite``)."""
    return session.get_bind().dialect.name


async def hold_write_lock(session: AsyncSession) -> None:
    """On SQLite, make the session's transaction a writer now (no-op on PostgreSQL).

    SQLite cannot turn a transaction that has read into a writer once another connection
    has committed meanwhile ("database is locked" at once, no waiting); a transaction that
    starts by writing waits for the lock instead. Call this before the reads of a
    read-then-write transaction.
    """
    if dialect_of(session) == "sqlite":
        await session.execute(text("UPDATE events SET seq = seq WHERE 0"))


def as_utc(moment: datetime) -> datetime:
    """*moment* as an aware UTC datetime (SQLite gives naive ones back)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def store_events(
    session: AsyncSession,
    subscription: EventSubscription,
    received: list[ReceivedEvent],
    now: datetime,
) -> list[Event]:
    """Store the events not stored before (by dedup key) and create their deliveries.

    Each insert runs in a savepoint, so a duplicate (same subscription and dedup key) is
    skipped without undoing the others. The caller commits, and records the subscription's
    activity (``last_event_at``) its own way.
    """
    stored: list[Event] = []
    if received:
        await hold_write_lock(session)
    for item in received:
        exists = await session.scalar(
            select(Event.seq).where(
                Event.subscription_id == subscription.id, Event.dedup_key == item.dedup_key
            )
        )
        if exists is not None:
            continue
        event = Event(
            enterprise_id=subscription.enterprise_id,
            connection_id=subscription.connection_id,
            subscription_id=subscription.id,
            type=item.type,
            dedup_key=item.dedup_key,
            occurred_at=item.occurred_at,
            received_at=now,
            payload=item.payload,
        )
        try:
            async with session.begin_nested():
                session.add(event)
                await session.flush()
        except IntegrityError:
            continue  # stored meanwhile by another worker: at most once per dedup key
        stored.append(event)
        await fan_out(session, event, now)
    return stored


async def fan_out(session: AsyncSession, event: Event, now: datetime) -> int:
    """Create a delivery of *event* for each endpoint of its enterprise that wants it."""
    endpoints = await session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.enterprise_id == event.enterprise_id,
            WebhookEndpoint.enabled.is_(True),
            WebhookEndpoint.deleted_at.is_(None),
        )
    )
    count = 0
    for endpoint in endpoints:
        if endpoint.event_types is not None and event.type not in endpoint.event_types:
            continue
        if (
            endpoint.connection_ids is not None
            and event.connection_id not in endpoint.connection_ids
        ):
            continue
        session.add(
            Delivery(
                enterprise_id=event.enterprise_id,
                endpoint_id=endpoint.id,
                event_seq=event.seq,
                event_id=event.id,
                order_key=event.subscription_id or f"event-{event.id}",
                next_run_at=now,
                created_at=now,
            )
        )
        count += 1
    await session.flush()
    return count


def envelope(event: Event) -> dict[str, Any]:
    """The JSON an endpoint receives (and the pull API returns) for *event*."""
    return {
        "id": event.id,
        "seq": event.seq,
        "type": event.type,
        "connection_id": event.connection_id,
        "subscription_id": event.subscription_id,
        "occurred_at": _iso(event.occurred_at),
        "received_at": _iso(event.received_at),
        "data": event.payload,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else as_utc(moment).isoformat().replace("+00:00", "Z")
