"""Storing events: each once per dedup key, in order, fanned out to the endpoints that want it.

Run on SQLite and on a fresh PostgreSQL database: the insert skips duplicates with
``ON CONFLICT DO NOTHING`` on both, and the deliveries are one insert per call.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from store_support import HOOK_URL, NOW, add_enterprise, new_subscription, received_event

from connectory.services.events.records import EndpointTargets, store_events, store_events_many
from connectory.store import Delivery, Event, WebhookEndpoint


async def test_each_event_once_in_order_to_the_endpoints_that_want_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        enterprise = await add_enterprise(session)
        url = HOOK_URL
        every = WebhookEndpoint(enterprise_id=enterprise.id, url=url)
        typed = WebhookEndpoint(enterprise_id=enterprise.id, url=url, event_types=["b"])
        elsewhere = WebhookEndpoint(enterprise_id=enterprise.id, url=url, connection_ids=["x"])
        disabled = WebhookEndpoint(enterprise_id=enterprise.id, url=url, enabled=False)
        session.add_all([every, typed, elsewhere, disabled])
        await session.flush()
        subscription = new_subscription(enterprise.id)
        endpoints: EndpointTargets = {}
        # A key repeated within one call is stored once, like one stored before.
        first = await store_events(
            session,
            subscription,
            [received_event("k1"), received_event("k2", "b"), received_event("k1")],
            NOW,
            endpoints,
        )
        again = await store_events(
            session, subscription, [received_event("k2", "b"), received_event("k3")], NOW, endpoints
        )
        await session.commit()
        assert set(endpoints) == {enterprise.id}  # read once for both calls
        events = (await session.execute(select(Event).order_by(Event.seq))).scalars().all()
        deliveries = (await session.execute(select(Delivery))).scalars().all()
    assert [e.dedup_key for e in events] == ["k1", "k2", "k3"]
    assert first == [e.id for e in events[:2]] and again == [events[2].id]
    assert all(e.subscription_id == subscription.id for e in events)
    by_endpoint: dict[str, list[tuple[int, str]]] = {}
    for delivery in sorted(deliveries, key=lambda d: d.event_seq):
        by_endpoint.setdefault(delivery.endpoint_id, []).append(
            (delivery.event_seq, delivery.event_id)
        )
        assert delivery.order_key == subscription.id
        assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert by_endpoint == {
        every.id: [(e.seq, e.id) for e in events],
        typed.id: [(events[1].seq, events[1].id)],
    }


async def test_an_event_stored_by_another_worker_is_skipped(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        enterprise = await add_enterprise(session)
        await session.commit()
    subscription = new_subscription(enterprise.id)
    async with sessions() as session:
        assert len(await store_events(session, subscription, [received_event("k1")], NOW)) == 1
        await session.commit()
    async with sessions() as session:  # another transaction, later: a duplicate
        assert await store_events(session, subscription, [received_event("k1")], NOW) == []
        other = new_subscription(subscription.enterprise_id)
        # The key is per subscription: another subscription's k1 is news.
        assert len(await store_events(session, other, [received_event("k1")], NOW)) == 1
        await session.commit()
        assert len((await session.execute(select(Event))).scalars().all()) == 2


async def test_many_webhooks_at_once_keep_order_and_dedup_per_subscription(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        enterprise = await add_enterprise(session)
        endpoint = WebhookEndpoint(enterprise_id=enterprise.id, url=HOOK_URL)
        session.add(endpoint)
        await session.flush()
        one, two = (new_subscription(enterprise.id) for _ in range(2))
        assert len(await store_events(session, one, [received_event("old")], NOW)) == 1
        # Four webhooks of a batch: a repeat of a stored key, a repeat within the batch, and
        # the same key for another subscription (news there).
        counts = await store_events_many(
            session,
            [
                (one, [received_event("old"), received_event("k1")]),
                (two, [received_event("k1")]),
                (one, [received_event("k1"), received_event("k2")]),
                (one, [received_event("k3")]),
            ],
            NOW,
        )
        await session.commit()
        events = (await session.execute(select(Event).order_by(Event.seq))).scalars().all()
        deliveries = (await session.execute(select(Delivery))).scalars().all()
    assert counts == [1, 1, 1, 1]
    assert [(e.subscription_id, e.dedup_key) for e in events] == [
        (one.id, "old"),
        (one.id, "k1"),
        (two.id, "k1"),
        (one.id, "k2"),
        (one.id, "k3"),
    ]
    queued = sorted((d.order_key, d.event_seq) for d in deliveries)
    # One delivery per stored event, queued by its subscription.
    assert queued == sorted((e.subscription_id, e.seq) for e in events) and all(
        d.endpoint_id == endpoint.id for d in deliveries
    )
