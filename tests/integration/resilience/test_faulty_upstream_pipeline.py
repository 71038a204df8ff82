"""The pipeline against a real HTTP upstream on loopback that injects faults.

Upstream arrival counts prove retries, fail-fast and the single probe; arrival timestamps prove
pauses and the sliding-window limit. Delays are scaled down (tens of milliseconds, windows of
one second) so the file runs in seconds; the semantics are those of the unit tests.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import httpx
import pytest
from window_checks import min_span

from connectory.errors import (
    AttemptInfo,
    CircuitOpen,
    TransportError,
    UpstreamError,
    UpstreamTimeout,
)
from connectory.resilience import (
    MemoryRateLimiter,
    ResiliencePipeline,
    SystemClock,
)
from connectory.resilience.events import WaitCause
from connectory.resilience.limiter import Quota
from connectory.spec.resilience import ResilienceSpec
from connectory.testing.faulty import (
    Close,
    FaultyUpstream,
    Hang,
    Reply,
    Reset,
    burst,
    too_many_requests,
)

pytestmark = pytest.mark.integration

FAST = {"retry_delay": 0.02, "retry_jitter": False, "rate_limit": None, "timeout": 5}


def policy(**changes: Any) -> ResilienceSpec:
    return ResilienceSpec(**{**FAST, **changes})


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(limits=limits) as http:
        yield http


def sender(
    client: httpx.AsyncClient, url: str, method: str = "GET"
) -> Callable[[float], Awaitable[httpx.Response]]:
    async def send(remaining: float) -> httpx.Response:
        return await client.request(method, url, timeout=remaining)

    return send


async def test_a_503_burst_is_retried_until_it_passes(
    upstream: FaultyUpstream, client: httpx.AsyncClient
) -> None:
    upstream.script("/flaky", *burst(503, 3))
    stats = AttemptInfo(attempts=0)
    response = await ResiliencePipeline().execute(
        sender(client, upstream.url("/flaky?token=s3cret")), key="c", policy=policy(), stats=stats
    )
    assert response.status_code == 200
    assert upstream.count("/flaky") == 4
    assert stats.attempts == 4
    # Exponential from 20 ms: the gaps between arrivals are at least 20, 40 and 80 ms.
    times = upstream.times("/flaky")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= want for gap, want in zip(gaps, [0.02, 0.04, 0.08], strict=True))


async def test_a_burst_longer_than_the_retries_fails_with_the_count(
    upstream: FaultyUpstream, client: httpx.AsyncClient
) -> None:
    upstream.script("/down", *burst(503, 10))
    with pytest.raises(UpstreamError) as caught:
        await ResiliencePipeline().execute(
            sender(client, upstream.url("/down?token=s3cret")), key="c", policy=policy()
        )
    assert caught.value.attempts == 4
    assert upstream.count("/down") == 4
    assert "s3cret" not in str(caught.value) and "/down" not in str(caught.value)


async def test_a_hang_is_cut_at_the_deadline(
    upstream: FaultyUpstream, client: httpx.AsyncClient
) -> None:
    upstream.script("/hang", Hang())
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as caught:
        # wait_for only keeps a broken cut from hanging the suite; it asserts no duration.
        await asyncio.wait_for(
            ResiliencePipeline().execute(
                sender(client, upstream.url("/hang")), key="c", policy=policy(timeout=0.4)
            ),
            timeout=60,
        )
    # It waited for the deadline (a lower bound: a loaded machine only makes it later).
    assert time.monotonic() - started >= 0.35
    assert caught.value.attempts == 1
    assert upstream.count("/hang") == 1


async def test_resets_and_closes_are_retried_for_get(
    upstream: FaultyUpstream, client: httpx.AsyncClient
) -> None:
    upstream.script("/rst", Reset(), Close(), Reset())
    response = await ResiliencePipeline().execute(
        sender(client, upstream.url("/rst")), key="c", policy=policy()
    )
    assert response.status_code == 200
    assert upstream.count("/rst") == 4


async def test_a_reset_post_is_not_resent(
    upstream: FaultyUpstream, client: httpx.AsyncClient
) -> None:
    upstream.script("/orders", Reset())
    with pytest.raises(TransportError) as caught:
        await ResiliencePipeline().execute(
            sender(client, upstream.url("/orders"), "POST"),
            key="c",
            method="POST",
            policy=policy(),
        )
    assert caught.value.attempts == 1
    assert "POST is not idempotent" in str(caught.value)
    assert upstream.count("/orders") == 1


async def test_a_refused_connection_is_retried_even_for_post(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        with pytest.raises(TransportError) as caught:
            await ResiliencePipeline().execute(
                sender(client, f"http://127.0.0.1:{port}/x", "POST"),
                key="c",
                method="POST",
                policy=policy(max_retries=2),
            )
    assert caught.value.attempts == 3
    assert "Connection refused" in str(caught.value) or "connection failed" in str(caught.value)


async def test_429_retry_after_pauses_the_connection_for_every_caller(
    upstream: FaultyUpstream, client: httpx.AsyncClient
) -> None:
    upstream.script("/busy", too_many_requests("1"))
    pipeline = ResiliencePipeline()
    first = asyncio.create_task(
        pipeline.execute(sender(client, upstream.url("/busy")), key="c", policy=policy())
    )
    while upstream.count("/busy") < 1:
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)
    others = [
        pipeline.execute(sender(client, upstream.url("/busy")), key="c", policy=policy())
        for _ in range(5)
    ]
    results = await asyncio.gather(first, *others)
    assert all(r.status_code == 200 for r in results)
    times = upstream.times("/busy")
    assert len(times) == 7  # the 429, then the first caller's retry and five others
    assert all(t - times[0] >= 0.99 for t in times[1:])


async def test_breaker_fails_fast_then_sends_a_single_probe(
    upstream: FaultyUpstream, client: httpx.AsyncClient
) -> None:
    settings = policy(
        max_retries=0, circuit_breaker_threshold=3, circuit_breaker_recovery=0.5, timeout=0.4
    )
    pipeline = ResiliencePipeline()
    url = upstream.url("/svc")
    upstream.script("/svc", *burst(503, 3), Hang(), then=Reply())
    for _ in range(3):
        with pytest.raises(UpstreamError):
            await pipeline.execute(sender(client, url), key="c", policy=settings)
    # Open: fail fast, nothing reaches the upstream.
    for _ in range(20):
        with pytest.raises(CircuitOpen):
            await pipeline.execute(sender(client, url), key="c", policy=settings)
    assert upstream.count("/svc") == 3
    await asyncio.sleep(0.5)
    # Half-open: one probe (it hangs) and 20 concurrent callers that fail fast.
    calls = [pipeline.execute(sender(client, url), key="c", policy=settings) for _ in range(21)]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    kinds = sorted(type(o).__name__ for o in outcomes)
    assert kinds == ["CircuitOpen"] * 20 + ["UpstreamTimeout"]
    assert upstream.count("/svc") == 4
    # The hanging probe was cut by the timeout and re-opened the circuit for a fresh period.
    assert await pipeline.breaker.state("c") == "open"
    await asyncio.sleep(0.5)
    assert (await pipeline.execute(sender(client, url), key="c", policy=settings)).is_success
    assert await pipeline.breaker.health("c") == "healthy"
    assert upstream.count("/svc") == 5


class _StampingClock(SystemClock):
    """The real clock, remembering the last reading it gave."""

    last = 0.0

    def monotonic(self) -> float:
        self.last = super().monotonic()
        return self.last


class GrantRecordingLimiter(MemoryRateLimiter):
    """The in-memory limiter, keeping the time of every slot it grants.

    ``try_take`` reads the clock once and decides on that reading, so the clock's last
    reading is the grant's own time stamp: the window check is exact, not an observer's
    after-the-fact estimate (which a loaded event loop delays by milliseconds).
    """

    def __init__(self, window: float) -> None:
        self._stamps = _StampingClock()
        super().__init__(self._stamps, window=window)
        self.granted: list[float] = []

    def try_take(self, quotas: Sequence[Quota], limit_scale: int = 1) -> tuple[float, WaitCause]:
        wait, cause = super().try_take(quotas, limit_scale)
        if wait <= 0:
            self.granted.append(self._stamps.last)
        return wait, cause


async def test_fifty_concurrent_callers_respect_the_sliding_window(
    upstream: FaultyUpstream, client: httpx.AsyncClient
) -> None:
    limit, window = 10, 1.0
    limiter = GrantRecordingLimiter(window=window)
    pipeline = ResiliencePipeline(limiter=limiter)
    settings = policy(rate_limit=limit, timeout=10)
    calls = [
        pipeline.execute(sender(client, upstream.url("/limited")), key="c", policy=settings)
        for _ in range(50)
    ]
    results = await asyncio.gather(*calls)
    assert all(r.status_code == 200 for r in results)
    arrivals = sorted(upstream.times("/limited"))
    assert len(arrivals) == 50
    # Grants obey the window exactly, judged on the limiter's own decision times (arrival
    # stamps would add loopback and scheduling delay, which a loaded machine stretches).
    # That it is not needlessly strict is shown on a virtual clock in
    # tests/unit/resilience/test_memory_rate_limiter.py (five batches exactly one window apart).
    assert len(limiter.granted) == 50
    assert min_span(limiter.granted, limit) >= window
