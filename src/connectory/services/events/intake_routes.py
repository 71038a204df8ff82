"""Intake routes by URL token: looked up once at a time per token, refreshed before they expire.

A provider's burst arrives on one URL. Without this, every request that found the entry
missing or expired looked it up itself: at start-up and every ``ttl`` seconds, each of the
requests in flight (32 in ``bench.events``) ran the same four queries and secret decryptions
at once, queued for pool connections and stalled the burst for hundreds of milliseconds: the
intake's p99. Now concurrent requests share one look-up, and a route in use is looked up again
in the background once it is ``refresh_after`` seconds old, while it is still served.

Freshness is unchanged: an entry is never served once ``ttl`` seconds have passed since its
look-up *started*, so a deleted subscription or a changed secret is seen within ``ttl``. The same
holds for a look-up in flight: a request joins one only while it is younger than ``ttl`` (one
stalled on the pool would otherwise hand a request the route it read long before); an older
one is left to finish, and its result never replaces an entry from a newer look-up.

A look-up that fails is answered by what failed (:func:`look_up_failure`): a 503 to retry only
when the database is unavailable, otherwise a 500 whose error id names the logged cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Generic, TypeVar

from connectory.errors import ConnectoryError, InternalError, StorageUnavailable, new_error_id
from connectory.logs import described_error
from connectory.services.events.intake_batch import is_transient

logger = logging.getLogger("connectory.events.intake")

T = TypeVar("T")

_UNAVAILABLE = "webhooks cannot be received now; send it again later"


def look_up_failure(error: Exception) -> ConnectoryError:
    """The answer to a route look-up that failed with *error* (a foreign error), logged.

    A 503 (:class:`StorageUnavailable`) tells the sender to retry, so it is kept for a database
    a retry can get past (:func:`is_transient`: connection lost, pool time-out, serialization
    failure, deadlock, ...). Anything else (a missing table, a value that cannot be decoded, a
    bug) would fail the retry too: an :class:`InternalError` (500) whose message quotes the
    error id its cause is logged under. Neither the answer nor the log holds the error's
    message: a driver's message may quote the statement's parameters (the URL's token).
    """
    if is_transient(error):
        logger.warning("looking up an intake route failed: %s", described_error(error))
        return StorageUnavailable(_UNAVAILABLE)
    error_id = new_error_id()
    logger.error(
        "looking up an intake route failed (error id %s): %s\n%s",
        error_id,
        described_error(error),
        "".join(traceback.format_tb(error.__traceback__)).rstrip(),
    )
    return InternalError(
        f"webhooks cannot be received at this URL: an internal error occurred "
        f"(error id {error_id}); it was logged",
        error_id,
    )


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
        self._loading: dict[str, tuple[float, asyncio.Task[T]]] = {}

    async def get(self, token: str, load: Callable[[], Awaitable[T]]) -> T:
        """The value of *token*: cached, else from a recent look-up in flight, else from *load*.

        Raises:
            Exception: what *load* raised (each waiting request gets its own copy of the error;
                nothing is cached, the next request looks up again).
            StorageUnavailable: the look-up was cancelled (the server is stopping).
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
        loading = self._loading.get(token)
        if loading is None or now - loading[0] >= self.ttl:
            # None in flight, or one started so long ago that what it read may be older than
            # an entry could ever be served: look up again (the old one finishes on its own).
            task = self._start(token, now, load)
        else:
            task = loading[1]
        # Waited for, not awaited: a request cancelled while waiting (its client went away)
        # does not cancel the look-up the other requests share, and the task's exception is
        # not raised (and its traceback extended) by every waiter.
        await asyncio.wait((task,))
        if task.cancelled():
            raise StorageUnavailable("the server is stopping; send the webhook again later")
        error = task.exception()
        if error is None:
            return task.result()
        raise _own_copy(error) from error

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry (look-ups in flight still finish and are kept)."""
        self._entries.clear()

    async def aclose(self) -> None:
        """Cancel the look-ups in flight (at shutdown, before the engine is disposed)."""
        tasks = [task for _, task in self._loading.values()]
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        self._loading.clear()
        self._entries.clear()

    def _start(
        self, token: str, started: float, load: Callable[[], Awaitable[T]]
    ) -> asyncio.Task[T]:
        # An empty context: the look-up is shared, so it must not log under (or otherwise
        # carry) the request id of whichever request happened to start it.
        task = asyncio.get_running_loop().create_task(_run(load), context=contextvars.Context())
        self._loading[token] = (started, task)
        task.add_done_callback(partial(self._finished, token, started))
        return task

    def _finished(self, token: str, started: float, task: asyncio.Task[T]) -> None:
        loading = self._loading.get(token)
        if loading is not None and loading[1] is task:
            del self._loading[token]
        entry = self._entries.get(token)
        if entry is not None and entry[0] > started:
            # A newer look-up already stored its result: this older one's (a value or a
            # failure) is no news. Retrieved anyway, so it is never reported as unretrieved.
            if not task.cancelled():
                task.exception()
            return
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


async def _run(load: Callable[[], Awaitable[T]]) -> T:
    return await load()


def _own_copy(error: BaseException) -> BaseException:
    """A copy of *error* for one waiter: waiters never share (and mutate) one instance."""
    try:
        fresh = copy.copy(error)
    except Exception:  # an exception class that cannot be rebuilt from its args
        return StorageUnavailable(_UNAVAILABLE)
    fresh.__traceback__ = None
    return fresh
