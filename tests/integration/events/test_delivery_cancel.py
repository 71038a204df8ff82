"""A delivery lane cancelled mid-batch (another lane failed, or the dispatch was stopped)
records what it sent before it goes: nothing already delivered waits for its lease to expire
to be sent again. Run on SQLite and on a fresh PostgreSQL database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from store_support import add_enterprise, delivery_row

from connectory.http.egress import EgressPolicy
from connectory.services.events import deliveries
from connectory.services.events.context import EventsContext
from connectory.services.events.deliveries import dispatch_due
from connectory.services.events.records import as_utc
from connectory.settings import Settings
from connectory.store import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from testkit.events_context import events_context


class _Endpoint:
    """Answers the first *answered* requests at once; the others hang until the test ends."""

    def __init__(self, answered: int) -> None:
        self.answered = answered
        self.received = 0
        self.hanging = asyncio.Event()
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.received += 1
        if self.received > self.answered:
            self.hanging.set()
            await self.release.wait()
        return web.Response(status=200)


@pytest.fixture
async def endpoint_server() -> AsyncIterator[tuple[_Endpoint, str]]:
    endpoint = _Endpoint(answered=2)
    app = web.Application()
    app.router.add_post("/hook", endpoint.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield endpoint, f"http://127.0.0.1:{port}/hook"
    finally:
        endpoint.release.set()
        await runner.cleanup()


class _Runtimes:
    """No connector clients and no telemetry: deliveries need neither."""

    telemetry = None


async def _queue_of_five(sessions: async_sessionmaker[AsyncSession], url: str) -> list[str]:
    """Five due deliveries in one queue (sent in order, one at a time); their ids in order."""
    now = datetime.now(UTC)
    async with sessions() as session:
        enterprise = (await add_enterprise(session)).id
        endpoint = WebhookEndpoint(enterprise_id=enterprise, url=url, max_in_flight=4)
        session.add(endpoint)
        await session.flush()
        ids = []
        for n in range(5):
            event = Event(
                enterprise_id=enterprise,
                connection_id="conn-1",
                type="changed",
                dedup_key=f"k{n}",
                payload={"n": n},
            )
            session.add(event)
            await session.flush()
            row = delivery_row(enterprise, endpoint.id, event.seq, "sub-1", now, attempts=0)
            row["event_id"] = event.id
            await session.execute(insert(Delivery), [row])
            ids.append(row["id"])
        await session.commit()
    return ids


async def test_a_cancelled_lane_records_the_tries_it_made_and_gives_back_the_rest(
    sessions: async_sessionmaker[AsyncSession], endpoint_server: tuple[_Endpoint, str]
) -> None:
    endpoint, url = endpoint_server
    ids = await _queue_of_five(sessions, url)
    async with aiohttp.ClientSession() as http:
        context = EventsContext(
            settings=Settings(),
            sessions=sessions,
            box=None,  # type: ignore[arg-type]  # the endpoint has no stored secret
            runtimes=_Runtimes(),  # type: ignore[arg-type]
            http=http,
            egress=EgressPolicy.allowing(["127.0.0.1"]),
        )
        dispatch = asyncio.create_task(dispatch_due(context, lanes=1))
        # Two delivered, the third in flight (the endpoint holds it), two not started.
        await asyncio.wait_for(endpoint.hanging.wait(), 30)
        dispatch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(dispatch, 30)
    async with sessions() as session:
        rows: dict[str, Any] = {
            d.id: d for d in await session.scalars(select(Delivery).where(Delivery.id.in_(ids)))
        }
        tried = list(
            await session.scalars(select(DeliveryAttempt.delivery_id).order_by(DeliveryAttempt.id))
        )
    first, second, cut, fourth, fifth = (rows[i] for i in ids)
    # Sent and answered: recorded now, never sent again.
    assert tried == ids[:2]
    assert [first.status, second.status] == ["succeeded", "succeeded"]
    assert first.last_status_code == second.last_status_code == 200
    # Cut off mid-send (it may have arrived): it keeps its lease and is sent again after it.
    assert (cut.status, cut.attempts) == ("in_flight", 1)
    assert cut.lease_until is not None
    assert as_utc(cut.lease_until) > datetime.now(UTC) + timedelta(seconds=60)
    # Never started: given back as they were, due again at once (behind the one in flight).
    for untried in (fourth, fifth):
        assert (untried.status, untried.attempts, untried.lease_until) == ("pending", 0, None)


async def test_a_run_that_raises_stops_its_sibling_runs_and_records_what_was_sent(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One run raising (a bug, a closed HTTP session): gather leaves the others running,
    so their sends outlived the dispatch, and a success already sent was not recorded (sent
    again once its lease expired)."""
    now = datetime.now(UTC)
    async with sessions() as session:
        enterprise = (await add_enterprise(session)).id
        endpoint = WebhookEndpoint(
            enterprise_id=enterprise, url="http://127.0.0.1:9/hook", max_in_flight=4
        )
        session.add(endpoint)
        await session.flush()
        ids = []
        for n in range(3):
            event = Event(enterprise_id=enterprise, connection_id="c", type="t", dedup_key=f"k{n}")
            event.payload = {}
            session.add(event)
            await session.flush()
            row = delivery_row(enterprise, endpoint.id, event.seq, f"q{n}", now, attempts=0)
            row["event_id"] = event.id
            await session.execute(insert(Delivery), [row])
            ids.append(row["id"])
        await session.commit()
    sent, failing, slow = ids
    sent_done = asyncio.Event()
    never = asyncio.Event()
    outlived: list[str] = []

    async def send(context: EventsContext, item: deliveries.Prepared) -> deliveries.Outcome:
        if item.delivery_id == sent:
            sent_done.set()
            return deliveries.Outcome(item.delivery_id, True, 200, "", 1)
        if item.delivery_id == failing:
            await sent_done.wait()
            raise RuntimeError("an unexpected error in one run")
        await never.wait()  # still sending when the other run raises
        outlived.append(item.delivery_id)
        return deliveries.Outcome(item.delivery_id, True, 200, "", 1)

    monkeypatch.setattr(deliveries, "send_prepared", send)
    async with events_context(sessions, egress=EgressPolicy.allowing(["127.0.0.1"])) as context:
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(dispatch_due(context, lanes=1), 30)
        never.set()
        for _ in range(10):
            await asyncio.sleep(0)
    async with sessions() as session:
        states = {d.id: d.status for d in await session.scalars(select(Delivery))}
    assert outlived == []  # no send of the batch outlives its lane
    assert states[sent] == "succeeded"  # recorded, not sent again after the lease
    assert states[slow] == "in_flight"  # cut off mid-send: keeps its lease (at least once)
