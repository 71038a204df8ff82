"""The in-memory sliding-window limiter, on a virtual clock."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectory.errors import RateLimited
from connectory.resilience import FakeClock, MemoryRateLimiter, Quota


def assert_window_invariant(times: list[float], limit: int, window: float) -> None:
    ordered = sorted(times)
    for i in range(len(ordered) - limit):
        assert ordered[i + limit] - ordered[i] >= window, (i, ordered[i], ordered[i + limit])


async def test_grants_up_to_the_limit_then_waits_for_the_oldest_to_expire() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock, window=60)
    quota = [Quota("c", 3)]
    granted = []
    for _ in range(3):
        await limiter.acquire(quota, max_wait=100)
        granted.append(clock.monotonic())
        await clock.sleep(5)
    await limiter.acquire(quota, max_wait=100)
    granted.append(clock.monotonic())
    assert granted == [0, 5, 10, 60]


async def test_too_long_a_wait_fails_at_once_with_retry_after() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock, window=60)
    for _ in range(2):
        await limiter.acquire([Quota("c", 2)], max_wait=1)
    await clock.sleep(15)
    with pytest.raises(RateLimited) as caught:
        await limiter.acquire([Quota("c", 2)], max_wait=10)
    assert caught.value.retry_after == 45
    assert clock.monotonic() == 15  # failed at once, no waiting
    assert "45.00 s" in str(caught.value)


async def test_on_wait_reports_each_wait() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock, window=10)
    waits: list[tuple[float, str]] = []
    await limiter.acquire([Quota("c", 1)], max_wait=100)
    await limiter.acquire([Quota("c", 1)], 100, lambda s, cause: waits.append((s, cause)))
    assert waits == [(10, "rate limit")]


async def test_fifty_concurrent_callers_never_exceed_the_window() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock, window=60)
    granted: list[float] = []

    async def caller() -> None:
        await limiter.acquire([Quota("c", 10)], max_wait=600)
        granted.append(clock.monotonic())

    await asyncio.gather(*(caller() for _ in range(50)))
    assert len(granted) == 50
    assert_window_invariant(granted, 10, 60)
    # And it is not overly strict: batches of ten at 0, 60, 120, 180 and 240 s.
    assert sorted(set(granted)) == [0, 60, 120, 180, 240]


async def test_keys_are_independent() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock, window=60)
    await limiter.acquire([Quota("a", 1)], max_wait=0)
    await limiter.acquire([Quota("b", 1)], max_wait=0)
    with pytest.raises(RateLimited):
        await limiter.acquire([Quota("a", 1)], max_wait=0)


async def test_quotas_are_taken_all_or_nothing() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock, window=60)
    connector = Quota("connector", 1)
    await limiter.acquire([Quota("conn-a", 5), connector], max_wait=0)
    with pytest.raises(RateLimited):
        await limiter.acquire([Quota("conn-b", 5), connector], max_wait=0)
    # The failed call did not use up conn-b's slots: five still fit.
    for _ in range(5):
        await limiter.acquire([Quota("conn-b", 5)], max_wait=0)


async def test_no_limit_still_honours_pauses() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock, window=60)
    for _ in range(1000):
        await limiter.acquire([Quota("c", None)], max_wait=0)
    await limiter.pause("c", 4)
    await limiter.acquire([Quota("c", None)], max_wait=10)
    assert clock.monotonic() == 4


async def test_a_pause_holds_every_caller_and_longer_pauses_win() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock, window=60)
    await limiter.pause("c", 10)
    await limiter.pause("c", 3)  # shorter: ignored
    assert await limiter.paused_for("c") == 10
    waits: list[tuple[float, str]] = []
    with pytest.raises(RateLimited) as caught:
        await limiter.acquire([Quota("c", 100)], max_wait=5)
    assert caught.value.retry_after == 10
    assert "pause" in str(caught.value)
    await limiter.acquire([Quota("c", 100)], 20, lambda s, cause: waits.append((s, cause)))
    assert clock.monotonic() == 10
    assert waits == [(10, "paused by upstream")]
    assert await limiter.paused_for("c") == 0


async def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        MemoryRateLimiter(FakeClock(), window=0)


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=6),
    window=st.sampled_from([1.0, 2.5, 60.0]),
    gaps=st.lists(st.floats(min_value=0, max_value=3, allow_nan=False), min_size=1, max_size=40),
)
def test_window_invariant_holds_for_any_arrival_pattern(
    limit: int, window: float, gaps: list[float]
) -> None:
    async def scenario() -> list[float]:
        clock = FakeClock()
        limiter = MemoryRateLimiter(clock, window=window)
        granted: list[float] = []

        async def caller(delay: float) -> None:
            await clock.sleep(delay)
            try:
                await limiter.acquire([Quota("c", limit)], max_wait=window / 2)
            except RateLimited:
                return
            granted.append(clock.monotonic())

        starts, total = [], 0.0
        for gap in gaps:
            total += gap
            starts.append(total)
        await asyncio.gather(*(caller(s) for s in starts))
        return granted

    assert_window_invariant(asyncio.run(scenario()), limit, window)


class CountingClock(FakeClock):
    """A virtual clock that counts its readings."""

    def __init__(self) -> None:
        super().__init__()
        self.readings = 0

    def monotonic(self) -> float:
        self.readings += 1
        return super().monotonic()


async def test_an_admission_reads_the_clock_once() -> None:
    clock = CountingClock()
    limiter = MemoryRateLimiter(clock, window=60)
    quotas = [Quota("connection", 2), Quota("connector", 5)]
    await limiter.acquire(quotas, max_wait=100)
    assert clock.readings == 1  # the take's; no deadline is needed
    await limiter.acquire(quotas, max_wait=100)
    assert clock.readings == 2
    # A request that has to wait reads it for its deadline too, which counts from the start.
    clock.readings = 0
    with pytest.raises(RateLimited):
        await limiter.acquire(quotas, max_wait=30)
    assert clock.readings == 2
    await clock.sleep(20)
    with pytest.raises(RateLimited) as caught:
        await limiter.acquire(quotas, max_wait=30)
    assert caught.value.retry_after == 40
    await asyncio.wait_for(limiter.acquire(quotas, max_wait=41), timeout=5)
    assert clock.monotonic() == 60
