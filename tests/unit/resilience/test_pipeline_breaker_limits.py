"""The pipeline with its circuit breaker and rate limiter, on a virtual clock."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from resilience_support import ScriptedUpstream, policy, sender

from connectory.errors import (
    CircuitOpen,
    RateLimited,
    TransportError,
    UpstreamError,
    UpstreamTimeout,
)
from connectory.resilience import (
    BreakerTransition,
    FakeClock,
    Quota,
    ResilienceEvent,
    ResiliencePipeline,
    connection_quota_key,
)

BREAKER = {"max_retries": 0, "circuit_breaker_threshold": 3, "circuit_breaker_recovery": 30}


async def open_breaker(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, key: str = "c1"
) -> None:
    for _ in range(3):
        with pytest.raises((UpstreamError, UpstreamTimeout)):
            await pipeline.execute(sender(client), key=key, policy=policy(**BREAKER))


async def test_breaker_opens_and_calls_fail_fast_without_reaching_upstream(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    upstream.default = 503
    await open_breaker(pipeline, client)
    assert upstream.count == 3
    assert await pipeline.breaker.health("c1") == "degraded"
    for _ in range(10):
        with pytest.raises(CircuitOpen) as caught:
            await pipeline.execute(sender(client), key="c1", policy=policy(**BREAKER))
        assert caught.value.retry_after == 30
    assert upstream.count == 3
    assert clock.monotonic() == 0


async def test_timeouts_and_connection_errors_count(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, upstream: ScriptedUpstream
) -> None:
    upstream.script(httpx.ConnectError("refused"), upstream.hang(), httpx.ReadError("reset"))
    for _ in range(3):
        with pytest.raises((TransportError, UpstreamTimeout)):
            await pipeline.execute(sender(client), key="c1", policy=policy(timeout=5, **BREAKER))
    assert await pipeline.breaker.state("c1") == "open"


@pytest.mark.parametrize("status", [400, 404, 429])
async def test_4xx_and_429_do_not_open_the_breaker(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, upstream: ScriptedUpstream, status: int
) -> None:
    upstream.default = status
    for _ in range(10):
        with contextlib.suppress(UpstreamError):
            await pipeline.execute(sender(client), key="c1", policy=policy(**BREAKER))
    assert await pipeline.breaker.state("c1") == "closed"
    assert upstream.count == 10


async def test_after_recovery_a_single_probe_then_closed(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    upstream.default = 503
    await open_breaker(pipeline, client)
    await clock.sleep(30)
    release = asyncio.Event()

    async def slow_ok(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(200)

    upstream.script(slow_ok)
    upstream.default = 200
    probe = asyncio.create_task(
        pipeline.execute(sender(client), key="c1", policy=policy(**BREAKER))
    )
    while upstream.count < 4:
        await asyncio.sleep(0)
    # While the probe is in flight, everyone else fails fast.
    for _ in range(5):
        with pytest.raises(CircuitOpen, match="testing whether"):
            await pipeline.execute(sender(client), key="c1", policy=policy(**BREAKER))
    release.set()
    assert (await probe).status_code == 200
    assert upstream.count == 4
    assert await pipeline.breaker.health("c1") == "healthy"
    await pipeline.execute(sender(client), key="c1", policy=policy(**BREAKER))
    assert upstream.count == 5


async def test_a_hanging_probe_is_cut_by_the_timeout_and_reopens(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    upstream.default = 503
    await open_breaker(pipeline, client)
    await clock.sleep(30)
    upstream.script(upstream.hang())
    events: list[ResilienceEvent] = []
    with pytest.raises(UpstreamTimeout):
        await pipeline.execute(
            sender(client), key="c1", policy=policy(timeout=8, **BREAKER), observer=events.append
        )
    assert clock.monotonic() == 38
    assert await pipeline.breaker.state("c1") == "open"
    transitions = [str(e) for e in events if isinstance(e, BreakerTransition)]
    assert transitions == ["breaker half-open (was open)", "breaker open (was half-open)"]
    with pytest.raises(CircuitOpen) as caught:
        await pipeline.execute(sender(client), key="c1", policy=policy(**BREAKER))
    assert caught.value.retry_after == 30  # a fresh recovery period from the failed probe
    assert upstream.count == 4


async def test_a_retry_that_meets_an_open_breaker_fails_fast_with_the_story(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, upstream: ScriptedUpstream
) -> None:
    upstream.default = 503
    settings = {**BREAKER, "max_retries": 5}
    with pytest.raises(CircuitOpen) as caught:
        await pipeline.execute(sender(client), key="c1", policy=policy(**settings))
    assert upstream.count == 3
    assert "3 attempts made; the last failed: 503 Service Unavailable" in caught.value.message


async def test_each_transition_is_emitted_once_to_subscribers(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    seen: list[BreakerTransition] = []
    pipeline.breaker.subscribe(seen.append)
    upstream.default = 503
    await open_breaker(pipeline, client)
    for _ in range(3):
        with pytest.raises(CircuitOpen):
            await pipeline.execute(sender(client), key="c1", policy=policy(**BREAKER))
    await clock.sleep(30)
    upstream.default = 200
    await pipeline.execute(sender(client), key="c1", policy=policy(**BREAKER))
    assert [(e.from_state, e.to_state, e.health) for e in seen] == [
        ("closed", "open", "degraded"),
        ("open", "half_open", "degraded"),
        ("half_open", "closed", "healthy"),
    ]


async def test_one_connections_breaker_never_affects_another(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, upstream: ScriptedUpstream
) -> None:
    upstream.default = 503
    await open_breaker(pipeline, client, key="a")
    upstream.default = 200
    response = await pipeline.execute(sender(client), key="b", policy=policy(**BREAKER))
    assert response.status_code == 200
    assert await pipeline.breaker.health("b") == "healthy"
    assert await pipeline.breaker.health("a") == "degraded"


async def test_a_cancelled_probe_frees_the_half_open_slot(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    upstream.default = 503
    await open_breaker(pipeline, client)
    await clock.sleep(30)
    never = asyncio.Event()

    async def stuck(request: httpx.Request) -> httpx.Response:
        await never.wait()
        return httpx.Response(200)

    upstream.script(stuck)
    probe = asyncio.create_task(
        pipeline.execute(sender(client), key="c1", policy=policy(**BREAKER))
    )
    while upstream.count < 4:
        await asyncio.sleep(0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    upstream.default = 200
    assert (await pipeline.execute(sender(client), key="c1", policy=policy(**BREAKER))).is_success


# -- rate limits --------------------------------------------------------------------------------


async def test_rate_limit_spaces_calls_over_the_window(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    limited = policy(rate_limit=2, timeout=120)
    events: list[ResilienceEvent] = []
    for _ in range(5):
        await pipeline.execute(sender(client), key="c1", policy=limited, observer=events.append)
    assert upstream.arrivals == [0, 0, 60, 60, 120]
    assert "waiting 60.0 s (rate limit)" in [str(e) for e in events]


async def test_fifty_concurrent_calls_respect_the_window(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
) -> None:
    limited = policy(rate_limit=10, timeout=300)
    await asyncio.gather(
        *(pipeline.execute(sender(client), key="c1", policy=limited) for _ in range(50))
    )
    arrivals = sorted(upstream.arrivals)
    assert len(arrivals) == 50
    assert all(arrivals[i + 10] - arrivals[i] >= 60 for i in range(40))
    assert sorted(set(arrivals)) == [0, 60, 120, 180, 240]


async def test_no_slot_before_the_deadline_raises_rate_limited(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    limited = policy(rate_limit=1, timeout=10)
    await pipeline.execute(sender(client), key="c1", policy=limited)
    with pytest.raises(RateLimited) as caught:
        await pipeline.execute(sender(client), key="c1", policy=limited)
    assert caught.value.retry_after == 60
    assert upstream.count == 1
    assert clock.monotonic() == 0


async def test_connector_limit_is_shared_by_its_connections(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, upstream: ScriptedUpstream
) -> None:
    limited = policy(rate_limit=10, connector_rate_limit=3, timeout=120)
    for key in ["a", "b", "c", "d"]:
        await pipeline.execute(sender(client), key=key, connector_key="weather", policy=limited)
    assert upstream.arrivals == [0, 0, 0, 60]


async def test_each_retry_takes_a_slot(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, upstream: ScriptedUpstream
) -> None:
    upstream.script(503)
    await pipeline.execute(sender(client), key="c1", policy=policy(rate_limit=1, timeout=120))
    assert upstream.arrivals == [0, 60]


async def test_a_429_retry_after_pauses_the_connection_for_every_caller(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    upstream.script(httpx.Response(429, headers={"Retry-After": "5"}))
    first = asyncio.create_task(pipeline.execute(sender(client), key="c1", policy=policy()))
    while upstream.count < 1:
        await asyncio.sleep(0)
    await clock.sleep(1)
    others = [
        asyncio.create_task(pipeline.execute(sender(client), key="c1", policy=policy()))
        for _ in range(3)
    ]
    other_key = await pipeline.execute(sender(client), key="c2", policy=policy())
    assert other_key.status_code == 200
    await asyncio.gather(first, *others)
    # The 429 at 0, c2 at 1 (not paused), then everyone on c1 at 5.
    assert upstream.arrivals == [0, 1, 5, 5, 5, 5]


async def test_a_pause_longer_than_the_deadline_fails_with_retry_after(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    upstream.script(httpx.Response(429, headers={"Retry-After": "100"}))
    with pytest.raises(UpstreamError):
        await pipeline.execute(sender(client), key="c1", policy=policy(timeout=30))
    with pytest.raises(RateLimited) as caught:
        await pipeline.execute(sender(client), key="c1", policy=policy(timeout=30))
    assert caught.value.retry_after == 100
    assert upstream.count == 1


async def test_no_pause_when_retry_after_is_not_respected(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
) -> None:
    ignore = policy(respect_retry_after=False, max_retries=0)
    upstream.script(httpx.Response(429, headers={"Retry-After": "100"}))
    with pytest.raises(UpstreamError):
        await pipeline.execute(sender(client), key="c1", policy=ignore)
    assert (await pipeline.execute(sender(client), key="c1", policy=ignore)).is_success


async def test_rate_limited_calls_do_not_hold_the_probe(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    upstream.default = 503
    settings = {**BREAKER, "rate_limit": 4, "timeout": 5}
    await open_breaker(pipeline, client)
    await clock.sleep(30)
    # Fill the window so that the probe cannot get a slot in time.
    for _ in range(4):
        await pipeline.limiter.acquire([Quota(connection_quota_key("c1"), 4)], 0)
    upstream.default = 200
    with pytest.raises(RateLimited):
        await pipeline.execute(sender(client), key="c1", policy=policy(**settings))
    await clock.sleep(60)
    assert (await pipeline.execute(sender(client), key="c1", policy=policy(**settings))).is_success
