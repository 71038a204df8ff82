"""The server's observability, built from settings: call log, metrics, tracing.

``create_telemetry(settings, sessions)`` gives a :class:`ServerTelemetry`; its ``telemetry``
goes to every connection's client (``ConnectorClient(telemetry=...)``), so everything a
connection does is recorded with one call (see :mod:`connectory.observability.calls`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectory.observability.buffer import BufferedRecorder
from connectory.observability.calls import CallEntry, ConnectionCalls, Telemetry
from connectory.services.call_log import CallLogStore
from connectory.settings import Settings

if TYPE_CHECKING:
    from connectory.observability.metrics import Metrics
    from connectory.observability.tracing import SpanTracing

logger = logging.getLogger("connectory.calls")


@dataclass
class ServerTelemetry:
    """The call log (buffer and store), metrics and tracing of one server process."""

    telemetry: Telemetry
    buffer: BufferedRecorder | None = None
    store: CallLogStore | None = None
    metrics: Metrics | None = None
    tracing: SpanTracing | None = None

    def calls_for(
        self,
        connection_id: str,
        *,
        enterprise_id: str | None = None,
        connector_id: str | None = None,
    ) -> ConnectionCalls:
        """The call log of a connection that has no client at hand (webhook intake, a poll).

        Entries recorded this way are redacted with no connection secrets known: pass the
        connection's client's ``calls`` instead whenever there is one.
        """
        return ConnectionCalls(
            self.telemetry,
            connection_id,
            enterprise_id=enterprise_id,
            connector_id=connector_id,
        )

    def start(self) -> None:
        """Start the call log's background writer (on the running loop)."""
        if self.buffer is not None:
            self.buffer.start()

    async def flush(self) -> None:
        """Write the buffered call log entries now (before the log is read)."""
        if self.buffer is not None:
            await self.buffer.flush()
            self._report_pending()

    async def aclose(self) -> None:
        """Write what is left, export the last spans, stop."""
        if self.buffer is not None:
            await self.buffer.aclose()
        if self.tracing is not None:
            # The exporter may block on the network: not on the event loop.
            await asyncio.to_thread(self.tracing.shutdown)

    def _report_pending(self) -> None:
        if self.metrics is not None and self.buffer is not None:
            self.metrics.set_pending(self.buffer.pending)


def create_telemetry(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    tracer_provider: object | None = None,
) -> ServerTelemetry:
    """Build what *settings* turn on.

    Args:
        settings: ``call_log*``, ``metrics*`` and ``tracing``.
        sessions: Where the call log is written.
        tracer_provider: An OpenTelemetry tracer provider to use instead of one configured
            from the ``OTEL_*`` environment variables (tests; an application embedding the
            server with its own provider).
    """
    metrics: Metrics | None = None
    if settings.metrics:
        from connectory.observability.metrics import Metrics

        metrics = Metrics(connection_labels=settings.metrics_connection_labels)
    tracing: SpanTracing | None = None
    if settings.tracing or tracer_provider is not None:
        from connectory.observability.tracing import Tracing, tracing_from_env

        # A provider passed in gets the SDK's spans; our own configuration, lightweight ones.
        tracing = Tracing(tracer_provider) if tracer_provider is not None else tracing_from_env()
    server = ServerTelemetry(Telemetry(metrics=metrics, tracing=tracing), metrics=metrics)
    server.tracing = tracing
    if settings.call_log:
        store = CallLogStore(
            sessions,
            max_age=timedelta(days=settings.call_log_max_age_days),
            max_entries=settings.call_log_max_entries,
        )

        async def write(batch: Sequence[CallEntry]) -> None:
            await store.write(batch)
            server._report_pending()

        buffer = BufferedRecorder(
            write,
            max_entries=settings.call_log_buffer_size,
            flush_interval=settings.call_log_flush_interval,
            on_drop=metrics.count_dropped if metrics is not None else None,
        )
        server.buffer = buffer
        server.store = store
        server.telemetry.recorder = buffer
    server.telemetry.excerpt_bytes = settings.call_log_excerpt_bytes
    return server
