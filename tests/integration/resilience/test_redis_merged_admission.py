"""Breaker admission and rate-limit slot in one Redis round trip, deciding as before.

A pipeline whose limiter and breaker store are in the same Redis runs both scripts as one
(:mod:`connectory.resilience.redis_admission`): these tests count the scripts each attempt
sends and check that what is decided (slots taken, rejections, waits, outages) is what the
two components decide apart.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from connectory.errors import CircuitOpen, RateLimited
from connectory.resilience import (
    BreakerVerdict,
    CircuitBreaker,
    MemoryRateLimiter,
    RedisBreakerStore,
    RedisRateLimiter,
    ResiliencePipeline,
    connection_quota_key,
)
from connectory.resilience.redis_admission import RedisAdmission
from connectory.spec.resilience import ResilienceSpec
from connectory.testing.faulty import FaultyUpstream

pytestmark = pytest.mark.integration


@pytest.fixture
def script_runs(redis: Redis) -> Iterator[list[str]]:
    """The scripts (EVALSHA / EVAL) the test's Redis client sends, in order."""
    runs: list[str] = []
    execute = redis.execute_command

    async def counted(*args: Any, **options: Any) -> Any:
        if str(args[0]).upper() in ("EVALSHA", "EVAL"):
            runs.append(str(args[1]))
        return await execute(*args, **options)

    redis.execute_command = counted  # type: ignore[method-assign]
    yield runs
    redis.execute_command = execute  # type: ignore[method-assign]


def _pipeline(redis: Redis, prefix: str, grants: list[float] | None = None) -> ResiliencePipeline:
    on_grant = grants.append if grants is not None else None
    return ResiliencePipeline(
        limiter=RedisRateLimiter(redis, prefix=prefix, on_grant=on_grant),
        breaker=CircuitBreaker(RedisBreakerStore(redis, prefix=prefix)),
    )


async def test_merged_only_for_a_redis_limiter_and_store_on_one_client(
    redis: Redis, redis_prefix: str
) -> None:
    assert isinstance(_pipeline(redis, redis_prefix).admission, RedisAdmission)
    memory = ResiliencePipeline(
        limiter=MemoryRateLimiter(),
        breaker=CircuitBreaker(RedisBreakerStore(redis, prefix=redis_prefix)),
    )
    assert memory.admission is None
    assert ResiliencePipeline().admission is None


async def test_an_attempt_admits_and_takes_its_slot_in_one_round_trip(
    redis: Redis, redis_prefix: str, upstream: FaultyUpstream, script_runs: list[str]
) -> None:
    grants: list[float] = []
    pipeline = _pipeline(redis, redis_prefix, grants)
    policy = ResilienceSpec(max_retries=0, timeout=5, rate_limit=3)
    async with httpx.AsyncClient() as client:

        async def send(remaining: float) -> httpx.Response:
            return await client.get(upstream.url("/x"), timeout=remaining)

        for _ in range(3):
            assert (await pipeline.execute(send, key="conn", policy=policy)).is_success
        # Two scripts per call: admission with its slot, then the breaker's verdict.
        assert len(script_runs) == 6
        assert len(set(script_runs[0::2])) == 1  # the merged script, every time
        assert len(grants) == 3
        assert await redis.zcard(_window(pipeline)) == 3
        # The fourth finds no slot within its deadline: the limiter's own answer.
        with pytest.raises(RateLimited):
            await pipeline.execute(
                send, key="conn", policy=ResilienceSpec(max_retries=0, timeout=1, rate_limit=3)
            )
    assert len(upstream.times("/x")) == 3


async def test_a_rejected_call_takes_no_slot(
    redis: Redis, redis_prefix: str, upstream: FaultyUpstream
) -> None:
    pipeline = _pipeline(redis, redis_prefix)
    breaker = pipeline.breaker
    for _ in range(2):
        ticket = await breaker.before_call("conn", probe_lease=5)
        await breaker.record(ticket, BreakerVerdict.FAILURE, threshold=2, recovery=60)
    policy = ResilienceSpec(max_retries=0, timeout=5, rate_limit=3)
    async with httpx.AsyncClient() as client:

        async def send(remaining: float) -> httpx.Response:
            return await client.get(upstream.url("/x"), timeout=remaining)

        with pytest.raises(CircuitOpen):
            await pipeline.execute(send, key="conn", policy=policy)
    assert await redis.zcard(_window(pipeline)) == 0
    assert upstream.times("/x") == []


async def test_the_probe_is_admitted_through_the_merged_step(
    redis: Redis, redis_prefix: str, upstream: FaultyUpstream
) -> None:
    ids = itertools.count()
    pipeline = ResiliencePipeline(
        limiter=RedisRateLimiter(redis, prefix=redis_prefix),
        breaker=CircuitBreaker(
            RedisBreakerStore(redis, prefix=redis_prefix), new_probe_id=lambda: f"p{next(ids)}"
        ),
    )
    breaker = pipeline.breaker
    ticket = await breaker.before_call("conn", probe_lease=5)
    await breaker.record(ticket, BreakerVerdict.FAILURE, threshold=1, recovery=0.0)
    assert await breaker.state("conn") == "open"
    policy = ResilienceSpec(max_retries=0, timeout=5, rate_limit=10)
    async with httpx.AsyncClient() as client:

        async def send(remaining: float) -> httpx.Response:
            return await client.get(upstream.url("/x"), timeout=remaining)

        # Recovery is over: this call is the half-open probe, its success closes the circuit.
        assert (await pipeline.execute(send, key="conn", policy=policy)).is_success
    assert await breaker.state("conn") == "closed"
    assert await redis.zcard(_window(pipeline)) == 1


async def test_redis_down_falls_back_to_both_local_stores(
    redis_prefix: str, upstream: FaultyUpstream
) -> None:
    from connectory.resilience import create_redis

    # Nothing listens on port 1: every script fails to connect.
    down = create_redis("redis://127.0.0.1:1/0", timeout=0.2)
    pipeline = _pipeline(down, redis_prefix)
    assert pipeline.admission is not None
    policy = ResilienceSpec(max_retries=0, timeout=5, rate_limit=2)
    try:
        async with httpx.AsyncClient() as client:

            async def send(remaining: float) -> httpx.Response:
                return await client.get(upstream.url("/x"), timeout=remaining)

            for _ in range(2):
                assert (await pipeline.execute(send, key="conn", policy=policy)).is_success
            assert not pipeline.admission.usable()
            # The local fallback limiter counts the same calls: the third waits past 1 s.
            with pytest.raises(RateLimited):
                await pipeline.execute(
                    send, key="conn", policy=ResilienceSpec(max_retries=0, timeout=1, rate_limit=2)
                )
    finally:
        await down.aclose()
    assert len(upstream.times("/x")) == 2


def _window(pipeline: ResiliencePipeline) -> str:
    """The Redis key of connection ``conn``'s rate-limit window."""
    limiter = pipeline.limiter
    assert isinstance(limiter, RedisRateLimiter)
    return limiter.window_key(connection_quota_key("conn"))
