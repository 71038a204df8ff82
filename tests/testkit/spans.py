"""OpenTelemetry SDK spans kept in memory, for the tests of what a call traces."""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from connectory.observability.tracing import Tracing


class MemorySpans:
    """An SDK tracer provider whose spans are kept in memory as each one ends.

    Attributes:
        provider: The provider (give it to an app as ``tracer_provider``).
        exporter: Where the finished spans are.
    """

    def __init__(self, resource: Resource | None = None) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(resource=resource)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def tracing(self) -> Tracing:
        """Connectory's SDK tracing on this provider (what a client's telemetry takes)."""
        return Tracing(self.provider)

    def finished(self) -> list[ReadableSpan]:
        """The spans ended so far, in the order they ended."""
        self.provider.force_flush()
        return list(self.exporter.get_finished_spans())
