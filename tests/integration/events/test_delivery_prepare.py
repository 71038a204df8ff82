"""Preparing claimed deliveries: what is looked up once per dispatch stays looked up once.

Run on SQLite and on a fresh PostgreSQL database.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from store_support import add_tenant, delivery_row

from connectory.http.egress import EgressPolicy
from connectory.services.events.call_logs import BackgroundCalls
from connectory.services.events.context import EventsContext
from connectory.services.events.deliveries import prepare_deliveries
from connectory.settings import Settings
from connectory.store import Delivery, Event


class _Runtimes:
    telemetry = None


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
    context = EventsContext(
        settings=Settings(),
        sessions=sessions,
        box=None,  # type: ignore[arg-type]  # the endpoint has no stored secret
        runtimes=_Runtimes(),  # type: ignore[arg-type]
        http=None,  # type: ignore[arg-type]  # nothing is sent
        egress=EgressPolicy(),
    )
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
