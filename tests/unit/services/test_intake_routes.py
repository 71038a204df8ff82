"""The intake route cache: one look-up per token at a time, refreshed ahead, never stale.

Counts and an injected clock, not wall time.
"""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from connectory.errors import InternalError, NotFound, StorageUnavailable
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


async def settle() -> None:
    """Let every ready task run up to its next wait."""
    for _ in range(5):
        await asyncio.sleep(0)


class Stalled:
    """Look-ups that each wait for their own release, answering what they were told."""

    def __init__(self) -> None:
        self.started: list[tuple[asyncio.Event, str]] = []
        self.next_answer = "route-1"

    async def __call__(self) -> object:
        release = asyncio.Event()
        self.started.append((release, self.next_answer))
        await release.wait()
        return self._answer_of(release)

    def _answer_of(self, release: asyncio.Event) -> str:
        return next(answer for event, answer in self.started if event is release)


async def test_a_look_up_older_than_the_ttl_is_not_joined_and_never_overwrites_a_newer() -> None:
    clock = Clock()
    cache: RouteCache[object] = RouteCache(ttl=5, refresh_after=4, clock=clock)
    look_up = Stalled()
    first = asyncio.create_task(cache.get("t", look_up))  # t=100: stalls on the pool
    await settle()
    assert len(look_up.started) == 1
    clock.now = 112.0  # the subscription was deleted / the secret rotated meanwhile
    look_up.next_answer = "route-2"
    second = asyncio.create_task(cache.get("t", look_up))
    await settle()
    assert len(look_up.started) == 2  # a look-up of its own, not the one from t=100
    look_up.started[1][0].set()
    assert await second == "route-2"
    look_up.started[0][0].set()  # the stalled one finishes last
    assert await first == "route-1"  # its own request gets what it waited for
    await settle()
    assert await cache.get("t", look_up) == "route-2"  # not overwritten by the older read
    assert len(look_up.started) == 2


async def test_a_look_up_younger_than_the_ttl_is_still_joined() -> None:
    clock = Clock()
    cache: RouteCache[object] = RouteCache(ttl=5, refresh_after=4, clock=clock)
    look_up = Stalled()
    first = asyncio.create_task(cache.get("t", look_up))
    await settle()
    clock.now += 4.9
    second = asyncio.create_task(cache.get("t", look_up))
    await settle()
    assert len(look_up.started) == 1
    look_up.started[0][0].set()
    assert await asyncio.gather(first, second) == ["route-1", "route-1"]


async def test_the_look_up_runs_without_the_requests_context_variables() -> None:
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
    seen: list[str] = []

    async def look_up() -> object:
        seen.append(request_id.get())
        return "route-1"

    cache: RouteCache[object] = RouteCache(clock=Clock())
    request_id.set("request-1")
    assert await cache.get("t", look_up) == "route-1"
    assert seen == ["-"]


async def test_each_waiter_gets_its_own_error() -> None:
    cache: RouteCache[object] = RouteCache(clock=Clock())
    look_up = Lookups()
    look_up.release.clear()
    look_up.answer = StorageUnavailable("webhooks cannot be received now", retry_after=3)
    waiting = [asyncio.create_task(cache.get("t", look_up)) for _ in range(3)]
    await settle()
    look_up.release.set()
    errors = await asyncio.gather(*waiting, return_exceptions=True)
    assert look_up.calls == 1
    assert all(isinstance(error, StorageUnavailable) for error in errors)
    assert len({id(error) for error in errors}) == 3
    assert all(error is not look_up.answer for error in errors)
    assert [error.retry_after for error in errors if isinstance(error, StorageUnavailable)] == [
        3,
        3,
        3,
    ]


async def test_each_waiter_of_an_internal_error_gets_its_error_id() -> None:
    cache: RouteCache[object] = RouteCache(clock=Clock())
    look_up = Lookups()
    look_up.release.clear()
    look_up.answer = InternalError("an internal error occurred (error id 0123)", "0123")
    waiting = [asyncio.create_task(cache.get("t", look_up)) for _ in range(2)]
    await settle()
    look_up.release.set()
    errors = await asyncio.gather(*waiting, return_exceptions=True)
    # Still a 500 naming the logged cause, not turned into "try again" by the copy.
    assert [type(error) for error in errors] == [InternalError, InternalError]
    assert [getattr(error, "error_id", None) for error in errors] == ["0123", "0123"]
    assert errors[0] is not errors[1]


async def test_aclose_cancels_the_look_ups_in_flight() -> None:
    clock = Clock()
    cache: RouteCache[object] = RouteCache(ttl=5, refresh_after=4, clock=clock)
    look_up = Lookups()
    assert await cache.get("t", look_up) == "route-1"
    clock.now += 4.5
    look_up.release.clear()  # the refresh stalls (the engine is about to be disposed)
    assert await cache.get("t", look_up) == "route-1"
    await settle()
    assert look_up.calls == 2
    waiting = asyncio.create_task(cache.get("u", look_up))
    await settle()
    await cache.aclose()
    with pytest.raises(StorageUnavailable):
        await waiting
    look_up.release.set()
    await settle()
    assert len(cache) == 0  # the cancelled refresh stored nothing
