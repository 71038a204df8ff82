"""Pacing of paginated reads: the rate limit slows a read down instead of failing it.

A read (:meth:`ConnectorClient.iter_pages` and everything built on it: ``iter_records``, the
CLI's ``--all-pages``, the server's JSON Lines streams, collection lists, event polls and
syncs) sends each page through the resilience pipeline with ``max_pause`` set to the
operation's ``max_read_wait``. The seed's ``timeout`` ("how long to wait for a response") then
bounds each page with its retries, while waits for a rate-limit slot, for an upstream's pause
and for the ``Retry-After`` it asked for are outside it, each capped by ``max_read_wait``.

The read's settings travel in a context variable, set only around one page's request, so
that every request made for that page is paced alike: the page itself, an OAuth2 token
refresh it needs, and calls a hook makes on its behalf.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from connectory.resilience import Observer, ResilienceEvent
from connectory.resilience.pipeline import MAX_PAUSE_SETTING


@dataclass(frozen=True)
class ReadPacing:
    """How the requests of one page of a read are paced.

    Attributes:
        max_pause: Longest single wait (seconds) for the rate limit or a ``Retry-After``,
            outside the page's timeout; None counts such waits against the timeout, as for a
            single call (an interactive read that must answer promptly).
        observer: Receives this read's resilience events (waits included), besides the
            client's own observer.
        setting: Where *max_pause* comes from, named in the error of a longer wait.
    """

    max_pause: float | None
    observer: Observer | None = None
    setting: str = MAX_PAUSE_SETTING


@dataclass(frozen=True)
class PauseCap:
    """A bound on every paced wait, below ``max_read_wait``, for work that holds a lease."""

    seconds: float
    setting: str


_PACING: ContextVar[ReadPacing | None] = ContextVar("connectory_read_pacing", default=None)
_CAP: ContextVar[PauseCap | None] = ContextVar("connectory_pause_cap", default=None)


@contextmanager
def pacing_requests(pacing: ReadPacing) -> Iterator[None]:
    """Pace the requests made inside the block (one page's, never across a ``yield``)."""
    token = _PACING.set(pacing)
    try:
        yield
    finally:
        _PACING.reset(token)


@contextmanager
def capped_pauses(seconds: float, setting: str) -> Iterator[None]:
    """Cap every paced wait of the reads inside the block at *seconds*.

    A worker's poll holds its subscription for a lease; a rate-limit pause longer than the
    lease would let another worker take the subscription and pull it again. Under the cap a
    longer wait fails the poll at once with :class:`RateLimited` (naming *setting*), and the
    poll is retried later like any failure.
    """
    token = _CAP.set(PauseCap(seconds, setting))
    try:
        yield
    finally:
        _CAP.reset(token)


def current_pacing() -> ReadPacing | None:
    """Return the pacing of the page being fetched (capped, see :func:`capped_pauses`)."""
    pacing = _PACING.get()
    cap = _CAP.get()
    if pacing is None or cap is None or pacing.max_pause is None:
        return pacing
    if pacing.max_pause <= cap.seconds:
        return pacing
    return ReadPacing(cap.seconds, pacing.observer, cap.setting)


def combine_observers(first: Observer | None, second: Observer | None) -> Observer | None:
    """Return an observer that passes each event to *first*, then to *second*."""
    if first is None:
        return second
    if second is None:
        return first

    def both(event: ResilienceEvent) -> None:
        try:
            first(event)
        finally:
            second(event)

    return both
