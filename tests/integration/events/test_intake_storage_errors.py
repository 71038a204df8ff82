"""The intake when the database fails: a 503 to retry, nothing half-stored.

The failures are real: a trigger makes the database itself refuse one row of a batch (after
the rows before it in the same statement were written), and a look-up meets a database that
is not there, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import orjson
import pytest
import standardwebhooks
from events_support import WEBHOOK_SECRET, Harness
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from connectory.errors import StorageUnavailable
from connectory.services.events.intake import accept_webhook
from connectory.services.events.intake_batch import IntakeBatcher
from connectory.services.events.intake_routes import RouteCache
from connectory.store import new_id
from connectory.store.event_models import IntakeRequest
from connectory.store.models import utcnow
from connectory.testing.instances import free_port

_REFUSE = {
    "sqlite": [
        "CREATE TRIGGER refuse_intake BEFORE INSERT ON intake_requests "
        "WHEN NEW.message_id = 'refused' BEGIN SELECT RAISE(ABORT, 'disk is full'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_intake() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'disk is full'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_intake BEFORE INSERT ON intake_requests FOR EACH ROW "
        "WHEN (NEW.message_id = 'refused') EXECUTE FUNCTION refuse_intake()",
    ],
}
_ALLOW = {
    "sqlite": ["DROP TRIGGER refuse_intake"],
    "postgresql": ["DROP TRIGGER refuse_intake ON intake_requests"],
}


def _row(message_id: str) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": new_id(),
        "route": "s:route",
        "subscription_id": None,
        "connector_id": "c",
        "enterprise_id": None,
        "message_id": message_id,
        "method": "POST",
        "query": {},
        "headers": {},
        "body": b"{}",
        "received_at": now,
        "status": "pending",
        "attempts": 0,
        "next_run_at": now,
        "error": "",
    }


async def _run(sessions: async_sessionmaker[AsyncSession], statements: list[str]) -> None:
    async with sessions() as session:
        for statement in statements:
            await session.execute(text(statement))
        await session.commit()


async def _stored(sessions: async_sessionmaker[AsyncSession]) -> list[str | None]:
    async with sessions() as session:
        return sorted((await session.scalars(select(IntakeRequest.message_id))).all(), key=str)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_failed_route_look_up_is_storage_unavailable(kind: str, tmp_path: Path) -> None:
    # The database is away: nothing listens on the port, the file's folder does not exist.
    url = {
        "sqlite": f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'events.db'}",
        "postgresql": f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/events",
    }[kind]
    engine = create_async_engine(url)
    # Only what the look-up reaches before the database: the route cache and the sessions.
    context: Any = SimpleNamespace(intake_routes=RouteCache(), sessions=async_sessionmaker(engine))
    try:
        with pytest.raises(StorageUnavailable) as raised:
            await accept_webhook(context, "t" * 43, "POST", {}, {}, b"{}")
        assert "127.0.0.1" not in str(raised.value) and "missing" not in str(raised.value)
        assert len(context.intake_routes) == 0  # the failure is not cached
    finally:
        await engine.dispose()


async def test_a_failed_batch_fails_every_request_in_it_and_stores_none(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        dialect = session.get_bind().dialect.name
    await _run(sessions, _REFUSE[dialect])
    woken: list[int] = []

    async def wake() -> None:
        woken.append(1)

    batcher = IntakeBatcher(sessions, wake)
    try:
        # Queued together before the batcher's first look: one batch, one transaction; the
        # database refuses its third row after writing the first two.
        names = ["m0", "m1", "refused", "m3"]
        results = await asyncio.gather(
            *(batcher.store(_row(name)) for name in names), return_exceptions=True
        )
        assert all(isinstance(result, StorageUnavailable) for result in results), results
        # The answer says what to do, not what the database said.
        assert "disk is full" not in str(results[0])
        assert "INSERT" not in str(results[0])
        assert await _stored(sessions) == []
        assert woken == []  # nothing stored, nobody woken
        # The batcher lives on, and the senders' retries are stored (not taken for repeats).
        await _run(sessions, _ALLOW[dialect])
        retried = await asyncio.gather(*(batcher.store(_row(name)) for name in names))
        assert retried == [True] * 4
        assert await _stored(sessions) == sorted(names)
        assert woken
    finally:
        await batcher.aclose()


def _signed(message_id: str) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps({"events": [{"id": "evt_x", "type": "item.updated", "item": {"id": 1}}]})
    stamp = int(time.time())
    moment = datetime.fromtimestamp(stamp, UTC)
    signature = standardwebhooks.Webhook(WEBHOOK_SECRET).sign(message_id, moment, body)
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature,
    }
    return body, headers


def _database(harness: Harness) -> sqlite3.Connection:
    path = harness.settings.database_url.split("///", 1)[1]
    return sqlite3.connect(path, isolation_level=None)


def _count(harness: Harness) -> int:
    with _database(harness) as database:
        (count,) = database.execute("SELECT count(*) FROM intake_requests").fetchone()
    return int(count)


def test_the_intake_answers_503_when_the_database_refuses_the_write(harness: Harness) -> None:
    connection = harness.connect("webhooks", api_key="test-api-key", webhook_secret=WEBHOOK_SECRET)
    created = harness.client.post(
        "/subscriptions", json={"connection_id": connection, "event": "item_updated"}
    )
    assert created.status_code == 201, created.text
    subscription = created.json()
    harness.wait_for(
        lambda: harness.subscription(subscription["id"])["status"] == "active",
        "the subscription to become active",
    )
    url = harness.subscription(subscription["id"])["intake_url"]
    before = _count(harness)
    database = _database(harness)
    try:
        database.execute(_REFUSE["sqlite"][0])
        body, headers = _signed("refused")
        answer = httpx.post(url, content=body, headers=headers)
        assert answer.status_code == 503, answer.text
        problem = answer.json()
        assert problem["code"] == "storage_unavailable"
        assert "again" in problem["detail"]
        assert int(answer.headers["retry-after"]) >= 1
        for leak in ("disk is full", "INSERT", "Traceback", "intake_requests", WEBHOOK_SECRET):
            assert leak not in answer.text
        assert _count(harness) == before  # nothing stored
        database.execute(_ALLOW["sqlite"][0])
    finally:
        database.close()
    # The sender's retry is stored (not acknowledged as a repeat of what was never stored).
    again = httpx.post(url, content=body, headers=headers)
    assert again.status_code == 200 and again.json() == {"received": True}
