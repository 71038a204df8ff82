"""A migrated, empty store of each kind (SQLite, and a fresh PostgreSQL database) for the
tests that drive the events services directly, without a server; the rows they start from
(enterprises, endpoints, subscriptions, due deliveries, received events, intake requests);
and an intake batcher that counts its wakes."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectory.events.handling import ReceivedEvent
from connectory.services.events.intake_batch import IntakeBatcher
from connectory.store import (
    Enterprise,
    EventSubscription,
    WebhookEndpoint,
    create_engine,
    create_sessionmaker,
    migrate,
    new_id,
)
from connectory.store.models import utcnow
from testkit.skips import missing

#: The time the store tests run at.
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
#: Where their endpoints point (nothing listens: the tests never send).
HOOK_URL = "http://127.0.0.1:9/hook"

ADMIN_DSN = os.environ.get(
    "CONNECTORY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database of each kind (SQLite, a fresh PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'events.db'}"
        return
    name = f"connectory_events_{uuid.uuid4().hex[:10]}"
    try:
        admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        missing(f"PostgreSQL is not reachable at {ADMIN_DSN}: {error}")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{url}/{name}"
    finally:
        admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A migrated, empty database of each kind."""
    engine = create_engine(database_url)
    await migrate(engine)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


async def add_enterprise(session: AsyncSession) -> Enterprise:
    """A new enterprise, flushed (its id is known)."""
    enterprise = Enterprise(name="t")
    session.add(enterprise)
    await session.flush()
    return enterprise


async def add_tenant(session: AsyncSession, cap: int = 4) -> tuple[str, str]:
    """A new enterprise with one endpoint of ``max_in_flight`` *cap*: their ids."""
    enterprise = await add_enterprise(session)
    endpoint = WebhookEndpoint(enterprise_id=enterprise.id, url=HOOK_URL, max_in_flight=cap)
    session.add(endpoint)
    await session.flush()
    return enterprise.id, endpoint.id


def new_subscription(enterprise_id: str, connection_id: str = "conn-1") -> EventSubscription:
    """A subscription object (not added: the store functions only read it)."""
    return EventSubscription(id=new_id(), enterprise_id=enterprise_id, connection_id=connection_id)


def delivery_row(
    enterprise: str, endpoint: str, seq: int, order_key: str, due: datetime, attempts: int = 3
) -> dict[str, Any]:
    """A pending delivery's row for ``insert(Delivery)``, due at *due*."""
    return {
        "id": new_id(),
        "enterprise_id": enterprise,
        "endpoint_id": endpoint,
        "event_seq": seq,
        "event_id": new_id(),
        "order_key": order_key,
        "status": "pending",
        "attempts": attempts,
        "next_run_at": due,
        "created_at": due,
    }


def received_event(key: str, type_: str = "a") -> ReceivedEvent:
    """An event as a webhook's ``handle`` gives it, with dedup key *key*."""
    return ReceivedEvent(type=type_, dedup_key=key, payload={"key": key}, occurred_at=NOW)


def intake_row(message_id: str) -> dict[str, Any]:
    """A received webhook's row for :meth:`IntakeBatcher.store`, pending, with *message_id*."""
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


@asynccontextmanager
async def intake_batcher(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[tuple[IntakeBatcher, list[int]]]:
    """A batcher on *sessions*, and its wakes of the worker (one entry each); closed on exit."""
    woken: list[int] = []

    async def wake() -> None:
        woken.append(1)

    batcher = IntakeBatcher(sessions, wake)
    try:
        yield batcher, woken
    finally:
        await batcher.aclose()


async def rows_read(session: AsyncSession, table: str) -> int:
    """Rows of *table* read so far by *session*'s transaction, by scans and index look-ups
    (PostgreSQL's ``pg_stat_xact_user_tables``): counted, not timed."""
    read = await session.execute(
        text(
            "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
            "FROM pg_stat_xact_user_tables WHERE relname = :table"
        ),
        {"table": table},
    )
    return int(read.scalar_one())
