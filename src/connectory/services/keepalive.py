"""Keep-alive lines for streamed JSON Lines answers while a paced read waits.

A read paced by the rate limit can go a minute or more without a record. Proxies, load
balancers and HTTP clients close a connection that stays silent that long, so a streamed
answer sends a keep-alive line whenever ``interval`` seconds (15 by default) pass without
another line::

    {"_connectory_keepalive": {"waiting": 42.5, "cause": "rate limit"}}

``waiting`` and ``cause`` say what the read waits for when it is paused (``rate limit``,
``paused by upstream``, ``Retry-After``, ``backoff``); the object is empty while a slow page
is on its way. Clients skip these lines (``connectory.remote`` and ``connectory call
--connection`` do, and report the wait). Documented in docs/api.md.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import orjson

from connectory.resilience import AttemptStarted, Clock, ResilienceEvent, SystemClock, Waiting

#: The key of a keep-alive line's only field.
KEEPALIVE_KEY = "_connectory_keepalive"

#: Default seconds between keep-alive lines; the API promises at most 15.
KEEPALIVE_INTERVAL = 15.0


class PauseTracker:
    """Follows one read's waits, so a keep-alive line can say what the read is waiting for.

    Pass it as the read's observer (``iter_pages(..., observer=tracker)``).

    Args:
        clock: The read's clock (the pipeline's), to tell how much of a wait is left.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._until: float | None = None
        self._cause = ""

    def __call__(self, event: ResilienceEvent) -> None:
        """Note a wait that starts, and forget it once the next attempt starts."""
        if isinstance(event, Waiting):
            self._until, self._cause = self.clock.monotonic() + event.seconds, event.cause
        elif isinstance(event, AttemptStarted):
            self._until = None

    def keepalive_line(self) -> bytes:
        """Return a keep-alive line describing the wait in progress, if any."""
        info: dict[str, Any] = {}
        if self._until is not None:
            left = self._until - self.clock.monotonic()
            if left > 0:
                # Rounded up to a tenth: a wait in progress never reads as 0.
                info = {"waiting": math.ceil(left * 10) / 10, "cause": self._cause}
        return orjson.dumps({KEEPALIVE_KEY: info}) + b"\n"


async def with_keepalives(
    chunks: AsyncIterator[bytes],
    *,
    interval: float,
    clock: Clock,
    keepalive: Callable[[], bytes],
) -> AsyncGenerator[bytes, None]:
    """Yield *chunks*, and ``keepalive()`` whenever *interval* seconds pass without one.

    Each chunk is awaited in a task of its own, so the wait can be interrupted to send a
    keep-alive line without cancelling the read; closing this iterator (the client went
    away) cancels the chunk in progress and closes *chunks*.

    Args:
        chunks: The answer's lines, one chunk per page.
        interval: Longest silence, in seconds.
        clock: Measures the silence (a virtual clock in tests).
        keepalive: Makes one keep-alive line.
    """
    try:
        while True:
            step = asyncio.ensure_future(_next(chunks))
            try:
                while not await _done_within(step, interval, clock):
                    yield keepalive()
            finally:
                if not step.done():
                    # The consumer left (or was cancelled) while the chunk was on its way.
                    step.cancel()
                    await asyncio.gather(step, return_exceptions=True)
            try:
                chunk = step.result()
            except StopAsyncIteration:
                return
            yield chunk
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


async def _next(chunks: AsyncIterator[bytes]) -> bytes:
    return await anext(chunks)


async def _done_within(step: asyncio.Future[bytes], interval: float, clock: Clock) -> bool:
    """Wait until *step* is done or *interval* seconds passed on *clock*; True if done."""
    if type(clock) is SystemClock:
        # The event loop's own timer: no timer task per chunk.
        await asyncio.wait({step}, timeout=interval)
        return step.done()
    timer = asyncio.ensure_future(clock.sleep(interval))
    both: set[asyncio.Future[Any]] = {step, timer}
    try:
        await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        await asyncio.gather(timer, return_exceptions=True)
    return step.done()
