"""Rate limiting: an exact sliding-window log per key, plus upstream-requested pauses.

Invariant: for every key, in any window of ``window`` seconds at most ``limit`` slots are
granted, whatever the concurrency. A slot is granted at one instant and counted at that instant
for the next ``window`` seconds (so grants ``a[i]`` sorted obey ``a[i + limit] - a[i] >= window``).
The pipeline sends right after the grant, so the upstream sees the same spacing plus network
jitter.

A call may need several quotas at once (the connection's and the connector's): they are taken
all-or-nothing in one atomic step, so waiting for the second never holds a slot of the first
that the upstream would only see later.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from connectory.errors import RateLimited
from connectory.resilience.clock import Clock, SystemClock
from connectory.resilience.events import WaitCause

#: Shortest sleep between two checks: guards against float rounding leaving a wait of 1e-16 s
#: that a clock could not even represent, which would spin.
_MIN_SLEEP = 1e-6

WaitCallback = Callable[[float, WaitCause], None]


@dataclass(frozen=True)
class Quota:
    """One limit a request must fit in.

    Attributes:
        key: What is limited, e.g. ``connection:42`` or ``connector:weather``.
        limit: Requests allowed per window; None for no limit (pauses still apply).
    """

    key: str
    limit: int | None


class RateLimiter(Protocol):
    """Grants request slots under sliding-window limits and upstream pauses."""

    async def acquire(
        self,
        quotas: Sequence[Quota],
        max_wait: float,
        on_wait: WaitCallback | None = None,
        *,
        max_wait_setting: str | None = None,
    ) -> None:
        """Take a slot in every quota at once, waiting up to *max_wait* seconds for one.

        Args:
            quotas: The limits the request must fit in.
            max_wait: Seconds the caller can wait (its remaining deadline, or a read's
                ``max_read_wait``).
            on_wait: Called with ``(seconds, cause)`` before each wait.
            max_wait_setting: The setting *max_wait* comes from, named in the error; None
                when it is the call's remaining time.

        Raises:
            RateLimited: No slot frees up within *max_wait*; ``retry_after`` says when one will.
        """
        ...

    async def pause(self, key: str, seconds: float) -> None:
        """Hold every request on *key* for *seconds* (an upstream 429 asked for it)."""
        ...

    async def paused_for(self, key: str) -> float:
        """Return the seconds the pause on *key* still lasts (0 when not paused)."""
        ...


def rate_limited_error(
    wait: float, cause: WaitCause, max_wait: float, max_wait_setting: str | None = None
) -> RateLimited:
    """Build the error for a wait longer than the caller may wait.

    Args:
        wait: Seconds until the request could go.
        cause: ``rate limit`` or ``paused by upstream``.
        max_wait: Seconds the caller had left, or its cap on one wait.
        max_wait_setting: The setting *max_wait* comes from (e.g. ``max_read_wait``); None
            when it is the call's remaining time.
    """
    if cause == "paused by upstream":
        what = "the upstream asked to pause this connection (429 with a wait)"
    else:
        what = "the rate limit for this connection or connector is used up"
    if max_wait_setting is None:
        budget = (
            f"but the call has only {max(0.0, max_wait):.2f} s left. Retry later or raise "
            "the timeout."
        )
    else:
        budget = (
            f"more than {max_wait_setting} ({max_wait:g} s) allows. Retry later or raise "
            f"{max_wait_setting}."
        )
    return RateLimited(
        f"{what}; the next request may go in {wait:.2f} s, {budget}", retry_after=wait
    )


class MemoryRateLimiter:
    """Sliding-window log limiter for one process (the default).

    Each key keeps a deque of grant times. The check-and-take in :meth:`acquire` runs without an
    ``await`` in between, so it is atomic on the event loop: concurrent callers cannot overshoot,
    and no lock is needed.

    Args:
        clock: Time source; waits sleep on it.
        window: Window length in seconds (60 for "per minute"; tests use short windows).
    """

    def __init__(self, clock: Clock | None = None, *, window: float = 60.0) -> None:
        if window <= 0:
            raise ValueError("the window must be positive")
        self.clock: Clock = clock or SystemClock()
        self.window = window
        self._logs: dict[str, deque[float]] = {}
        self._paused_until: dict[str, float] = {}

    async def acquire(
        self,
        quotas: Sequence[Quota],
        max_wait: float,
        on_wait: WaitCallback | None = None,
        *,
        max_wait_setting: str | None = None,
    ) -> None:
        """Take a slot in every quota at once; see :meth:`RateLimiter.acquire`."""
        # The deadline is read only once a request has to wait: one admitted at once (the
        # common case) reads the clock once, in try_take. (Subclasses may wrap try_take: it
        # stays the one place a slot is taken.)
        deadline: float | None = None
        while True:
            wait, cause = self.try_take(quotas)
            if wait <= 0:
                return
            now = self.clock.monotonic()
            if deadline is None:
                deadline = now + max_wait
            left = deadline - now
            if wait > left:
                raise rate_limited_error(
                    wait, cause, max_wait if max_wait_setting else left, max_wait_setting
                )
            if on_wait is not None:
                on_wait(wait, cause)
            await self.clock.sleep(max(wait, _MIN_SLEEP))

    def try_take(self, quotas: Sequence[Quota], limit_scale: int = 1) -> tuple[float, WaitCause]:
        """Take a slot in every quota now if all have one; otherwise say how long to wait.

        Args:
            quotas: The limits the request must fit in.
            limit_scale: Divide every limit by this (at least 1 slot remains); the Redis
                limiter's fallback uses it to share a limit between processes.

        Returns:
            ``(0, ...)`` when the slots were taken, else ``(seconds, cause)`` to wait first.
        """
        now = self.clock.monotonic()
        wait = 0.0
        cause: WaitCause = "rate limit"
        for quota in quotas:
            paused_until = self._paused_until.get(quota.key)
            if paused_until is not None:
                if paused_until > now:
                    if paused_until - now > wait:
                        wait, cause = paused_until - now, "paused by upstream"
                else:
                    del self._paused_until[quota.key]
            if quota.limit is None:
                continue
            limit = max(1, quota.limit // limit_scale)
            log = self._logs.get(quota.key)
            if log is None:
                continue
            # Written as "age >= window" to match the invariant exactly under float rounding.
            while log and now - log[0] >= self.window:
                log.popleft()
            if not log:
                del self._logs[quota.key]
            elif len(log) >= limit:
                # The slot frees when the entry `limit` places from the newest expires. Float
                # rounding can make that look like "now" although the age test above said
                # "not yet": wait a tick then, never zero.
                until_free = max(log[len(log) - limit] + self.window - now, _MIN_SLEEP)
                if until_free > wait:
                    wait, cause = until_free, "rate limit"
        if wait > 0:
            return wait, cause
        logs = self._logs
        for quota in quotas:
            if quota.limit is not None:
                log = logs.get(quota.key)
                if log is None:  # not setdefault: that built a deque on every admission
                    log = logs[quota.key] = deque()
                log.append(now)
        return 0.0, cause

    async def pause(self, key: str, seconds: float) -> None:
        """Hold every request on *key* for *seconds*; a longer pause already set is kept."""
        if seconds <= 0:
            return
        until = self.clock.monotonic() + seconds
        self._paused_until[key] = max(until, self._paused_until.get(key, until))

    async def paused_for(self, key: str) -> float:
        """Return the seconds the pause on *key* still lasts (0 when not paused)."""
        until = self._paused_until.get(key)
        return 0.0 if until is None else max(0.0, until - self.clock.monotonic())
