"""A claim that loads what it leases (PostgreSQL): the rows the load by id gives, in its order,
without its statement.

The reference is the load by id as it was written before the take loaded (its SQL below,
verbatim): the claim's rows must have its columns, values and order, for heads alone, for
runs behind them, for runs cut by a gap, for a delivery whose event is gone (leased, not
loaded) and for a deleted endpoint's delivery. Counted, not timed: the statements a claim
and its preparation execute.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from events_support import Receiver
from sqlalchemy import Row, event, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from store_support import NOW, add_tenant, delivery_row, rows_read

from connectory.http.egress import EgressPolicy
from connectory.services.events import deliveries
from connectory.services.events.deliveries import (
    Prepared,
    claim_deliveries,
    dispatch_due,
    prepare_claimed,
    prepare_deliveries,
)
from connectory.store import Delivery, Event, WebhookEndpoint
from testkit.events_context import events_context

postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

#: The load by id before the take loaded (verbatim): claimed ids, their events and endpoints.
_REFERENCE_LOAD = text(
    """
    SELECT d.id AS delivery_id, d.endpoint_id, d.order_key, d.next_run_at, e.id, e.seq,
           e.type, e.enterprise_id, e.connection_id, e.subscription_id, e.occurred_at,
           e.received_at, e.payload, w.url, w.enabled, w.deleted_at
    FROM unnest(CAST(:ids AS varchar[])) AS claimed(id)
    CROSS JOIN LATERAL (
        SELECT c.id, c.endpoint_id, c.order_key, c.next_run_at, c.event_id, c.event_seq
        FROM deliveries c WHERE c.id = claimed.id LIMIT 1
    ) AS d
    CROSS JOIN LATERAL (
        SELECT v.id, v.seq, v.type, v.enterprise_id, v.connection_id, v.subscription_id,
               v.occurred_at, v.received_at, v.payload
        FROM events v WHERE v.id = d.event_id LIMIT 1
    ) AS e
    LEFT JOIN LATERAL (
        SELECT p.url, p.enabled, p.deleted_at FROM webhook_endpoints p
        WHERE p.id = d.endpoint_id LIMIT 1
    ) AS w ON true
    ORDER BY d.endpoint_id, d.order_key, d.event_seq
    """
).columns(
    delivery_id=Delivery.__table__.c.id.type,
    endpoint_id=Delivery.__table__.c.endpoint_id.type,
    order_key=Delivery.__table__.c.order_key.type,
    next_run_at=Delivery.__table__.c.next_run_at.type,
    id=Event.__table__.c.id.type,
    seq=Event.__table__.c.seq.type,
    type=Event.__table__.c.type.type,
    enterprise_id=Event.__table__.c.enterprise_id.type,
    connection_id=Event.__table__.c.connection_id.type,
    subscription_id=Event.__table__.c.subscription_id.type,
    occurred_at=Event.__table__.c.occurred_at.type,
    received_at=Event.__table__.c.received_at.type,
    payload=Event.__table__.c.payload.type,
    url=WebhookEndpoint.__table__.c.url.type,
    enabled=WebhookEndpoint.__table__.c.enabled.type,
    deleted_at=WebhookEndpoint.__table__.c.deleted_at.type,
)


async def _queue(
    session: AsyncSession,
    enterprise: str,
    endpoint: str,
    order_key: str,
    count: int,
    *,
    with_events: bool = True,
) -> list[str]:
    """*count* due deliveries of queue *order_key*, in order, each of an event of its own
    (stored, unless not *with_events*): their ids."""
    ids = []
    for n in range(count):
        event_row = Event(
            enterprise_id=enterprise,
            connection_id="conn-1",
            type="changed",
            dedup_key=f"{endpoint}-{order_key}-{n}",
            payload={"queue": order_key, "n": n},
        )
        session.add(event_row)
        await session.flush()
        row = {
            **delivery_row(enterprise, endpoint, event_row.seq, order_key, NOW),
            "event_id": event_row.id,
        }
        if not with_events:
            await session.delete(event_row)
        await session.execute(insert(Delivery), [row])
        ids.append(row["id"])
    await session.flush()
    return ids


async def _backlog(session: AsyncSession) -> dict[str, list[str]]:
    """Queues on three endpoints, by name: runs three deep (``a``, ``b``), a run whose second
    delivery is not due (``c``), a delivery whose event is gone (``lost``), and a deleted
    endpoint's queue (``gone``)."""
    enterprise, endpoint = await add_tenant(session, cap=8)
    other, other_endpoint = await add_tenant(session, cap=8)
    _, deleted = await add_tenant(session)
    queues = {
        "b": await _queue(session, enterprise, endpoint, "sub-b", 3),
        "a": await _queue(session, enterprise, endpoint, "sub-a", 3),
        "c": await _queue(session, other, other_endpoint, "sub-c", 3),
        "lost": await _queue(session, other, other_endpoint, "sub-lost", 1, with_events=False),
        "gone": await _queue(session, enterprise, deleted, "sub-gone", 2),
    }
    await session.execute(
        update(Delivery)
        .where(Delivery.id == queues["c"][1])
        .values(next_run_at=NOW + timedelta(minutes=5))
    )
    await session.execute(
        update(WebhookEndpoint).where(WebhookEndpoint.id == deleted).values(deleted_at=NOW)
    )
    await session.commit()
    return queues


def _as_lists(rows: list[Row[Any]]) -> tuple[list[tuple[str, ...]], list[tuple[Any, ...]]]:
    return [tuple(row._fields) for row in rows], [tuple(row) for row in rows]


@postgresql_only
@pytest.mark.parametrize("depth", [1, 3])
async def test_a_claim_loads_its_deliveries_as_the_load_by_id_does(
    sessions: async_sessionmaker[AsyncSession], depth: int
) -> None:
    async with sessions() as session:
        queues = await _backlog(session)
    async with sessions() as session:
        claim = await claim_deliveries(session, NOW, limit=10, depth=depth)
        reference = (await session.execute(_REFERENCE_LOAD, {"ids": claim.ids})).all()
        by_id = (await session.execute(deliveries._LOAD_CLAIMED_BY_KEY, {"ids": claim.ids})).all()
        await session.commit()
    runs = {"a": 3, "b": 3, "c": 1, "lost": 1, "gone": 2} if depth > 1 else dict.fromkeys(queues, 1)
    assert sorted(claim.ids) == sorted(i for name, run in runs.items() for i in queues[name][:run])
    assert claim.loaded is not None and len(claim.loaded) == len(claim.ids) - 1
    assert queues["lost"][0] in claim.ids  # leased (as before), not loaded: no event
    assert _as_lists(claim.loaded) == _as_lists(reference)
    assert _as_lists(by_id) == _as_lists(reference)  # the load by id is unchanged too


@postgresql_only
async def test_a_run_cut_by_a_gap_at_the_take_loads_up_to_the_gap(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A follower read as claimable but not taken (another worker took it meanwhile): what
    follows it is released, and neither it nor they are loaded."""
    async with sessions() as session:
        queues = await _backlog(session)
    first, second, third = queues["a"]
    followers = deliveries._followers

    async def taken_meanwhile(*args: Any, **kwargs: Any) -> list[list[str]]:
        runs = await followers(*args, **kwargs)
        async with sessions() as other:  # another worker leases the middle of sub-a's run
            await other.execute(
                update(Delivery)
                .where(Delivery.id == second)
                .values(status="in_flight", lease_until=NOW + timedelta(minutes=1))
            )
            await other.commit()
        return runs

    monkeypatch.setattr(deliveries, "_followers", taken_meanwhile)
    async with sessions() as session:
        claim = await claim_deliveries(session, NOW, limit=10, depth=3)
        reference = (await session.execute(_REFERENCE_LOAD, {"ids": claim.ids})).all()
        await session.commit()
    assert first in claim.ids and second not in claim.ids and third not in claim.ids
    assert claim.loaded is not None
    assert _as_lists(claim.loaded) == _as_lists(reference)
    async with sessions() as session:
        released = (await session.execute(select(Delivery).where(Delivery.id == third))).scalar()
    assert released is not None and (released.status, released.lease_until) == ("pending", None)


def _prepared_view(items: list[Prepared]) -> list[tuple[Any, ...]]:
    return [(i.delivery_id, i.url, i.message_id, i.body, i.queue, i.secrets) for i in items]


@contextmanager
def _statements(sessions: async_sessionmaker[AsyncSession]) -> Iterator[list[str]]:
    """The statements executed on *sessions*' engine meanwhile, in order."""
    engine = sessions.kw["bind"].sync_engine
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


@postgresql_only
@pytest.mark.parametrize("depth", [1, 3])
async def test_a_claim_and_its_load_take_one_statement_fewer(
    sessions: async_sessionmaker[AsyncSession], depth: int
) -> None:
    """Claimed then prepared: nothing is read after the take (the load by id was one
    statement more), and the deliveries prepared are the same."""
    async with sessions() as session:
        await _backlog(session)
    async with events_context(sessions) as context:
        secrets: dict[str, list[str]] = {}
        connectors: dict[str, str | None] = {}
        async with sessions() as session:  # the dispatch's caches, filled (as after a batch)
            claim = await claim_deliveries(session, NOW, limit=10, depth=depth)
            by_id = await prepare_deliveries(session, context, claim.ids, secrets, connectors)
            await session.rollback()
        async with sessions() as session:
            with _statements(sessions) as loading:
                claim = await claim_deliveries(session, NOW, limit=10, depth=depth)
                prepared = await prepare_claimed(session, context, claim, secrets, connectors)
            await session.rollback()
        async with sessions() as session:
            with _statements(sessions) as by_ids:
                claim = await claim_deliveries(session, NOW, limit=10, depth=depth)
                again = await prepare_deliveries(session, context, claim.ids, secrets, connectors)
            await session.rollback()
    assert len(loading) == len(by_ids) - 1, (loading, by_ids)
    assert loading[-1].startswith("WITH d AS (UPDATE deliveries")  # the take, last
    assert "events" in loading[-1] and "webhook_endpoints" in loading[-1]
    assert _prepared_view(prepared) == _prepared_view(again) == _prepared_view(by_id)
    assert len(prepared) == len(claim.ids) - 1  # the delivery whose event is gone


async def test_a_claim_is_prepared_on_either_database(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """SQLite's claim does not load (its take returns ids): preparing it loads them by id."""
    async with sessions() as session:
        queues = await _backlog(session)
    async with events_context(sessions) as context, sessions() as session:
        claim = await claim_deliveries(session, NOW, limit=10, depth=3)
        prepared = await prepare_claimed(session, context, claim, {}, {})
        by_id = await prepare_deliveries(session, context, claim.ids, {}, {})
        await session.commit()
    assert (claim.loaded is None) == (session.get_bind().dialect.name == "sqlite")
    assert _prepared_view(prepared) == _prepared_view(by_id)
    assert [item.delivery_id for item in prepared if item.queue[1] == "sub-a"] == queues["a"]


@postgresql_only
async def test_a_claim_reads_its_own_events_not_every_event(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Counted, not timed: the rows of ``events`` the claim's load reads, never analyzed (a
    join of such tables hashed every event kept, per batch)."""
    async with sessions() as session:
        enterprise, endpoint = await add_tenant(session, cap=64)
        events = [
            {
                "id": f"event-{n:05}",
                "enterprise_id": enterprise,
                "connection_id": "conn-1",
                "type": "changed",
                "dedup_key": f"k{n}",
                "received_at": NOW,
                "payload": {"n": n},
            }
            for n in range(5_000)
        ]
        await session.execute(insert(Event), events)
        seqs = {row.id: row.seq for row in await session.execute(select(Event.id, Event.seq))}
        await session.execute(
            insert(Delivery),
            [
                {
                    **delivery_row(enterprise, endpoint, seqs[e["id"]], e["id"], NOW),
                    "event_id": e["id"],
                }
                for e in events
            ],
        )
        await session.commit()
    async with sessions() as session:
        before = await rows_read(session, "events")
        claim = await claim_deliveries(session, NOW, limit=64)
        after = await rows_read(session, "events")
        await session.commit()
    assert claim.loaded is not None and len(claim.loaded) == 64
    assert after - before < 200, after - before  # 64: one look-up each


@postgresql_only
async def test_a_dispatch_batch_runs_two_transactions_the_load_none(
    sessions: async_sessionmaker[AsyncSession], receiver: Receiver
) -> None:
    """Counted, not timed: each batch records the previous one's tries and claims (two
    transactions, each a BEGIN and a COMMIT on the wire); the load, read by the claim's
    take, needs no transaction of its own (it took a third: BEGIN, the load, COMMIT)."""
    batches = 5
    async with sessions() as session:
        enterprise, endpoint = await add_tenant(session, cap=64)
        await session.execute(
            update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint).values(url=receiver.url)
        )
        for n in range(batches * 64):  # one delivery per queue: batches of 64
            await _queue(session, enterprise, endpoint, f"sub-{n:04}", 1)
        await session.commit()
    began: list[object] = []
    engine = sessions.kw["bind"].sync_engine

    def begin(connection: object) -> None:
        began.append(connection)

    event.listen(engine, "begin", begin)
    try:
        async with events_context(sessions, egress=EgressPolicy.allowing(["127.0.0.1"])) as context:
            sent = await dispatch_due(context, batch=64, lanes=1)
    finally:
        event.remove(engine, "begin", begin)
    assert sent == len(receiver.requests) == batches * 64
    # Per batch a claim and a record (the first has none before it; the last claim finds
    # nothing); once, the first batch's look-ups of its endpoint's secrets and connector.
    # With a load of its own: 3 * batches + 1.
    assert len(began) == 2 * batches + 2, len(began)
