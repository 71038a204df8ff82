"""Time as a dependency: the real clock, and a virtual one for tests that must never wait.

Everything in :mod:`connectory.resilience` reads time and sleeps through a :class:`Clock` that
is passed in. Production code uses :class:`SystemClock`; tests use :class:`FakeClock`, whose
``sleep`` returns as soon as every task is waiting on it, with the clock moved forward exactly
as far as the earliest sleeper asked. A 30 s backoff sequence therefore runs in microseconds and
the timestamps the code observes are exact.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar, runtime_checkable

T = TypeVar("T")

#: Loop iterations the fake clock lets pass, with no sleep starting or ending, before it
#: concludes that every task is blocked on it. Code under test that awaits only immediate
#: things (MockTransport, uncontended locks, task start-up) settles in a handful of
#: iterations; 32 leaves a wide margin.
_IDLE_ROUNDS = 32


@runtime_checkable
class Clock(Protocol):
    """Where resilience code reads time and sleeps."""

    def monotonic(self) -> float:
        """Return seconds on a clock that never goes backwards (for deadlines and windows)."""
        ...

    def time(self) -> float:
        """Return the wall time as Unix epoch seconds (to read HTTP dates in ``Retry-After``)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend the calling task for *seconds* (0 or less just yields to the loop)."""
        ...


class SystemClock:
    """The real clock: :func:`time.monotonic`, :func:`time.time` and :func:`asyncio.sleep`."""

    #: :func:`time.monotonic` itself: a call's deadline, limiter and breaker read it several
    #: times per request, and a method around it would add a Python frame to each reading.
    monotonic = staticmethod(time.monotonic)

    def time(self) -> float:
        """Return :func:`time.time`."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """Sleep with :func:`asyncio.sleep`."""
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A virtual clock for tests: sleeping costs no real time.

    With ``autojump=True`` (the default) the clock jumps to the earliest pending sleeper as soon
    as the event loop has been idle for a few iterations, i.e. when every task is waiting on this
    clock. Code that also waits on real I/O should use ``autojump=False`` and drive time with
    :meth:`advance`, or use :class:`SystemClock`.

    Args:
        start: The initial monotonic reading.
        wall_start: The wall time (epoch seconds) that corresponds to *start*.
        autojump: Advance automatically when every task is waiting on the clock.

    Attributes:
        sleeps: Every positive duration passed to :meth:`sleep`, in call order.
    """

    def __init__(
        self, start: float = 0.0, *, wall_start: float = 1_700_000_000.0, autojump: bool = True
    ) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        self._autojump = autojump
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._driver: asyncio.Task[None] | None = None
        # Bumped whenever a sleep starts or ends (woken or cancelled): the loop is not idle.
        self._changes = 0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """Return the virtual monotonic time."""
        return self._now

    def time(self) -> float:
        """Return the virtual wall time."""
        return self._now + self._wall_offset

    async def sleep(self, seconds: float) -> None:
        """Wait until the virtual time has moved *seconds* forward."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        self.sleeps.append(seconds)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), waiter))
        self._changes += 1
        if self._autojump and (self._driver is None or self._driver.done()):
            self._driver = asyncio.get_running_loop().create_task(self._drive())
        try:
            await waiter
        finally:
            self._changes += 1

    def advance(self, seconds: float) -> None:
        """Move the clock *seconds* forward, waking every sleeper that is then due.

        Args:
            seconds: How far to move; must not be negative.

        Raises:
            ValueError: *seconds* is negative.
        """
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        target = self._now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            self._wake_next()
        self._now = target

    def _wake_next(self) -> None:
        # Wake everyone due at the earliest deadline together, so they observe the same time.
        deadline = self._sleepers[0][0]
        self._now = max(self._now, deadline)
        while self._sleepers and self._sleepers[0][0] <= deadline:
            _, _, waiter = heapq.heappop(self._sleepers)
            if not waiter.done():
                waiter.set_result(None)

    async def _drive(self) -> None:
        while True:
            # Count the idle rounds afresh after any sleep started or ended: a task that was
            # just woken (or whose timer was just cancelled) is still working. Counting from
            # the driver's start instead once jumped to a timeout timer being cancelled.
            seen = -1
            while seen != self._changes:
                seen = self._changes
                for _ in range(_IDLE_ROUNDS):
                    await asyncio.sleep(0)
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)  # a cancelled sleeper
            if not self._sleepers:
                return
            self._wake_next()


async def run_with_timeout(
    clock: Clock, factory: Callable[[], Awaitable[T]], seconds: float
) -> tuple[bool, T | None]:
    """Run ``factory()`` but stop it once *seconds* have passed on *clock*.

    :func:`asyncio.timeout` follows the event loop's clock, which a :class:`FakeClock` does not
    drive; racing the work against ``clock.sleep`` cuts it at the same instant on either clock.

    Args:
        clock: The clock that decides when time is up.
        factory: Makes the awaitable to run (called once, inside a new task).
        seconds: The time allowed.

    Returns:
        ``(True, result)`` when the work finished in time, ``(False, None)`` when it was cut.
        Exceptions raised by the work propagate.
    """

    async def work() -> T:
        return await factory()

    task = asyncio.ensure_future(work())
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        # The caller was cancelled: take the attempt down with it.
        task.cancel()
        timer.cancel()
        await asyncio.gather(task, timer, return_exceptions=True)
        raise
    if task.done():
        timer.cancel()
        await asyncio.gather(timer, return_exceptions=True)
        return True, task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return False, None
