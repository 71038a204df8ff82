"""Observability: the per-connection call log, Prometheus metrics and OpenTelemetry traces.

The call log's recorder interface lives in :mod:`connectory.observability.calls` (one call to
emit an entry); :mod:`~connectory.observability.buffer` batches entries for the store;
:mod:`~connectory.observability.metrics` and :mod:`~connectory.observability.tracing` are
imported only by a server that turns them on (they load prometheus-client and the
OpenTelemetry SDK); with tracing configured by the server itself, spans are recorded by
:mod:`~connectory.observability.spans` and exported by
:mod:`~connectory.observability.span_queue`. See docs/observability.md.
"""

from connectory.observability.buffer import BufferedRecorder, BufferStats
from connectory.observability.calls import (
    CALL_KINDS,
    CallEntry,
    CallRecorder,
    CallTrack,
    ConnectionCalls,
    MemoryRecorder,
    ResponseIds,
    Telemetry,
    current_call,
    current_response_ids,
    serving_request,
)

__all__ = [
    "CALL_KINDS",
    "BufferStats",
    "BufferedRecorder",
    "CallEntry",
    "CallRecorder",
    "CallTrack",
    "ConnectionCalls",
    "MemoryRecorder",
    "ResponseIds",
    "Telemetry",
    "current_call",
    "current_response_ids",
    "serving_request",
]
