"""The virtual clock and cutting work at a deadline on any clock."""

from __future__ import annotations

import asyncio

import pytest

from connectory.resilience import Clock, FakeClock, SystemClock, run_with_timeout


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(FakeClock(), Clock)
    assert isinstance(SystemClock(), Clock)


async def test_sleep_moves_time_exactly_and_costs_nothing() -> None:
    clock = FakeClock(start=100.0, wall_start=5_000.0)
    loop = asyncio.get_running_loop()
    real_start = loop.time()
    await clock.sleep(3600)
    await clock.sleep(0.25)
    assert clock.monotonic() == 3700.25
    assert clock.time() == 5_000.0 + 3600.25
    assert clock.sleeps == [3600, 0.25]
    assert loop.time() - real_start < 1.0


async def test_concurrent_sleepers_wake_in_order_at_their_own_time() -> None:
    clock = FakeClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    await asyncio.gather(sleeper("c", 3), sleeper("a", 1), sleeper("b", 2), sleeper("a2", 1))
    assert woke == [("a", 1), ("a2", 1), ("b", 2), ("c", 3)]


async def test_zero_sleep_just_yields() -> None:
    clock = FakeClock()
    await clock.sleep(0)
    await clock.sleep(-1)
    assert clock.monotonic() == 0
    assert clock.sleeps == []


async def test_manual_advance_without_autojump() -> None:
    clock = FakeClock(autojump=False)
    task = asyncio.create_task(clock.sleep(10))
    await asyncio.sleep(0)
    clock.advance(9.5)
    await asyncio.sleep(0)
    assert not task.done()
    clock.advance(0.5)
    await asyncio.sleep(0)
    assert task.done()
    assert clock.monotonic() == 10
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


async def test_a_cancelled_sleeper_does_not_stop_time() -> None:
    clock = FakeClock()
    doomed = asyncio.create_task(clock.sleep(5))
    await asyncio.sleep(0)
    doomed.cancel()
    await clock.sleep(7)
    assert clock.monotonic() == 7


async def test_run_with_timeout_cuts_hanging_work_at_the_deadline() -> None:
    clock = FakeClock()
    cancelled = asyncio.Event()

    async def hang() -> str:
        try:
            await clock.sleep(1_000)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    finished, result = await run_with_timeout(clock, hang, 30)
    assert (finished, result) == (False, None)
    assert clock.monotonic() == 30
    assert cancelled.is_set()


async def test_run_with_timeout_returns_work_that_finishes() -> None:
    clock = FakeClock()

    async def quick() -> str:
        await clock.sleep(2)
        return "done"

    assert await run_with_timeout(clock, quick, 30) == (True, "done")
    assert clock.monotonic() == 2


async def test_run_with_timeout_propagates_errors() -> None:
    async def broken() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        await run_with_timeout(FakeClock(), broken, 30)


async def test_run_with_timeout_on_the_system_clock() -> None:
    async def hang() -> None:
        await asyncio.sleep(10)

    finished, _ = await run_with_timeout(SystemClock(), hang, 0.05)
    assert not finished
