"""Paced calls with the Redis limiter: the wait for a shared slot is outside the deadline.

The window is shortened to 2 s so that a wait longer than the call's timeout costs about
two seconds; nothing is asserted about how long anything took.
"""

from __future__ import annotations

import httpx
import pytest
from redis.asyncio import Redis

from connectory.errors import RateLimited
from connectory.resilience import RedisRateLimiter, ResiliencePipeline
from connectory.spec.resilience import ResilienceSpec
from connectory.testing.faulty import FaultyUpstream

pytestmark = pytest.mark.integration

# One request per 2 s window, and 0.5 s to answer: the second call must wait past its timeout.
POLICY = ResilienceSpec(rate_limit=1, timeout=0.5, max_retries=0)


async def test_a_paced_call_waits_for_the_shared_slot_past_its_timeout(
    redis: Redis, redis_prefix: str, upstream: FaultyUpstream
) -> None:
    # Two limiters on one prefix: two processes sharing the connection's window.
    first = ResiliencePipeline(limiter=RedisRateLimiter(redis, prefix=redis_prefix, window=2.0))
    second = ResiliencePipeline(limiter=RedisRateLimiter(redis, prefix=redis_prefix, window=2.0))
    async with httpx.AsyncClient() as http:

        async def send(remaining: float) -> httpx.Response:
            return await http.get(upstream.url("/items"), timeout=remaining)

        assert (await first.execute(send, key="c1", policy=POLICY)).is_success
        assert (await second.execute(send, key="c1", policy=POLICY, max_pause=5)).is_success
        with pytest.raises(RateLimited) as capped:
            await first.execute(send, key="c1", policy=POLICY, max_pause=0.01)
    assert "more than max_read_wait (0.01 s) allows" in str(capped.value)
    assert upstream.count("/items") == 2
