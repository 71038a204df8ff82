"""The event feed (pull API), test events, replays and retention."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import Conflict, NotFound
from connectory.services.connections import check_may_manage_connections
from connectory.services.events.endpoints import get_endpoint
from connectory.services.listing import is_plausible_id
from connectory.services.principal import Principal
from connectory.store.event_models import Delivery, DeliveryAttempt, Event, WebhookEndpoint

#: Type of the events "send a test event" creates.
TEST_EVENT_TYPE = "connectory.test"
#: Most events one replay re-sends.
MAX_REPLAY = 10_000


async def list_events(
    session: AsyncSession,
    principal: Principal,
    *,
    after: int = 0,
    since: datetime | None = None,
    limit: int = 100,
    connection_id: str | None = None,
    subscription_id: str | None = None,
    type_: str | None = None,
) -> list[Event]:
    """Events of the caller's enterprise after cursor *after* (a ``seq``), oldest first.

    *since* starts from a time instead (replay from a time); both may be given.
    """
    if principal.enterprise_id is None:
        return []
    query = select(Event).where(Event.enterprise_id == principal.enterprise_id, Event.seq > after)
    if since is not None:
        query = query.where(Event.received_at >= since)
    if connection_id is not None:
        query = query.where(Event.connection_id == connection_id)
    if subscription_id is not None:
        query = query.where(Event.subscription_id == subscription_id)
    if type_ is not None:
        query = query.where(Event.type == type_)
    return list(await session.scalars(query.order_by(Event.seq).limit(limit)))


async def send_test_event(
    session: AsyncSession, principal: Principal, endpoint_id: str, now: datetime
) -> Delivery:
    """Queue a ``connectory.test`` event for one endpoint (whatever its filters say)."""
    endpoint = await get_endpoint(session, principal, endpoint_id)
    check_may_manage_connections(principal)
    event = Event(
        enterprise_id=endpoint.enterprise_id,
        connection_id="",
        subscription_id=None,
        type=TEST_EVENT_TYPE,
        dedup_key=f"test-{now.timestamp()}",
        received_at=now,
        occurred_at=now,
        payload={"message": "This is a test event from Connectory."},
    )
    session.add(event)
    await session.flush()
    delivery = Delivery(
        enterprise_id=endpoint.enterprise_id,
        endpoint_id=endpoint.id,
        event_seq=event.seq,
        event_id=event.id,
        order_key=f"event-{event.id}",
        next_run_at=now,
        created_at=now,
    )
    session.add(delivery)
    await session.flush()
    return delivery


async def get_delivery(session: AsyncSession, principal: Principal, delivery_id: str) -> Delivery:
    """A delivery of the caller's enterprise.

    Raises:
        NotFound: otherwise.
    """
    found = None
    if is_plausible_id(delivery_id) and principal.enterprise_id is not None:
        found = await session.scalar(
            select(Delivery).where(
                Delivery.id == delivery_id, Delivery.enterprise_id == principal.enterprise_id
            )
        )
    if found is None:
        raise NotFound(f"delivery {delivery_id!r} not found")
    return found


async def list_deliveries(
    session: AsyncSession,
    principal: Principal,
    *,
    endpoint_id: str | None = None,
    event_id: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[Delivery]:
    """The caller's enterprise's deliveries, newest first (``status=dead``: the dead letters)."""
    if principal.enterprise_id is None:
        return []
    query = select(Delivery).where(Delivery.enterprise_id == principal.enterprise_id)
    if endpoint_id is not None:
        query = query.where(Delivery.endpoint_id == endpoint_id)
    if event_id is not None:
        query = query.where(Delivery.event_id == event_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    query = query.order_by(Delivery.created_at.desc(), Delivery.id).limit(limit)
    return list(await session.scalars(query))


async def list_attempts(session: AsyncSession, delivery: Delivery) -> list[DeliveryAttempt]:
    """The tries of a delivery, oldest first."""
    return list(
        await session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == delivery.id)
            .order_by(DeliveryAttempt.id)
        )
    )


async def replay_delivery(
    session: AsyncSession, principal: Principal, delivery_id: str, now: datetime
) -> Delivery:
    """Send a finished delivery (a dead letter, or a success) again, from a fresh count."""
    delivery = await get_delivery(session, principal, delivery_id)
    check_may_manage_connections(principal)
    if delivery.status in ("pending", "in_flight"):
        raise Conflict("the delivery is still being sent; replay it once it has finished")
    # Another live delivery of the same event in the same queue (a later replay of the
    # events): both would be the queue's head and be sent at once.
    twin = await session.scalar(
        select(Delivery.id).where(
            Delivery.endpoint_id == delivery.endpoint_id,
            Delivery.order_key == delivery.order_key,
            Delivery.event_id == delivery.event_id,
            Delivery.id != delivery.id,
            Delivery.status.in_(("pending", "in_flight")),
        )
    )
    if twin is not None:
        raise Conflict(f"this event is being sent to the endpoint again already (delivery {twin})")
    delivery.status = "pending"
    delivery.attempts = 0
    delivery.next_run_at = now
    delivery.finished_at = None
    await session.flush()
    return delivery


async def replay_events(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: str,
    now: datetime,
    *,
    after: int = 0,
    since: datetime | None = None,
) -> int:
    """Deliver again, to one endpoint, the events after a cursor or since a time.

    Neither given: every event kept, oldest first (at most :data:`MAX_REPLAY` per call). An
    event whose replay to this endpoint is still waiting or being sent is not queued again:
    two live deliveries of one event in one queue would both be its head, sent at once.
    Returns how many deliveries were queued.
    """
    endpoint = await get_endpoint(session, principal, endpoint_id)
    check_may_manage_connections(principal)
    events = await list_events(session, principal, after=after, since=since, limit=MAX_REPLAY)
    replaying = set(
        await session.scalars(
            select(Delivery.event_id).where(
                Delivery.endpoint_id == endpoint.id,
                Delivery.event_id.in_([event.id for event in events]),
                Delivery.order_key.like("replay-%"),
                Delivery.status.in_(("pending", "in_flight")),
            )
        )
    )
    count = 0
    for event in events:
        if not _wants(endpoint, event) or event.id in replaying:
            continue
        session.add(
            Delivery(
                enterprise_id=event.enterprise_id,
                endpoint_id=endpoint.id,
                event_seq=event.seq,
                event_id=event.id,
                order_key=f"replay-{event.subscription_id or event.id}",
                next_run_at=now,
                created_at=now,
            )
        )
        count += 1
    await session.flush()
    return count


def _wants(endpoint: WebhookEndpoint, event: Event) -> bool:
    if endpoint.event_types is not None and event.type not in endpoint.event_types:
        return False
    return endpoint.connection_ids is None or event.connection_id in endpoint.connection_ids


async def purge_expired(session: AsyncSession, now: datetime, retention_days: int) -> int:
    """Delete events older than the retention, with their deliveries and attempts."""
    cutoff = now - timedelta(days=retention_days)
    old = select(Event.id).where(Event.received_at < cutoff)
    old_deliveries = select(Delivery.id).where(Delivery.event_id.in_(old))
    await session.execute(
        delete(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(old_deliveries))
    )
    await session.execute(delete(Delivery).where(Delivery.event_id.in_(old)))
    result = await session.execute(delete(Event).where(Event.received_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
