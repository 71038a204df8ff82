"""Storing events (each once per subscription) and fanning them out to endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, select, text
from sqlalchemy import insert as sa_insert
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from connectory.events.handling import ReceivedEvent
from connectory.store.event_models import Delivery, Event, EventSubscription, WebhookEndpoint
from connectory.store.models import new_id


def dialect_of(session: AsyncSession) -> str:
    """The session's database dialect name (``postgresql``, ``sqlite``)."""
    return session.get_bind().dialect.name


@asynccontextmanager
async def held_session(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session that keeps one connection from its first to its last transaction.

    A session from *sessions* gives its connection back to the pool at every commit, and
    the pool pings the server at every checkout (``pool_pre_ping``: three round trips on
    asyncpg). A loop of short transactions (the delivery lanes) holds one connection
    instead; it is pinged once, when taken. A session maker not bound to an engine gives
    its plain session.
    """
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine):
        async with sessions() as session:
            yield session
        return
    # Each commit of the session commits the connection's transaction (the session began it).
    async with engine.connect() as connection, sessions(bind=connection) as session:
        yield session


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


#: Where an enterprise's events go: (endpoint id, event types, connection ids) of each enabled
#: endpoint; None for a filter means everything. Kept for one batch of work (see store_events).
EndpointTargets = dict[str, list[tuple[str, list[str] | None, list[str] | None]]]


async def store_events(
    session: AsyncSession,
    subscription: EventSubscription,
    received: list[ReceivedEvent],
    now: datetime,
    endpoints: EndpointTargets | None = None,
) -> list[str]:
    """Store the events not stored before (by dedup key), create their deliveries; their ids.

    :func:`store_events_many` for one subscription. ``INSERT ... ON CONFLICT DO NOTHING``
    stores them: a duplicate (same subscription and dedup key, stored before or by another
    worker meanwhile) is skipped by the database itself, without a look-up or a savepoint
    per event. Their deliveries are one more insert.
    *endpoints* caches each enterprise's endpoints across the calls of one batch (an endpoint
    created meanwhile gets the events stored after the batch). The caller commits, and
    records the subscription's activity (``last_event_at``) its own way.
    """
    stored = await _store(session, [(subscription, received)], now, endpoints)
    return stored[0]


#: Events per insert statement (nine parameters each, well under the drivers' limits).
_ROWS_PER_INSERT = 1000


async def store_events_many(
    session: AsyncSession,
    items: list[tuple[EventSubscription, list[ReceivedEvent]]],
    now: datetime,
    endpoints: EndpointTargets | None = None,
) -> list[int]:
    """:func:`store_events` for many (subscription, events) at once; how many each stored.

    Two statements for the whole list (the events, their deliveries) instead of two per
    item. Items are stored in the order given, so each subscription's events keep their
    order (``seq``); a dedup key repeated in the list is stored for its first item only.
    """
    return [len(ids) for ids in await _store(session, items, now, endpoints)]


async def _store(
    session: AsyncSession,
    items: list[tuple[EventSubscription, list[ReceivedEvent]]],
    now: datetime,
    endpoints: EndpointTargets | None,
) -> list[list[str]]:
    """Store the events of *items* and their deliveries; the ids stored of each, by seq."""
    rows = [
        {
            "id": new_id(),
            "enterprise_id": subscription.enterprise_id,
            "connection_id": subscription.connection_id,
            "subscription_id": subscription.id,
            "type": item.type,
            "dedup_key": item.dedup_key,
            "occurred_at": item.occurred_at,
            "received_at": now,
            "payload": item.payload,
        }
        for subscription, received in items
        for item in received
    ]
    if not rows:
        return [[] for _ in items]
    await hold_write_lock(session)
    insert = postgres_insert if dialect_of(session) == "postgresql" else sqlite_insert
    stored: dict[tuple[str, str], tuple[int, str, str]] = {}
    for start in range(0, len(rows), _ROWS_PER_INSERT):  # in order: seq follows the list
        statement = (
            insert(Event)
            .values(rows[start : start + _ROWS_PER_INSERT])
            .on_conflict_do_nothing(index_elements=["subscription_id", "dedup_key"])
            .returning(Event.seq, Event.id, Event.type, Event.subscription_id, Event.dedup_key)
        )
        for seq, event_id, type_, subscription_id, dedup_key in await session.execute(statement):
            stored[(str(subscription_id), str(dedup_key))] = (int(seq), str(event_id), str(type_))
    ids: list[list[str]] = []
    by_subscription: dict[str, tuple[EventSubscription, list[tuple[int, str, str]]]] = {}
    for subscription, received in items:
        mine: list[tuple[int, str, str]] = []
        for item in received:
            found = stored.pop((subscription.id, item.dedup_key), None)
            if found is not None:  # popped: a repeat of the key later in the list is not counted
                mine.append(found)
                by_subscription.setdefault(subscription.id, (subscription, []))[1].append(found)
        ids.append([event_id for _, event_id, _ in sorted(mine)])
    deliveries: list[dict[str, Any]] = []
    for subscription, events in by_subscription.values():
        deliveries += await _delivery_rows(
            session,
            subscription.enterprise_id,
            subscription.connection_id,
            subscription.id,
            sorted(events),
            now,
            endpoints,
        )
    if deliveries:
        await session.execute(sa_insert(Delivery), deliveries)
    return ids


async def _delivery_rows(
    session: AsyncSession,
    enterprise_id: str,
    connection_id: str,
    subscription_id: str | None,
    events: list[tuple[int, str, str]],
    now: datetime,
    endpoints: EndpointTargets | None,
) -> list[dict[str, Any]]:
    """The delivery rows of *events* (seq, id, type): one per endpoint that wants each."""
    targets = endpoints.get(enterprise_id) if endpoints is not None else None
    if targets is None:
        targets = [
            (row.id, row.event_types, row.connection_ids)
            for row in await session.execute(
                select(
                    WebhookEndpoint.id, WebhookEndpoint.event_types, WebhookEndpoint.connection_ids
                ).where(
                    WebhookEndpoint.enterprise_id == enterprise_id,
                    WebhookEndpoint.enabled.is_(True),
                    WebhookEndpoint.deleted_at.is_(None),
                )
            )
        ]
        if endpoints is not None:
            endpoints[enterprise_id] = targets
    deliveries = [
        {
            "id": new_id(),
            "enterprise_id": enterprise_id,
            "endpoint_id": endpoint_id,
            "event_seq": seq,
            "event_id": event_id,
            "order_key": subscription_id or f"event-{event_id}",
            "status": "pending",
            "attempts": 0,
            "next_run_at": now,
            "created_at": now,
            "last_error": "",
        }
        for seq, event_id, type_ in events
        for endpoint_id, event_types, connection_ids in targets
        if (event_types is None or type_ in event_types)
        and (connection_ids is None or connection_id in connection_ids)
    ]
    return deliveries


def envelope(event: Event | Row[*tuple[Any, ...]]) -> dict[str, Any]:
    """The JSON an endpoint receives (and the pull API returns) for *event* (or its columns)."""
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
