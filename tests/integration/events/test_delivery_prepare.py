"""Preparing claimed deliveries: what is looked up once per dispatch stays looked up once; a
batch loads in queue order with its events and endpoints, reading its own rows only.

Run on SQLite and on a fresh PostgreSQL database.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from store_support import add_tenant, delivery_row, rows_read

from connectory.http.egress import EgressPolicy
from connectory.services.events.call_logs import BackgroundCalls
from connectory.services.events.context import EventsContext
from connectory.services.events.deliveries import prepare_deliveries
from connectory.settings import Settings
from connectory.store import Delivery, Event, WebhookEndpoint, new_id


class _Runtimes:
    telemetry = None


def _context(sessions: async_sessionmaker[AsyncSession]) -> EventsContext:
    """A context that prepares without sending (no secret box, no HTTP session)."""
    return EventsContext(
        settings=Settings(),
        sessions=sessions,
        box=None,  # type: ignore[arg-type]  # the endpoints have no stored secret
        runtimes=_Runtimes(),  # type: ignore[arg-type]
        http=None,  # type: ignore[arg-type]  # nothing is sent
        egress=EgressPolicy(),
    )


async def _add_events(
    session: AsyncSession, enterprise: str, endpoint: str, count: int, now: datetime
) -> list[str]:
    """*count* events, each with a due delivery to *endpoint* on a queue of its own: their
    deliveries' ids, in event order."""
    events = [
        {
            "id": new_id(),
            "enterprise_id": enterprise,
            "connection_id": "conn-1",
            "type": "changed",
            "dedup_key": f"k{n}",
            "received_at": now,
            "payload": {"n": n},
        }
        for n in range(count)
    ]
    await session.execute(insert(Event), events)
    seqs = {row.id: row.seq for row in await session.execute(text("SELECT id, seq FROM events"))}
    rows = []
    for event in events:
        row = delivery_row(enterprise, endpoint, seqs[event["id"]], f"q-{event['id']}", now)
        rows.append({**row, "event_id": event["id"]})
    await session.execute(insert(Delivery), rows)
    return [row["id"] for row in rows]


async def test_a_connection_that_is_gone_is_looked_up_once_per_dispatch_not_per_batch(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[set[str]] = []

    async def connectors_of(
        self: BackgroundCalls, connection_ids: Iterable[str], session: Any = None
    ) -> dict[str, str]:
        looked_up.append(set(connection_ids))
        return {"conn-live": "connector-1"}

    monkeypatch.setattr(BackgroundCalls, "connectors_of", connectors_of)
    now = datetime.now(UTC)
    async with sessions() as session:
        enterprise, endpoint = await add_tenant(session)
        ids = []
        # The events of a deleted connection (no connector found) and of a live one.
        for n, connection in enumerate(["conn-gone", "conn-live", "conn-gone", "conn-live"]):
            event = Event(
                enterprise_id=enterprise, connection_id=connection, type="t", dedup_key=f"k{n}"
            )
            session.add(event)
            await session.flush()
            row = delivery_row(enterprise, endpoint, event.seq, f"q{n}", now)
            row["event_id"] = event.id
            await session.execute(insert(Delivery), [row])
            ids.append(row["id"])
        await session.commit()
    context = _context(sessions)
    secrets: dict[str, list[str]] = {}
    connectors: dict[str, str | None] = {}
    batches = []
    for batch in (ids[:2], ids[2:]):  # two batches of one dispatch, sharing its caches
        async with sessions() as session:
            batches.append(await prepare_deliveries(session, context, batch, secrets, connectors))
    assert looked_up == [{"conn-gone", "conn-live"}]
    assert [item.connector_id for batch in batches for item in batch] == [
        None,
        "connector-1",
        None,
        "connector-1",
    ]


async def test_a_batch_loads_in_queue_order_with_its_events_and_endpoints(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime.now(UTC)
    async with sessions() as session:
        enterprise, endpoint = await add_tenant(session)
        _, gone = await add_tenant(session)
        ids = await _add_events(session, enterprise, endpoint, 3, now)
        event = Event(enterprise_id=enterprise, connection_id="conn-1", type="t", dedup_key="g")
        session.add(event)
        await session.flush()
        row = {**delivery_row(enterprise, gone, event.seq, "q-gone", now), "event_id": event.id}
        await session.execute(insert(Delivery), [row])
        await session.execute(
            update(WebhookEndpoint).where(WebhookEndpoint.id == gone).values(deleted_at=now)
        )
        await session.commit()
    wanted = [*reversed(ids), row["id"]]
    async with sessions() as session:
        prepared = await prepare_deliveries(session, _context(sessions), wanted, {}, {})
    assert [item.queue for item in prepared] == sorted(item.queue for item in prepared)
    assert sorted(item.delivery_id for item in prepared) == sorted(wanted)
    for item in prepared:
        if item.queue[0] == gone:  # a deleted endpoint: nothing to send to
            assert item.url is None and item.body == b""
        else:
            body = orjson.loads(item.body)
            assert item.url and body["id"] == item.message_id
            assert item.queue == (endpoint, f"q-{body['id']}") and body["data"]["n"] in (0, 1, 2)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_batch_reads_its_own_events_not_every_event(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Counted, not timed: the rows of ``events`` the load reads (a join of tables never
    analyzed hashed every event kept, per batch)."""
    now = datetime.now(UTC)
    async with sessions() as session:
        enterprise, endpoint = await add_tenant(session)
        ids = await _add_events(session, enterprise, endpoint, 5_000, now)
        await session.commit()
    async with sessions() as session:
        before = await rows_read(session, "events")
        prepared = await prepare_deliveries(session, _context(sessions), ids[:64], {}, {})
        after = await rows_read(session, "events")
    assert len(prepared) == 64
    assert after - before < 200, after - before
