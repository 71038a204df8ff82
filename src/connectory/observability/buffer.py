"""A bounded buffer between the calls and the store: batched writes, never a wait.

:meth:`BufferedRecorder.record` appends to a deque and returns; a background task writes
what has gathered in one batch every ``flush_interval`` seconds (sooner once ``batch_size``
entries wait). When the buffer is full an entry is counted as dropped instead of waiting, and
a batch the store refuses (database down) is dropped and counted too: the call log is
evidence, never a reason for a call to slow down or fail.

An entry's excerpts are made off the call's path (see ``make_excerpts``): once the writer has
started, in small steps the event loop runs as soon as the task that recorded them yields
(usually once the call's response has been handed on, while the loop would otherwise wait
for the next request), rather than all at once in the writer's batch, which held up whatever
request arrived during it for the whole batch. What is not made by then the writer makes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from connectory.observability.calls import CallEntry, excerpts_pending, make_excerpts

logger = logging.getLogger("connectory.calls")

Writer = Callable[[Sequence[CallEntry]], Awaitable[None]]

#: Entries whose excerpts one step of the loop makes, at most (a few microseconds each).
PREPARE_STEP = 16


@dataclass
class BufferStats:
    """Counts since start."""

    recorded: int = 0
    """Entries accepted into the buffer."""
    written: int = 0
    """Entries the store accepted."""
    dropped: int = 0
    """Entries lost: the buffer was full, or the store refused their batch."""
    failed_batches: int = 0
    """Batches the store refused."""


class BufferedRecorder:
    """A :class:`~connectory.observability.calls.CallRecorder` that writes in batches.

    Args:
        writer: Stores one batch (an INSERT of many rows).
        max_entries: Entries held at most; more are dropped (and counted).
        batch_size: Entries per write, at most; reaching it wakes the writer early.
        flush_interval: Seconds between writes while entries arrive.
        on_drop: Called with the number of entries dropped (metrics).
    """

    def __init__(
        self,
        writer: Writer,
        *,
        max_entries: int = 10_000,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        self._writer = writer
        self._max = max(1, max_entries)
        self._batch_size = max(1, batch_size)
        self._interval = flush_interval
        self._on_drop = on_drop
        self._entries: deque[CallEntry] = deque()
        #: Recorded entries whose excerpts may not be made yet (oldest first).
        self._unprepared: deque[CallEntry] = deque()
        self._preparing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()
        self.stats = BufferStats()

    def record(self, entry: CallEntry) -> None:
        """Buffer *entry*, or count it as dropped when the buffer is full. Never waits."""
        entries = self._entries
        if len(entries) >= self._max:
            self._dropped(1)
            return
        entries.append(entry)
        self.stats.recorded += 1
        # ">=": a flush takes only what was buffered when it began, so the buffer can pass
        # the batch size while one is written; the writer must still be woken after it.
        if len(entries) >= self._batch_size and self._wake is not None:
            self._wake.set()
        loop = self._loop
        # Bounded as the buffer is (a loop that stopped without aclose never takes them).
        if loop is not None and len(self._unprepared) < self._max and excerpts_pending(entry):
            if not _running(loop):
                # Recorded in a thread: the writer makes these excerpts (queued here, it could
                # wait behind a step that has just ended, with nothing scheduled to take it).
                return
            self._unprepared.append(entry)
            if not self._preparing:
                self._preparing = True
                loop.call_soon(self._prepare_some)

    def _prepare_some(self) -> None:
        """Make the excerpts of the next few entries; come back for more on a later step."""
        unprepared = self._unprepared
        step = [unprepared.popleft() for _ in range(min(PREPARE_STEP, len(unprepared)))]
        try:
            make_excerpts(step)
        except Exception:
            # Not expected (an entry's own failures leave it without excerpts); the writer
            # tries again on what is left.
            logger.exception("making call log excerpts failed")
        if unprepared and self._loop is not None:
            self._loop.call_soon(self._prepare_some)
        else:
            self._preparing = False

    @property
    def pending(self) -> int:
        """Entries waiting to be written."""
        return len(self._entries)

    def start(self) -> None:
        """Start the background writer on the running loop."""
        if self._task is None:
            self._wake = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            self._preparing = False
            self._task = self._loop.create_task(self._run())

    async def aclose(self) -> None:
        """Stop the writer and write what is left (the server is stopping)."""
        task, self._task = self._task, None
        self._loop = None  # the writer makes what is left
        self._unprepared.clear()
        self._preparing = False
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        # Until nothing is left: calls still finishing during the shutdown record too.
        while self._entries:
            failed = self.stats.failed_batches
            await self.flush()
            if self.stats.failed_batches != failed:
                break  # the store refuses: what is left is not written

    async def flush(self) -> None:
        """Write the entries buffered now (readers call it so a page shows the latest).

        Entries recorded while this writes wait for the next write (the interval, or a
        batch's worth): draining until the buffer is empty would, under a steady stream of
        calls, write continuously in batches of the few entries each write let gather: a
        transaction and a commit per handful of entries instead of per batch.
        """
        async with self._flushing:
            left = len(self._entries)
            while left > 0 and self._entries:
                count = min(left, len(self._entries), self._batch_size)
                left -= count
                batch = [self._entries.popleft() for _ in range(count)]
                try:
                    await self._writer(batch)
                except asyncio.CancelledError:
                    self._dropped(len(batch))
                    raise
                except Exception as error:
                    self.stats.failed_batches += 1
                    self._dropped(len(batch))
                    logger.warning(
                        "the call log could not store %d entries (%s); they are dropped",
                        len(batch),
                        type(error).__name__,
                    )
                    return
                self.stats.written += len(batch)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self.flush()

    def _dropped(self, count: int) -> None:
        self.stats.dropped += count
        if self._on_drop is not None:
            try:
                self._on_drop(count)
            except Exception:
                logger.exception("counting dropped call log entries failed")


def _running(loop: asyncio.AbstractEventLoop) -> bool:
    """True when *loop* is the loop running in this thread."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
