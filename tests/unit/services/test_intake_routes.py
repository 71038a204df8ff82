"""The intake route cache: one look-up per token at a time, refreshed ahead, never stale.

Counts and an injected clock, not wall time.
"""

from __future__ import annotations

import asyncio

import pytest

from connectory.errors import NotFound
from connectory.services.events.intake_routes import RouteCache


class Clock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Lookups:
    """A look-up that counts its calls and answers when released."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.release.set()
        self.answer: object = "route-1"

    async def __call__(self) -> object:
        self.calls += 1
        await self.release.wait()
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def test_concurrent_misses_share_one_look_up() -> None:
    cache: RouteCache[object] = RouteCache(clock=Clock())
    look_up = Lookups()
    look_up.release.clear()
    waiting = [asyncio.create_task(cache.get("t", look_up)) for _ in range(32)]
    await asyncio.sleep(0)
    look_up.release.set()
    assert await asyncio.gather(*waiting) == ["route-1"] * 32
    assert look_up.calls == 1
    assert await cache.get("t", look_up) == "route-1"
    assert look_up.calls == 1


async def test_a_route_is_refreshed_in_the_background_and_never_served_past_its_ttl() -> None:
    clock = Clock()
    cache: RouteCache[object] = RouteCache(ttl=5, refresh_after=4, clock=clock)
    look_up = Lookups()
    assert await cache.get("t", look_up) == "route-1"
    clock.now += 4.5  # old enough to refresh: served at once, looked up behind
    look_up.release.clear()
    look_up.answer = "route-2"
    assert await cache.get("t", look_up) == "route-1"
    assert await cache.get("t", look_up) == "route-1"
    await asyncio.sleep(0)  # the refresh starts
    assert look_up.calls == 2  # one refresh, however many requests
    clock.now += 1.0  # past the ttl of the first look-up: it is not served any more
    waiting = asyncio.create_task(cache.get("t", look_up))
    await asyncio.sleep(0)
    assert not waiting.done()  # waits for the refresh in flight
    look_up.release.set()
    assert await waiting == "route-2"
    assert look_up.calls == 2


async def test_a_failed_look_up_is_not_cached_and_a_failed_refresh_drops_the_route() -> None:
    clock = Clock()
    cache: RouteCache[object] = RouteCache(ttl=5, refresh_after=4, clock=clock)
    look_up = Lookups()
    look_up.answer = NotFound("no webhook is registered at this URL")
    for _ in range(2):
        with pytest.raises(NotFound):
            await cache.get("t", look_up)
    assert look_up.calls == 2 and len(cache) == 0
    look_up.answer = "route-1"
    assert await cache.get("t", look_up) == "route-1"
    clock.now += 4.5
    look_up.answer = NotFound("deleted")  # the subscription was deleted meanwhile
    assert await cache.get("t", look_up) == "route-1"  # served while the refresh runs
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    with pytest.raises(NotFound):
        await cache.get("t", look_up)


async def test_a_cancelled_waiter_does_not_cancel_the_shared_look_up() -> None:
    cache: RouteCache[object] = RouteCache(clock=Clock())
    look_up = Lookups()
    look_up.release.clear()
    first = asyncio.create_task(cache.get("t", look_up))
    second = asyncio.create_task(cache.get("t", look_up))
    await asyncio.sleep(0)
    first.cancel()  # its client went away
    look_up.release.set()
    assert await second == "route-1"
    assert look_up.calls == 1
