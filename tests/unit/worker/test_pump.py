"""A worker's own wakes run the work in process: one run at a time, one more pass if asked."""

from __future__ import annotations

import asyncio

from connectory.worker.engine import Pump


async def test_a_kick_during_a_run_asks_for_exactly_one_more_pass() -> None:
    passes = 0
    release = asyncio.Event()

    async def work() -> None:
        nonlocal passes
        passes += 1
        if passes == 1:
            await release.wait()

    pump = Pump("deliveries", work)
    running = pump.kick()
    await asyncio.sleep(0)
    # Three wakes while the first pass runs: the same run, one more pass after it.
    assert pump.kick() is running and pump.kick() is running and pump.kick() is running
    release.set()
    await running
    assert passes == 2
    await pump.kick()  # idle again: a kick starts a new run
    assert passes == 3


async def test_a_failing_pass_is_logged_and_the_pump_keeps_working() -> None:
    calls = 0

    async def work() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the database went away")

    pump = Pump("intake", work)
    await pump.kick()  # does not raise: logged, the next wake or tick retries
    await pump.kick()
    assert calls == 2
