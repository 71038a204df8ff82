"""When Redis goes away: no crash, no unbounded burst, and back to shared state when it returns.

One test points the stores at a port where nothing listens; the other runs a private
redis-server (``private_redis``), kills it (by its PID) in the middle of the traffic and
starts it again.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from redis_support import PrivateRedis

from connectory.errors import CircuitOpen, RateLimited, UpstreamError
from connectory.resilience import (
    BreakerVerdict,
    CircuitBreaker,
    Quota,
    RedisBreakerStore,
    RedisRateLimiter,
    ResiliencePipeline,
    create_redis,
)
from connectory.spec.resilience import ResilienceSpec
from connectory.testing.faulty import FaultyUpstream, burst
from connectory.testing.instances import free_port

pytestmark = pytest.mark.integration


async def test_unreachable_redis_falls_back_to_a_local_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    redis = create_redis(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    limiter = RedisRateLimiter(redis, window=60, fallback_processes=4)
    caplog.set_level(logging.WARNING, logger="connectory.resilience")
    # limit 20 shared by 4 processes: 5 per process while Redis is away.
    for _ in range(5):
        await limiter.acquire([Quota("c", 20)], max_wait=0)
    with pytest.raises(RateLimited):
        await limiter.acquire([Quota("c", 20)], max_wait=0)
    await limiter.pause("c", 1)
    assert await limiter.paused_for("c") > 0.5
    warnings = [r for r in caplog.records if "Redis is unavailable" in r.getMessage()]
    assert len(warnings) == 1  # one warning per outage, not one per call
    await redis.aclose()


async def test_unreachable_redis_keeps_a_local_breaker_and_the_pipeline_working(
    upstream: FaultyUpstream,
) -> None:
    redis = create_redis(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    pipeline = ResiliencePipeline(
        limiter=RedisRateLimiter(redis),
        breaker=CircuitBreaker(RedisBreakerStore(redis)),
    )
    settings = ResilienceSpec(
        max_retries=0, circuit_breaker_threshold=2, circuit_breaker_recovery=30, timeout=5
    )
    upstream.script("/x", *burst(503, 2))
    async with httpx.AsyncClient() as client:

        async def send(remaining: float) -> httpx.Response:
            return await client.get(upstream.url("/x"), timeout=remaining)

        for _ in range(2):
            with pytest.raises(UpstreamError):
                await pipeline.execute(send, key="c", policy=settings)
        with pytest.raises(CircuitOpen):
            await pipeline.execute(send, key="c", policy=settings)
    assert upstream.count("/x") == 2
    assert await pipeline.breaker.health("c") == "degraded"
    await redis.aclose()


async def test_redis_dying_mid_run_and_coming_back(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="connectory.resilience")
    redis = create_redis(private_redis.url, timeout=0.2)
    limiter = RedisRateLimiter(redis, window=60, retry_interval=0.2)
    breaker = CircuitBreaker(RedisBreakerStore(redis, retry_interval=0.2))
    quota = [Quota("c", 3)]

    # Redis up: the shared window takes 2 of 3 slots.
    for _ in range(2):
        await limiter.acquire(quota, max_wait=0)
    assert await redis.zcard(limiter.window_key("c")) == 2

    private_redis.kill()
    # Redis down: no exception escapes; the local window allows at most the limit.
    granted = 0
    for _ in range(10):
        try:
            await limiter.acquire(quota, max_wait=0)
            granted += 1
        except RateLimited:
            pass
    assert granted == 3
    ticket = await breaker.before_call("c", probe_lease=1)
    await breaker.record(ticket, BreakerVerdict.FAILURE, threshold=5, recovery=1)
    assert limiter.guard.down

    private_redis.start()
    await asyncio.sleep(0.25)  # past retry_interval: the next call tries Redis again
    await limiter.acquire(quota, max_wait=0)
    assert not limiter.guard.down
    assert await redis.zcard(limiter.window_key("c")) == 1  # a fresh server, shared again
    messages = [r.getMessage() for r in caplog.records]
    assert sum("Redis is unavailable for the rate limiter" in m for m in messages) == 1
    assert any("Redis is back for the rate limiter" in m for m in messages)
    await redis.aclose()
