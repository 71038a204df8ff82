"""The intake when the database fails: a 503 to retry when it is unavailable, and when it
refuses one row, only that row fails (the rest of the batch, other tenants' webhooks, is stored).

The failures are real: a trigger makes the database itself refuse one row of a batch (after
the rows before it in the same statement were written), PostgreSQL refuses an over-long message
id, a trigger meets an unavailable resource (PostgreSQL's ``disk_full``; on SQLite a function
failing, which SQLite reports as an ``OperationalError``), and a look-up meets a database that
is not there, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import standardwebhooks
from events_support import WEBHOOK_SECRET, Harness
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from store_support import intake_batcher, intake_row

from connectory.errors import StorageUnavailable, WebhookUnstorable
from connectory.services.events.intake import accept_webhook, storable_message_id
from connectory.services.events.intake_batch import IntakeBatcher, is_transient
from connectory.services.events.records import dialect_of
from connectory.store.event_models import IntakeRequest
from connectory.testing.instances import free_port
from testkit.events_context import events_context

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
#: The database unavailable for one row: an error a retry can get past (PostgreSQL; SQLite
#: holds a lock instead, in the test).
_UNAVAILABLE = {
    "postgresql": [
        "CREATE FUNCTION refuse_intake() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'disk is full' USING ERRCODE = 'disk_full'; END $$ "
        "LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_intake BEFORE INSERT ON intake_requests FOR EACH ROW "
        "WHEN (NEW.message_id = 'refused') EXECUTE FUNCTION refuse_intake()",
    ],
}


async def _run(sessions: async_sessionmaker[AsyncSession], statements: list[str]) -> None:
    async with sessions() as session:
        for statement in statements:
            await session.execute(text(statement))
        await session.commit()


async def _stored(sessions: async_sessionmaker[AsyncSession]) -> list[str | None]:
    async with sessions() as session:
        return sorted((await session.scalars(select(IntakeRequest.message_id))).all(), key=str)


async def _dialect(sessions: async_sessionmaker[AsyncSession]) -> str:
    async with sessions() as session:
        return dialect_of(session)


async def _store_together(batcher: IntakeBatcher, names: list[str]) -> list[bool | BaseException]:
    """Store a row per message id, all queued before the batcher's first look: one batch."""
    rows = [intake_row(name) for name in names]
    return await asyncio.gather(*(batcher.store(row) for row in rows), return_exceptions=True)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_failed_route_look_up_is_storage_unavailable(kind: str, tmp_path: Path) -> None:
    # The database is away: nothing listens on the port, the file's folder does not exist.
    url = {
        "sqlite": f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'events.db'}",
        "postgresql": f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/events",
    }[kind]
    engine = create_async_engine(url)
    try:
        async with events_context(async_sessionmaker(engine)) as context:
            with pytest.raises(StorageUnavailable) as raised:
                await accept_webhook(context, "t" * 43, "POST", {}, {}, b"{}")
            assert "127.0.0.1" not in str(raised.value) and "missing" not in str(raised.value)
            assert len(context.intake_routes) == 0  # the failure is not cached
    finally:
        await engine.dispose()


async def test_a_refused_row_fails_alone_and_the_rest_of_its_batch_is_stored(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    dialect = await _dialect(sessions)
    await _run(sessions, _REFUSE[dialect])
    async with intake_batcher(sessions) as (batcher, woken):
        # Queued together before the batcher's first look: one batch, one transaction; the
        # database refuses its third row after writing the first two.
        names = ["m0", "m1", "refused", "m3"]
        results = await _store_together(batcher, names)
        assert [results[0], results[1], results[3]] == [True] * 3, results
        assert isinstance(results[2], WebhookUnstorable), results
        # The answer says what happened, not what the database said.
        assert "disk is full" not in str(results[2])
        assert "INSERT" not in str(results[2])
        assert await _stored(sessions) == ["m0", "m1", "m3"]
        assert woken
        # The batcher lives on; once the database accepts it, the refused one is stored.
        await _run(sessions, _ALLOW[dialect])
        retried = await _store_together(batcher, names)
        assert retried == [False, False, True, False]  # the others are repeats
        assert await _stored(sessions) == sorted(names)


async def test_an_over_long_message_id_is_stored_shortened_and_still_deduplicated(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    long_id = "msg_" + "x" * 300
    async with intake_batcher(sessions) as (batcher, _):
        names = ["m0", storable_message_id(long_id), storable_message_id(long_id + "y")]
        assert await _store_together(batcher, names) == [True, True, True]
        assert await batcher.store(intake_row(storable_message_id(long_id))) is False  # a repeat
        stored = await _stored(sessions)
        assert len(stored) == 3 and all(len(str(value)) <= 200 for value in stored)


async def test_postgresql_refuses_an_unshortened_long_id_and_only_that_row_fails(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    if await _dialect(sessions) != "postgresql":
        pytest.skip("SQLite does not enforce the column's length")
    async with intake_batcher(sessions) as (batcher, _):
        # The middle one: what the intake stored before it shortened ids.
        results = await _store_together(batcher, ["m0", "x" * 201, "m2"])
        assert results[0] is True and results[2] is True, results
        assert isinstance(results[1], WebhookUnstorable), results
        assert await _stored(sessions) == ["m0", "m2"]


async def test_an_unavailable_database_fails_the_batch_with_storage_unavailable(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    dialect = await _dialect(sessions)
    engine = sessions.kw["bind"]
    holder: sqlite3.Connection | None = None
    if dialect == "sqlite":
        # Another process holds the database's write lock past the writer's busy timeout
        # (shortened here): "database is locked", SQLITE_BUSY, what a retry gets past.
        def short_wait(connection: Any, _record: Any) -> None:
            connection.execute("PRAGMA busy_timeout=50")

        event.listen(engine.sync_engine, "connect", short_wait)
        await engine.dispose()  # new connections, with the short wait
        holder = sqlite3.connect(engine.url.database or "", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
    else:
        await _run(sessions, _UNAVAILABLE[dialect])
    async with intake_batcher(sessions) as (batcher, woken):
        names = ["m0", "m1", "refused", "m3"]
        results = await _store_together(batcher, names)
        assert all(isinstance(result, StorageUnavailable) for result in results), results
        assert len({id(result) for result in results}) == 4  # each request its own error
        assert "may not have been stored" in str(results[0])
        assert "disk" not in str(results[0]) and "INSERT" not in str(results[0])
        if holder is not None:
            holder.execute("ROLLBACK")
            holder.close()
        assert await _stored(sessions) == []
        assert woken == []  # nothing stored, nobody woken
        # The senders' retries are stored (not taken for repeats of what was never stored).
        if holder is None:
            await _run(sessions, _ALLOW[dialect])
        retried = await _store_together(batcher, names)
        assert retried == [True] * 4
        assert await _stored(sessions) == sorted(names)
        assert woken


async def test_a_schema_error_on_sqlite_is_not_taken_for_an_unavailable_database(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """SQLite raises OperationalError for "no such table" as for a locked database: the
    result code tells them apart (a 503 would make senders retry our bug for ever)."""
    if await _dialect(sessions) != "sqlite":
        pytest.skip("SQLite's result codes")
    await _run(sessions, ["ALTER TABLE intake_requests RENAME TO intake_requests_moved"])
    async with sessions() as session:
        with pytest.raises(OperationalError) as raised:
            await session.execute(text("SELECT count(*) FROM intake_requests"))
    assert not is_transient(raised.value)


async def test_stopping_mid_write_answers_the_batch(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    batcher = IntakeBatcher(sessions)
    writing = asyncio.Event()

    async def stalled_write(rows: list[dict[str, Any]]) -> set[str]:
        writing.set()
        await asyncio.Event().wait()  # the database never answers
        return set()

    monkeypatch.setattr(batcher, "_write", stalled_write)
    requests = [asyncio.create_task(batcher.store(intake_row(f"m{n}"))) for n in range(3)]
    await writing.wait()
    await batcher.aclose()
    for _ in range(3):
        await asyncio.sleep(0)
    assert all(request.done() for request in requests)  # none left waiting forever
    for request in requests:
        assert isinstance(request.exception(), StorageUnavailable)


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


def _intake_url(harness: Harness) -> str:
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
    return str(harness.subscription(subscription["id"])["intake_url"])


def test_the_intake_answers_422_when_the_database_refuses_the_row(harness: Harness) -> None:
    url = _intake_url(harness)
    before = _count(harness)
    database = _database(harness)
    try:
        database.execute(_REFUSE["sqlite"][0])
        body, headers = _signed("refused")
        answer = httpx.post(url, content=body, headers=headers)
        # Not a 503: the sender would retry it forever, and it would be refused every time.
        assert answer.status_code == 422, answer.text
        problem = answer.json()
        assert problem["code"] == "webhook_unstorable"
        assert "retry-after" not in answer.headers
        for leak in ("disk is full", "INSERT", "Traceback", "intake_requests", WEBHOOK_SECRET):
            assert leak not in answer.text
        assert _count(harness) == before  # nothing stored
        # Another webhook at the same time is stored as usual.
        other_body, other_headers = _signed("accepted")
        accepted = httpx.post(url, content=other_body, headers=other_headers)
        assert accepted.status_code == 200 and accepted.json() == {"received": True}
        database.execute(_ALLOW["sqlite"][0])
    finally:
        database.close()
    # Once the database accepts it, the same webhook is stored (it never was).
    again = httpx.post(url, content=body, headers=headers)
    assert again.status_code == 200 and again.json() == {"received": True}


def test_an_over_long_message_id_is_accepted_and_its_repeat_recognised(harness: Harness) -> None:
    url = _intake_url(harness)
    body, headers = _signed("msg_" + "7" * 400)
    first = httpx.post(url, content=body, headers=headers)
    assert first.status_code == 200 and first.json() == {"received": True}
    again = httpx.post(url, content=body, headers=headers)
    assert again.status_code == 200 and again.json() == {"received": True, "duplicate": True}
    with _database(harness) as database:
        stored = [row[0] for row in database.execute("SELECT message_id FROM intake_requests")]
    assert ("msg_" + "7" * 124 + "#") in "".join(stored)
    assert all(len(value) <= 200 for value in stored if value is not None)
