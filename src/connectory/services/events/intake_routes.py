"""Intake routes by URL token: looked up once at a time per token, refreshed before they expire.

A provider's burst arrives on one URL. Without this, every request that found the entry
missing or expired looked it up itself: at start-up and every ``ttl`` seconds, each of the
requests in flight (32 in ``bench.events``) ran the same four queries and secret decryptions
at once, queued for pool connections and stalled the burst for hundreds of milliseconds: the
intake's p99. Now concurrent requests share one look-up, and a route in use is looked up again
in the background once it is ``refresh_after`` seconds old, while it is still served.

Freshness is unchanged: an entry is never served once ``ttl`` seconds have passed since its
look-up *started*, so a deleted subscription or a changed secret is seen within ``ttl``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Generic, TypeVar

T = TypeVar("T")


class RouteCache(Generic[T]):
    """Values by token, each loaded by one task at a time and refreshed ahead of expiry.

    Args:
        ttl: Seconds an entry may be served, counted from the start of its look-up.
        refresh_after: Age at which a served entry is looked up again in the background.
        limit: Entries kept at most (all are dropped when it is reached: tokens are many
            only under a scan of random URLs, which the look-up refuses anyway).
        clock: Monotonic seconds (injected in tests).
    """

    def __init__(
        self,
        ttl: float = 5.0,
        refresh_after: float = 4.0,
        limit: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.refresh_after = refresh_after
        self.limit = limit
        self._clock = clock
        self._entries: dict[str, tuple[float, T]] = {}
        self._loading: dict[str, asyncio.Task[T]] = {}

    async def get(self, token: str, load: Callable[[], Awaitable[T]]) -> T:
        """The value of *token*: cached, else from the look-up in flight, else from *load*.

        Raises:
            Exception: whatever *load* raised (every request waiting for it sees the error;
                nothing is cached, the next request looks up again).
        """
        now = self._clock()
        entry = self._entries.get(token)
        if entry is not None:
            age = now - entry[0]
            if age < self.ttl:
                if age >= self.refresh_after and token not in self._loading:
                    self._start(token, now, load)  # served meanwhile; the result replaces it
                return entry[1]
            del self._entries[token]
        task = self._loading.get(token)
        if task is None:
            task = self._start(token, now, load)
        # Shielded: a request cancelled while waiting (its client went away) does not cancel
        # the look-up the other requests share.
        return await asyncio.shield(task)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry (look-ups in flight still finish and are kept)."""
        self._entries.clear()

    def _start(
        self, token: str, started: float, load: Callable[[], Awaitable[T]]
    ) -> asyncio.Task[T]:
        task = asyncio.ensure_future(load())
        self._loading[token] = task
        task.add_done_callback(partial(self._finished, token, started))
        return task

    def _finished(self, token: str, started: float, task: asyncio.Task[T]) -> None:
        if self._loading.get(token) is task:
            del self._loading[token]
        if task.cancelled() or task.exception() is not None:
            # Not found (deleted meanwhile) or the database failed: serve nothing stale; the
            # next request looks up again (and sees the error itself). Retrieving the
            # exception here also keeps a background refresh's failure from being reported
            # as never retrieved.
            self._entries.pop(token, None)
            return
        if token not in self._entries and len(self._entries) >= self.limit:
            self._entries.clear()
        self._entries[token] = (started, task.result())
