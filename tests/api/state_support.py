"""Shared state for API tests: Redis (when a test runs the server on it) and direct reads."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import redis
from sqlalchemy import select

from connectory.store import Connection, create_engine, create_sessionmaker
from testkit.skips import missing

REDIS_URL = os.environ.get("CONNECTORY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of the test's own (skips, or fails under CI=true, without Redis).

    Every key under it is deleted afterwards.
    """
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        missing(f"Redis is not reachable at {REDIS_URL} ({type(error).__name__}: {error})")
    prefix = f"connectory-test:{uuid.uuid4().hex}:"
    try:
        yield prefix
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def redis_keys(prefix: str) -> set[str]:
    """The Redis keys under *prefix*, without it."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        return {
            key.decode().removeprefix(prefix)
            for key in client.scan_iter(match=f"{prefix}*", count=1000)
        }
    finally:
        client.close()


async def stored_connection(database_url: str, connection_id: str) -> Connection:
    """The connection's row as stored (read directly, not through the API under test)."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            row = await session.scalar(select(Connection).where(Connection.id == connection_id))
            assert row is not None
            return row
    finally:
        await engine.dispose()
