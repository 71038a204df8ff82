"""Real software on loopback for the resilience tests: the fault-injecting upstream and Redis.

Redis is the one at ``CONNECTORY_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``).
Without it the Redis tests skip with the reason, except under ``CI=true``, where a missing
Redis is a failure. Each test gets its own key prefix and its keys are deleted afterwards.
The outage tests run a redis-server of their own (``private_redis``) to kill and restart.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis
from redis_support import PrivateRedis

from connectory.resilience import create_redis
from connectory.testing.faulty import FaultyUpstream
from testkit.skips import missing

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("CONNECTORY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def upstream() -> Iterator[FaultyUpstream]:
    """A fresh fault-injecting upstream on a free loopback port."""
    with FaultyUpstream() as server:
        yield server


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A client of the test Redis; skips (or fails under CI=true) when Redis is not there."""
    client = create_redis(REDIS_URL, timeout=2.0)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        missing(f"Redis is not reachable at {REDIS_URL} ({type(exc).__name__}: {exc})")
    yield client
    await client.aclose()


@pytest.fixture
async def redis_prefix(redis: Redis) -> AsyncIterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    prefix = f"connectory-test:{uuid.uuid4().hex}:"
    yield prefix
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=1000)]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A started private redis-server, killed after the test; skips without redis-server."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server is not installed")
    server = PrivateRedis(binary)
    server.start()
    try:
        yield server
    finally:
        server.kill()
