"""Paced calls (``max_pause``): rate-limit and Retry-After waits are outside the deadline."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from resilience_support import ScriptedUpstream, policy, sender

from connectory.errors import CircuitOpen, RateLimited, UpstreamError, UpstreamTimeout
from connectory.resilience import (
    FakeClock,
    ResilienceEvent,
    ResiliencePipeline,
    Waiting,
)


async def test_a_rate_limit_wait_does_not_eat_the_deadline(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    limited = policy(rate_limit=1, timeout=10)
    given: list[float] = []

    async def send(remaining: float) -> httpx.Response:
        given.append(remaining)
        return await sender(client)(remaining)

    await pipeline.execute(send, key="c1", policy=limited, max_pause=300)
    events: list[ResilienceEvent] = []
    await pipeline.execute(send, key="c1", policy=limited, max_pause=300, observer=events.append)
    assert upstream.arrivals == [0, 60]
    # The second call waited 60 s for its slot, and still had its whole 10 s for the answer.
    assert given == [10, 10]
    assert [str(e) for e in events if isinstance(e, Waiting)] == ["waiting 60.0 s (rate limit)"]


async def test_a_rate_limit_wait_over_max_pause_fails_at_once(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    limited = policy(rate_limit=1, timeout=10)
    await pipeline.execute(sender(client), key="c1", policy=limited, max_pause=59)
    with pytest.raises(RateLimited) as caught:
        await pipeline.execute(sender(client), key="c1", policy=limited, max_pause=59)
    assert caught.value.retry_after == 60
    assert str(caught.value) == (
        "the rate limit for this connection or connector is used up; the next request may go "
        "in 60.00 s, more than max_read_wait (59 s) allows. Retry later or raise max_read_wait."
    )
    assert upstream.count == 1
    assert clock.monotonic() == 0


async def test_a_pause_set_by_another_callers_429_is_waited_out(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    upstream.script(httpx.Response(429, headers={"Retry-After": "100"}))
    with pytest.raises(UpstreamError):
        await pipeline.execute(sender(client), key="c1", policy=policy(timeout=30, max_retries=0))
    events: list[ResilienceEvent] = []
    response = await pipeline.execute(
        sender(client), key="c1", policy=policy(timeout=30), max_pause=300, observer=events.append
    )
    assert response.is_success
    assert upstream.arrivals == [0, 100]
    assert [str(e) for e in events if isinstance(e, Waiting)] == [
        "waiting 100.0 s (paused by upstream)"
    ]


async def test_retry_after_beyond_the_deadline_is_waited_when_paced(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    upstream.script(httpx.Response(503, headers={"Retry-After": "45"}))
    response = await pipeline.execute(
        sender(client), key="c1", policy=policy(timeout=30), max_pause=300
    )
    assert response.is_success
    assert upstream.arrivals == [0, 45]


async def test_retry_after_over_max_pause_is_rate_limited_even_when_returning_statuses(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    upstream.script(httpx.Response(429, headers={"Retry-After": "400"}))
    with pytest.raises(RateLimited) as caught:
        await pipeline.execute(
            sender(client),
            key="c1",
            policy=policy(timeout=30),
            max_pause=300,
            return_final_status=True,
        )
    assert caught.value.retry_after == 400
    assert caught.value.attempts == 1
    assert str(caught.value) == (
        "the upstream answered 429 Too Many Requests and asked to wait 400.00 s (attempt 1 of "
        "4), more than max_read_wait (300 s) allows. Retry later or raise max_read_wait."
    )
    assert clock.monotonic() == 0


async def test_backoff_stays_inside_the_deadline_when_paced(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
) -> None:
    # Backoff 1, 2, 4 s: the third retry would start at 7 s, past a 6 s deadline.
    upstream.default = 503
    with pytest.raises(UpstreamError) as caught:
        await pipeline.execute(sender(client), key="c1", policy=policy(timeout=6), max_pause=300)
    assert upstream.arrivals == [0, 1, 3]
    assert "past the call's 6 s deadline" in str(caught.value)


async def test_the_deadline_cuts_a_hanging_attempt_after_the_pause(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    limited = policy(rate_limit=1, timeout=10, max_retries=0)
    await pipeline.execute(sender(client), key="c1", policy=limited, max_pause=300)
    upstream.script(upstream.hang())
    with pytest.raises(UpstreamTimeout):
        await pipeline.execute(sender(client), key="c1", policy=limited, max_pause=300)
    assert upstream.arrivals == [0, 60]
    assert clock.monotonic() == 70


async def test_a_half_open_probe_keeps_its_lease_through_the_pause(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    breaker = {"max_retries": 0, "circuit_breaker_threshold": 1, "circuit_breaker_recovery": 5}
    limited = policy(rate_limit=1, timeout=10, **breaker)
    upstream.script(503)
    with pytest.raises(UpstreamError):
        await pipeline.execute(sender(client), key="c1", policy=limited, max_pause=300)
    await clock.sleep(5)
    # The probe is admitted at 5 s and waits 55 s for its slot, past its 10 s timeout.
    probe = asyncio.create_task(
        pipeline.execute(sender(client), key="c1", policy=limited, max_pause=300)
    )
    await clock.sleep(15)
    # At 20 s it is still the one probe: another caller fails fast instead of probing too.
    with pytest.raises(CircuitOpen):
        await pipeline.execute(sender(client), key="c1", policy=limited, max_pause=300)
    assert (await probe).is_success
    assert await pipeline.breaker.health("c1") == "healthy"
    assert upstream.arrivals == [0, 60]
