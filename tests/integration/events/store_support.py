"""A migrated, empty store of each kind (SQLite, and a fresh PostgreSQL database) for the
tests that drive the events services directly, without a server."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectory.store import create_engine, create_sessionmaker, migrate

ADMIN_DSN = os.environ.get(
    "CONNECTORY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def missing(reason: str) -> None:
    """Skip for a missing service; under CI=true, fail instead (nothing is optional there)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (under CI=true PostgreSQL is required, not skipped)")
    pytest.skip(reason)


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
