"""The export queue of Connectory's span recorder: batches to the collector, off the request path.

:class:`SpanQueue` does for :class:`~connectory.observability.spans.SpanRecord` what the SDK's
``BatchSpanProcessor`` does for SDK spans, with the same ``OTEL_BSP_*`` settings
(:class:`BatchSettings`): the request path appends to a bounded ``deque``; a thread encodes and
sends batches.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value

if TYPE_CHECKING:
    from connectory.observability.otlp import RecordEncoder
    from connectory.observability.spans import SpanRecord

logger = logging.getLogger(__name__)

#: The whole shutdown's bound, in seconds: the SDK's ``BatchSpanProcessor`` default.
SHUTDOWN_TIMEOUT = 30.0


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        logger.warning("%s=%r is not a positive integer: using %d", name, raw, default)
        return default
    return value


@dataclass(frozen=True)
class BatchSettings:
    """The ``BatchSpanProcessor``'s settings (``OTEL_BSP_*``, the SDK's defaults)."""

    schedule_delay: float = 5.0
    max_queue_size: int = 2048
    max_export_batch_size: int = 512

    @classmethod
    def from_env(cls) -> BatchSettings:
        """Read the ``OTEL_BSP_*`` variables (the delay in milliseconds, as the SDK does)."""
        queue = _int_env("OTEL_BSP_MAX_QUEUE_SIZE", 2048)
        batch = _int_env("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)
        if batch > queue:
            logger.warning(
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=%d is over the queue size %d: using %d",
                batch,
                queue,
                queue,
            )
            batch = queue
        return cls(_int_env("OTEL_BSP_SCHEDULE_DELAY", 5000) / 1000, queue, batch)


@dataclass
class QueueStats:
    """What a :class:`SpanQueue` did: spans queued, dropped (queue full), sent and failed.

    ``abandoned`` counts the spans still queued when the shutdown's deadline passed.
    """

    queued: int = 0
    dropped: int = 0
    exported: int = 0
    failed: int = 0
    abandoned: int = 0


class SpanQueue:
    """Ended spans on their way to the collector: a bounded queue and an export thread.

    As the SDK's ``BatchSpanProcessor``: the thread wakes every ``schedule_delay`` or when a
    batch's worth is queued, and sends batches of at most ``max_export_batch_size``; a full
    queue drops its oldest span (counted in :attr:`stats`, a warning logged once); shutdown
    has the thread send what is left, within one deadline. The request path only appends to a
    ``deque``. Sends run with OpenTelemetry's suppress-instrumentation flag set, as the SDK's
    processors set it, so an instrumented HTTP client does not trace the exports themselves.

    Args:
        send: Sends one encoded ``ExportTraceServiceRequest``; returns whether it was taken.
        encoder: Encodes a batch of records.
        settings: Batching (``OTEL_BSP_*``).
        clock: Monotonic seconds, for the shutdown's deadline (tests inject one).
    """

    def __init__(
        self,
        send: Callable[[bytes], bool],
        encoder: RecordEncoder,
        settings: BatchSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._encoder = encoder
        self.settings = settings
        self.stats = QueueStats()
        self._clock = clock
        self._queue: deque[SpanRecord] = deque(maxlen=settings.max_queue_size)
        self._warned = False
        self._closed = False
        # No batch is started at or after this (the clock's time): set by shutdown().
        self._deadline = math.inf
        self._start_worker()
        # A forked child (a pre-fork server) gets its own thread and an empty queue, as the
        # SDK's processor does: the parent's thread does not exist in the child.
        reinit = weakref.WeakMethod(self._start_worker)

        def after_fork() -> None:
            method = reinit()
            if method is not None:
                method()

        os.register_at_fork(after_in_child=after_fork)

    def _start_worker(self) -> None:
        self._queue.clear()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="ConnectorySpanExport", daemon=True)
        self._thread.start()

    def put(self, span: SpanRecord) -> None:
        """Queue an ended span (the request path: an append, never a wait)."""
        queue = self._queue
        if self._closed:
            return
        if len(queue) >= self.settings.max_queue_size:
            self.stats.dropped += 1
            if not self._warned:
                self._warned = True
                logger.warning("the span queue is full: the oldest spans are dropped")
        queue.append(span)
        self.stats.queued += 1
        if len(queue) >= self.settings.max_export_batch_size and not self._wake.is_set():
            self._wake.set()

    def _work(self) -> None:
        while not self._closed:
            woken = self._wake.wait(self.settings.schedule_delay)
            if self._closed:
                break
            self._export(everything=not woken)
            self._wake.clear()
        # The final drain runs here, not in shutdown(): shutdown() can then give up waiting
        # at its deadline even while a send is stuck (a collector that does not answer).
        self._export(everything=True)

    def _export(self, everything: bool) -> None:
        """Send full batches; with *everything*, what is queued (at least one batch)."""
        with self._lock:
            queue = self._queue
            size = self.settings.max_export_batch_size
            # As the SDK's processors: an instrumented HTTP client (opentelemetry-instrument)
            # must not make the exports spans of the application's traces.
            token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
            try:
                while queue and (everything or len(queue) >= size):
                    if self._clock() >= self._deadline:
                        # Shutdown's time is up: what is left is not sent.
                        self.stats.abandoned += len(queue)
                        queue.clear()
                        break
                    batch = [queue.popleft() for _ in range(min(size, len(queue)))]
                    try:
                        taken = self._send(self._encoder.encode(batch))
                    except Exception:
                        logger.exception("exporting %d spans failed", len(batch))
                        taken = False
                    if taken:
                        self.stats.exported += len(batch)
                    else:
                        self.stats.failed += len(batch)
            finally:
                detach(token)

    def flush(self) -> None:
        """Send everything queued now (tests; a caller about to read the collector)."""
        self._export(everything=True)

    def shutdown(
        self, timeout: float = SHUTDOWN_TIMEOUT, abort: Callable[[], object] | None = None
    ) -> None:
        """Stop the thread after it sends what is left, all within *timeout* seconds.

        As the SDK's ``BatchSpanProcessor``: the thread drains the queue while this waits for
        it up to the deadline; then *abort* (the exporter's shutdown, which stops its retries)
        is called, whether the drain finished or not, and this returns. A send still running
        then is left to finish in the (daemon) thread; no new batch is started after the
        deadline and the spans still queued are counted in ``stats.abandoned``.

        Args:
            timeout: Seconds for the whole shutdown (a process manager's kill grace is
                usually 30 s).
            abort: Called once the drain finished or the time is up.
        """
        if self._closed:
            return
        self._deadline = self._clock() + timeout
        self._closed = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(max(0.0, self._deadline - self._clock()))
        else:
            # The thread ends only after a shutdown: should it be gone anyway, drain here,
            # within the same deadline.
            self._export(everything=True)
        if abort is not None:
            abort()
        if self._thread.is_alive():
            logger.warning(
                "span export did not finish within the %.0f s shutdown: %d spans still queued",
                timeout,
                len(self._queue),
            )
        if self.stats.dropped:
            logger.warning(
                "%d of %d spans were dropped (the queue was full: OTEL_BSP_MAX_QUEUE_SIZE)",
                self.stats.dropped,
                self.stats.queued,
            )
