"""Claims that go round: an endpoint's queues walked a slice per claim, endpoints a slice
per claim; a dispatch goes on claiming while a walk is part-way, or until it has been once
round the endpoints, so a due head further round is sent in the same dispatch, not a tick
per slice later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from events_support import Receiver
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from store_support import HOOK_URL, add_tenant, delivery_row

from connectory.http.egress import EgressPolicy
from connectory.services.events import claim_heads, deliveries
from connectory.services.events.deliveries import claim_deliveries, dispatch_due
from connectory.store import Delivery, Event, WebhookEndpoint, new_id
from testkit.events_context import events_context

postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@postgresql_only
async def test_a_due_head_beyond_the_first_walk_is_sent_in_the_first_dispatch(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    monkeypatch.setattr(claim_heads, "CURSORS", claim_heads.WalkCursors())
    now = datetime.now(UTC)
    async with sessions() as session:
        enterprise, endpoint_id = await add_tenant(session, cap=4)
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None
        endpoint.url = receiver.url
        event = Event(enterprise_id=enterprise, connection_id="c", type="t", dedup_key="k")
        event.payload = {}
        session.add(event)
        await session.flush()
        rows: list[dict[str, Any]] = []
        for n in range(1_000):  # backing off, with a newer event waiting behind each head
            head = delivery_row(enterprise, endpoint_id, 2 * n + 1, f"sub-{n:05}", now)
            head["next_run_at"] = now + timedelta(minutes=10)
            rows += [
                head,
                delivery_row(
                    enterprise, endpoint_id, 2 * n + 2, f"sub-{n:05}", now - timedelta(hours=1)
                ),
            ]
        healthy = delivery_row(enterprise, endpoint_id, 10_000, "sub-00990x", now)
        healthy["event_id"] = event.id
        await session.execute(insert(Delivery), [*rows, healthy])
        await session.commit()
    async with events_context(sessions, egress=EgressPolicy.allowing(["127.0.0.1"])) as context:
        sent = await dispatch_due(context)
    assert sent == 1 and len(receiver.requests) == 1


@postgresql_only
async def test_claims_go_round_the_endpoints_a_slice_at_a_time(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """More endpoints with due work than a claim looks at: each claim takes the next slice,
    and within a round every endpoint's due delivery is claimed."""
    monkeypatch.setattr(claim_heads, "CURSORS", claim_heads.WalkCursors())
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    endpoints = 250  # a claim of 100 looks at 100
    async with sessions() as session:
        enterprise, _ = await add_tenant(session)
        ids = [new_id() for _ in range(endpoints)]
        await session.execute(
            insert(WebhookEndpoint),
            [
                {"id": i, "enterprise_id": enterprise, "url": HOOK_URL, "max_in_flight": 4}
                for i in ids
            ],
        )
        due = [delivery_row(enterprise, i, n, "sub-1", now) for n, i in enumerate(ids, 1)]
        await session.execute(insert(Delivery), due)
        await session.commit()
    claims: list[list[str]] = []
    for _ in range(3):  # 250 endpoints, 100 a claim: a round
        async with sessions() as session:
            claims.append((await claim_deliveries(session, now, limit=100)).ids)
            await session.commit()
    # A claim looks at a bounded number of endpoints (a window each), not at every one.
    assert [len(claim) for claim in claims] == [100, 100, 50]
    assert {i for claim in claims for i in claim} == {row["id"] for row in due}


@postgresql_only
async def test_a_claim_says_when_it_left_a_walk_part_way(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim's own result carries the part-way flag (no process-wide state): set while
    a walk has queues left to visit, clear once a walk reaches the endpoint's last queue."""
    monkeypatch.setattr(claim_heads, "CURSORS", claim_heads.WalkCursors())
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    async with sessions() as session:
        enterprise, endpoint = await add_tenant(session, cap=4)
        rows: list[dict[str, Any]] = []
        for n in range(400):  # each head backing off, a newer event due behind it
            head = delivery_row(enterprise, endpoint, 2 * n + 1, f"sub-{n:05}", now)
            head["next_run_at"] = now + timedelta(minutes=10)
            rows += [head, delivery_row(enterprise, endpoint, 2 * n + 2, f"sub-{n:05}", now)]
        await session.execute(insert(Delivery), rows)
        await session.commit()
    results: list[deliveries.ClaimResult] = []
    for _ in range(8):  # 400 queues, 80 a walk: a round within 5 claims
        async with sessions() as session:
            results.append(await claim_deliveries(session, now, limit=10))
            await session.commit()
    assert all(result.ids == [] for result in results)
    assert results[0].unfinished
    assert not all(result.unfinished for result in results)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_sqlite_dispatch_with_nothing_due_claims_once(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite (no walks) a claim never leaves anything part-way: an empty claim ends the
    dispatch."""
    claims: list[deliveries.ClaimResult] = []
    claim = deliveries.claim_deliveries

    async def counted(*args: Any, **kwargs: Any) -> deliveries.ClaimResult:
        claims.append(await claim(*args, **kwargs))
        return claims[-1]

    monkeypatch.setattr(deliveries, "claim_deliveries", counted)
    async with events_context(sessions) as context:
        assert await dispatch_due(context, lanes=1) == 0
    assert claims == [deliveries.ClaimResult([], unfinished=False)]


async def _endpoints_backing_off(
    session: AsyncSession, count: int, url: str, now: datetime
) -> tuple[str, list[str]]:
    """*count* endpoints (in id order) of a new tenant, each with a delivery backing off."""
    enterprise, _ = await add_tenant(session)
    ids = sorted(new_id() for _ in range(count))
    await session.execute(
        insert(WebhookEndpoint),
        [{"id": i, "enterprise_id": enterprise, "url": url, "max_in_flight": 4} for i in ids],
    )
    rows = [delivery_row(enterprise, i, n, "sub-1", now) for n, i in enumerate(ids, 1)]
    for row in rows:
        row["next_run_at"] = now + timedelta(minutes=10)
    await session.execute(insert(Delivery), rows)
    return enterprise, ids


@postgresql_only
@pytest.mark.parametrize("lanes", [1, 2])
async def test_a_due_head_beyond_the_first_slices_of_endpoints_is_sent_in_the_first_dispatch(
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    lanes: int,
) -> None:
    """The slices of endpoints the lanes' first claims look at have nothing due (every one
    backing off): the dispatch goes on to the next slice instead of stopping until the next
    tick."""
    monkeypatch.setattr(claim_heads, "CURSORS", claim_heads.WalkCursors())
    now = datetime.now(UTC)
    batch = 10  # a claim looks at MIN_ENDPOINTS endpoints
    first_slices = claim_heads.MIN_ENDPOINTS * lanes  # looked at by each lane's first claim
    async with sessions() as session:
        enterprise, ids = await _endpoints_backing_off(
            session, first_slices + 16, receiver.url, now
        )
        event = Event(enterprise_id=enterprise, connection_id="c", type="t", dedup_key="k")
        event.payload = {}
        session.add(event)
        await session.flush()
        due = delivery_row(enterprise, ids[first_slices + 8], 10_000, "sub-2", now)
        due["event_id"] = event.id
        await session.execute(insert(Delivery), [due])
        await session.commit()
    async with events_context(sessions, egress=EgressPolicy.allowing(["127.0.0.1"])) as context:
        sent = await dispatch_due(context, batch=batch, lanes=lanes)
    assert sent == 1 and len(receiver.requests) == 1


@postgresql_only
@pytest.mark.parametrize("lanes", [1, 2])
async def test_a_dispatch_with_nothing_due_stops_after_one_round_of_the_endpoints(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch, lanes: int
) -> None:
    """Every endpoint backing off: the dispatch looks once round them (a slice a claim),
    then stops; it does not go on claiming nothing."""
    monkeypatch.setattr(claim_heads, "CURSORS", claim_heads.WalkCursors())
    endpoints = 200
    async with sessions() as session:
        await _endpoints_backing_off(session, endpoints, HOOK_URL, datetime.now(UTC))
        await session.commit()
    claims: list[deliveries.ClaimResult] = []
    claim = deliveries.claim_deliveries

    async def counted(*args: Any, **kwargs: Any) -> deliveries.ClaimResult:
        claims.append(await claim(*args, **kwargs))
        return claims[-1]

    monkeypatch.setattr(deliveries, "claim_deliveries", counted)
    async with events_context(sessions) as context:
        assert await dispatch_due(context, batch=10, lanes=lanes) == 0
    slices = -(-endpoints // claim_heads.MIN_ENDPOINTS)  # claims in a round: 4
    # Each lane stops once the endpoints' cursor (shared by the lanes) has come back to
    # where its own first claim started: at least a round; a lane whose first claim came
    # after the others' later ones goes a round from its own start, so at most a round each.
    assert slices <= len(claims) <= slices * lanes + lanes
    assert all(result.ids == [] for result in claims)
    assert not claims[-1].unfinished
