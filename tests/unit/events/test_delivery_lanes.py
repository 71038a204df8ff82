"""Delivery lanes run side by side: a lane's error stops the others (no lane outlives it)."""

from __future__ import annotations

import asyncio

import pytest

from connectory.services.events.deliveries import _run_lanes


async def test_a_failing_lane_cancels_the_others_and_its_error_is_raised() -> None:
    released: list[str] = []
    started = asyncio.Event()

    async def holding() -> int:
        try:
            started.set()
            await asyncio.sleep(3600)  # a lane between batches, holding its connection
            return 1
        finally:
            released.append("connection")

    async def failing() -> int:
        await started.wait()
        raise RuntimeError("the claim failed")

    with pytest.raises(RuntimeError, match="the claim failed"):
        await _run_lanes([holding(), failing()])
    # Given back before the dispatch returned, not whenever the other lane would have ended.
    assert released == ["connection"]


async def test_lanes_counts_are_summed() -> None:
    async def lane(sent: int) -> int:
        await asyncio.sleep(0)
        return sent

    assert await _run_lanes([lane(2), lane(3)]) == 5


async def test_a_cancelled_dispatch_cancels_its_lanes() -> None:
    released: list[str] = []

    async def holding() -> int:
        try:
            await asyncio.sleep(3600)
            return 1
        finally:
            released.append("connection")

    dispatch = asyncio.create_task(_run_lanes([holding(), holding()]))
    await asyncio.sleep(0.01)
    dispatch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await dispatch
    assert released == ["connection", "connection"]
