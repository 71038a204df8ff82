"""Replaying events to an endpoint: each event at most once in its replay queue at a time."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from store_support import NOW, add_tenant

from connectory.errors import Conflict
from connectory.services.events.feed import replay_delivery, replay_events
from connectory.services.principal import Principal
from connectory.store import Delivery, Event, new_id


async def _live_replays(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).where(Delivery.status.in_(("pending", "in_flight")))
            )
            or 0
        )


async def test_an_event_still_being_replayed_is_not_queued_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        enterprise, endpoint = await add_tenant(session)
        await session.execute(
            insert(Event),
            [
                {
                    "id": new_id(),
                    "enterprise_id": enterprise,
                    "connection_id": "conn-1",
                    "subscription_id": "sub-1",
                    "type": "changed",
                    "dedup_key": f"k{n}",
                    "occurred_at": NOW,
                    "received_at": NOW,
                    "payload": {"n": n},
                }
                for n in range(3)
            ],
        )
        await session.commit()
    admin = Principal("u1", "enterprise_admin", enterprise)

    async def replay() -> int:
        async with sessions() as session:
            queued = await replay_events(session, admin, endpoint, NOW)
            await session.commit()
        return queued

    assert await replay() == 3
    # Twice the same events in one queue would be two heads of it, sent at once.
    assert await replay() == 0
    assert await _live_replays(sessions) == 3
    async with sessions() as session:  # sent: a later replay sends them again
        await session.execute(update(Delivery).values(status="succeeded"))
        await session.commit()
    assert await replay() == 3
    assert await _live_replays(sessions) == 3


async def test_a_dead_letter_is_not_replayed_while_a_replay_of_its_event_is_live(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        enterprise, endpoint = await add_tenant(session)
        event_id = new_id()
        await session.execute(
            insert(Event),
            [
                {
                    "id": event_id,
                    "enterprise_id": enterprise,
                    "connection_id": "conn-1",
                    "subscription_id": "sub-1",
                    "type": "changed",
                    "dedup_key": "k",
                    "occurred_at": NOW,
                    "received_at": NOW,
                    "payload": {},
                }
            ],
        )
        await session.commit()
    admin = Principal("u1", "enterprise_admin", enterprise)
    async with sessions() as session:
        assert await replay_events(session, admin, endpoint, NOW) == 1
        await session.commit()
    async with sessions() as session:  # that replay dead-lettered; the events replayed again
        await session.execute(update(Delivery).values(status="dead"))
        await session.commit()
        first = await session.scalar(select(Delivery.id))
    async with sessions() as session:
        assert await replay_events(session, admin, endpoint, NOW) == 1
        await session.commit()
    async with sessions() as session:
        with pytest.raises(Conflict):
            await replay_delivery(session, admin, str(first), NOW)
        await session.rollback()
    assert await _live_replays(sessions) == 1
