"""The Redis limiter and breaker store against a real Redis: shared state, Redis' clock.

Two limiter or breaker instances on one prefix stand for two processes (they share nothing but
Redis); the multi-process test proves the same with real processes.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import httpx
import pytest
from redis.asyncio import Redis

from connectory.errors import CircuitOpen, RateLimited, UpstreamError
from connectory.resilience import (
    BreakerTransition,
    BreakerVerdict,
    CircuitBreaker,
    FakeClock,
    Quota,
    RedisBreakerStore,
    RedisRateLimiter,
    ResiliencePipeline,
)
from connectory.spec.resilience import ResilienceSpec
from connectory.testing.faulty import FaultyUpstream, too_many_requests

pytestmark = pytest.mark.integration

FAIL, OK = BreakerVerdict.FAILURE, BreakerVerdict.SUCCESS


async def test_limiter_counts_on_redis_time_not_the_workers_clock(
    redis: Redis, redis_prefix: str
) -> None:
    frozen = FakeClock(autojump=False)  # the worker's clock never moves
    limiter = RedisRateLimiter(redis, clock=frozen, prefix=redis_prefix, window=0.3)
    quota = [Quota("c", 3)]
    for _ in range(3):
        await limiter.acquire(quota, max_wait=0)
    with pytest.raises(RateLimited) as caught:
        await limiter.acquire(quota, max_wait=0)
    assert caught.value.retry_after is not None and 0.2 < caught.value.retry_after <= 0.3
    await asyncio.sleep(0.32)  # real time passes; only Redis' clock can see it
    await limiter.acquire(quota, max_wait=0)


async def test_two_limiters_share_one_window(redis: Redis, redis_prefix: str) -> None:
    a = RedisRateLimiter(redis, prefix=redis_prefix, window=60)
    b = RedisRateLimiter(redis, prefix=redis_prefix, window=60)
    await a.acquire([Quota("c", 2)], max_wait=0)
    await b.acquire([Quota("c", 2)], max_wait=0)
    with pytest.raises(RateLimited) as caught:
        await a.acquire([Quota("c", 2)], max_wait=1)
    assert caught.value.retry_after == pytest.approx(60, abs=0.5)


async def test_quotas_are_taken_all_or_nothing_in_redis(redis: Redis, redis_prefix: str) -> None:
    limiter = RedisRateLimiter(redis, prefix=redis_prefix, window=60)
    connector = Quota("connector", 1)
    await limiter.acquire([Quota("conn-a", 5), connector], max_wait=0)
    with pytest.raises(RateLimited):
        await limiter.acquire([Quota("conn-b", 5), connector], max_wait=0)
    assert await redis.zcard(limiter.window_key("conn-b")) == 0
    for _ in range(5):
        await limiter.acquire([Quota("conn-b", 5)], max_wait=0)


async def test_a_waiting_caller_gets_the_slot_when_it_frees(
    redis: Redis, redis_prefix: str
) -> None:
    limiter = RedisRateLimiter(redis, prefix=redis_prefix, window=0.4)
    await limiter.acquire([Quota("c", 1)], max_wait=0)
    started = time.monotonic()
    waits: list[tuple[float, str]] = []
    await limiter.acquire([Quota("c", 1)], 2, lambda s, cause: waits.append((s, cause)))
    assert time.monotonic() - started > 0.35  # it waited for the slot (a lower bound only)
    assert len(waits) >= 1 and waits[0][1] == "rate limit"
    assert 0 < waits[0][0] <= 0.4  # the wait Redis computed: at most one window


async def test_a_pause_is_seen_by_every_process(redis: Redis, redis_prefix: str) -> None:
    a = RedisRateLimiter(redis, prefix=redis_prefix)
    b = RedisRateLimiter(redis, prefix=redis_prefix)
    await a.pause("c", 0.5)
    await a.pause("c", 0.1)  # a shorter pause does not shorten it
    assert 0.3 < await b.paused_for("c") <= 0.5
    with pytest.raises(RateLimited, match="pause"):
        await b.acquire([Quota("c", None)], max_wait=0.1)
    started = time.monotonic()
    await b.acquire([Quota("c", 100)], max_wait=2)
    assert time.monotonic() - started > 0.25
    assert await b.paused_for("c") == 0


def tracked(
    redis: Redis, prefix: str, names: itertools.count[int]
) -> tuple[CircuitBreaker, list[BreakerTransition]]:
    store = RedisBreakerStore(redis, prefix=prefix)
    breaker = CircuitBreaker(store, new_probe_id=lambda: f"probe-{next(names)}")
    events: list[BreakerTransition] = []
    breaker.subscribe(events.append)
    return breaker, events


async def test_breaker_state_is_shared_and_transitions_are_emitted_once(
    redis: Redis, redis_prefix: str
) -> None:
    names = itertools.count()
    a, a_events = tracked(redis, redis_prefix, names)
    b, b_events = tracked(redis, redis_prefix, names)

    async def record(breaker: CircuitBreaker, verdict: BreakerVerdict) -> None:
        ticket = await breaker.before_call("conn", probe_lease=5)
        await breaker.record(ticket, verdict, threshold=3, recovery=0.3)

    # Consecutive failures count across processes: A, B, A.
    await record(a, FAIL)
    await record(b, FAIL)
    assert await b.state("conn") == "closed"
    await record(a, FAIL)
    assert await b.health("conn") == "degraded"
    with pytest.raises(CircuitOpen) as caught:
        await b.before_call("conn", probe_lease=5)
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 0.3

    await asyncio.sleep(0.3)
    # 40 concurrent callers in two "processes": exactly one probe.
    attempts = [x.before_call("conn", probe_lease=5) for x in [a, b] * 20]
    tickets = await asyncio.gather(*attempts, return_exceptions=True)
    probes = [t for t in tickets if not isinstance(t, BaseException)]
    assert len(probes) == 1
    assert all(isinstance(t, CircuitOpen) for t in tickets if t is not probes[0])
    assert await a.state("conn") == "half_open"
    probe = probes[0]
    owner = a if any(e.to_state == "half_open" for e in a_events) else b
    await owner.record(probe, OK, threshold=3, recovery=0.3)
    assert await b.health("conn") == "healthy"
    assert await redis.exists(RedisBreakerStore(redis, prefix=redis_prefix).hash_key("conn")) == 0

    order = ["closed", "open", "half_open"]
    every = sorted(
        [(e.from_state, e.to_state) for e in a_events + b_events],
        key=lambda pair: order.index(pair[0]),
    )
    assert every == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


async def test_a_failed_probe_reopens_in_redis(redis: Redis, redis_prefix: str) -> None:
    names = itertools.count()
    a, _ = tracked(redis, redis_prefix, names)
    b, _ = tracked(redis, redis_prefix, names)
    for _ in range(2):
        ticket = await a.before_call("conn", probe_lease=5)
        await a.record(ticket, FAIL, threshold=2, recovery=0.2)
    await asyncio.sleep(0.2)
    probe = await b.before_call("conn", probe_lease=5)
    assert probe.is_probe
    await b.record(probe, FAIL, threshold=2, recovery=0.2)
    assert await a.state("conn") == "open"
    with pytest.raises(CircuitOpen) as caught:
        await a.before_call("conn", probe_lease=5)
    assert caught.value.retry_after is not None and caught.value.retry_after > 0.1


async def test_two_pipelines_on_redis_share_a_429_pause(
    redis: Redis, redis_prefix: str, upstream: FaultyUpstream
) -> None:
    def pipeline() -> ResiliencePipeline:
        return ResiliencePipeline(
            limiter=RedisRateLimiter(redis, prefix=redis_prefix),
            breaker=CircuitBreaker(RedisBreakerStore(redis, prefix=redis_prefix)),
        )

    first, second = pipeline(), pipeline()
    settings = ResilienceSpec(max_retries=0, timeout=5, rate_limit=100)
    upstream.script("/x", too_many_requests("0.6"))
    async with httpx.AsyncClient() as client:

        async def send(remaining: float) -> httpx.Response:
            return await client.get(upstream.url("/x"), timeout=remaining)

        with pytest.raises(UpstreamError):
            await first.execute(send, key="conn", policy=settings)
        started = time.monotonic()
        assert (await second.execute(send, key="conn", policy=settings)).is_success
    assert time.monotonic() - started > 0.4
    times = upstream.times("/x")
    assert times[1] - times[0] >= 0.55
