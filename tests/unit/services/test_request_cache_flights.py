"""Concurrent misses of one request-cache entry share one read, unless a change came in between."""

from __future__ import annotations

import asyncio

import pytest

from connectory.errors import NotAuthenticated
from connectory.services.request_cache import RequestCache


class Reads:
    """A read that waits at a gate and returns its own number (1, 2, ...)."""

    def __init__(self) -> None:
        self.count = 0
        self.gate = asyncio.Event()
        self.error: Exception | None = None

    async def __call__(self) -> int:
        self.count += 1
        number = self.count
        await self.gate.wait()
        if self.error is not None:
            raise self.error
        return number


async def _started(coroutine: object) -> asyncio.Task[int]:
    task: asyncio.Task[int] = asyncio.ensure_future(coroutine)  # type: ignore[arg-type]
    await asyncio.sleep(0)  # it runs up to its first wait
    return task


async def test_concurrent_misses_share_one_read() -> None:
    cache, read = RequestCache(5.0), Reads()
    tasks = [await _started(cache.shared_read("k", read)) for _ in range(5)]
    read.gate.set()
    assert await asyncio.gather(*tasks) == [1] * 5
    assert read.count == 1
    # Once it is over, the next miss reads again.
    assert await cache.shared_read("k", read) == 2


async def test_a_read_begun_before_an_announcement_is_not_joined() -> None:
    cache, read = RequestCache(5.0), Reads()
    first = await _started(cache.shared_read("k", read))
    joined = await _started(cache.shared_read("k", read))
    cache.clear()  # an announcement (or a gap): the read in flight may have seen the old row
    after = await _started(cache.shared_read("k", read))
    read.gate.set()
    assert (await first, await joined, await after) == (1, 1, 2)


async def test_joiners_get_the_reads_error_and_other_keys_read_on_their_own() -> None:
    cache, read = RequestCache(5.0), Reads()
    read.error = NotAuthenticated("the API token is unknown")
    first = await _started(cache.shared_read("k", read))
    joined = await _started(cache.shared_read("k", read))
    other = await _started(cache.shared_read("other", read))
    read.gate.set()
    for task in (first, joined, other):
        with pytest.raises(NotAuthenticated):
            await task
    assert read.count == 2


async def test_a_cancelled_read_leaves_its_joiners_to_read_for_themselves() -> None:
    cache, read = RequestCache(5.0), Reads()
    first = await _started(cache.shared_read("k", read))
    joined = await _started(cache.shared_read("k", read))
    first.cancel()  # its client went away
    await asyncio.sleep(0)
    read.gate.set()
    assert await joined == 2
    assert first.cancelled()


async def test_a_caller_without_a_session_waits_for_the_read_in_flight() -> None:
    cache, read = RequestCache(5.0), Reads()
    assert not await cache.await_read("k")  # nothing in flight: nothing to wait for
    first = await _started(cache.shared_read("k", read))
    waiting = await _started(cache.await_read("k"))
    assert not waiting.done()  # it waits for the read, and does not read itself
    read.gate.set()
    assert await first == 1
    assert await waiting is True
    assert read.count == 1


async def test_waiting_ignores_a_read_begun_before_an_announcement() -> None:
    cache, read = RequestCache(5.0), Reads()
    first = await _started(cache.shared_read("k", read))
    cache.clear()  # the read in flight may have seen the old row: do not wait for it
    assert not await cache.await_read("k")
    read.gate.set()
    await first


async def test_a_failed_or_cancelled_read_ends_the_wait_without_its_error() -> None:
    cache, read = RequestCache(5.0), Reads()
    read.error = NotAuthenticated("the API token is unknown")
    failing = await _started(cache.shared_read("k", read))
    waiting = await _started(cache.await_read("k"))
    read.gate.set()
    with pytest.raises(NotAuthenticated):
        await failing
    assert await waiting is True  # the waiter looks the entry up again and goes the slow way
    read.error, read.gate = None, asyncio.Event()
    cancelled = await _started(cache.shared_read("k", read))
    waiting = await _started(cache.await_read("k"))
    cancelled.cancel()
    assert await waiting is True
    assert cancelled.cancelled()


async def test_callers_cancelled_with_the_read_they_joined_stop_too() -> None:
    # At shut-down the read and the requests waiting for it are cancelled together: a waiter
    # asked to stop must stop, not go on to read (or take the slow path) for itself.
    cache, read = RequestCache(5.0), Reads()
    first = await _started(cache.shared_read("k", read))
    joined = await _started(cache.shared_read("k", read))
    waiting = await _started(cache.await_read("k"))
    for task in (first, joined, waiting):
        task.cancel()
    for _ in range(5):
        await asyncio.sleep(0)  # each reacts to its cancellation (a second read would start)
    read.gate.set()  # lets a second read, if one started, finish instead of hanging the test
    await asyncio.gather(first, joined, waiting, return_exceptions=True)
    assert first.cancelled() and joined.cancelled() and waiting.cancelled()
    assert read.count == 1  # nobody read again
