"""OpenTelemetry traces: a span per call, a child span per attempt, hook and token request.

Off by default. On (``CONNECTORY_TRACING=true``), spans go to the exporter the standard
environment variables choose: ``OTEL_TRACES_EXPORTER`` (``otlp``, the default, ``console`` or
``none``), ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER``... (OTLP over HTTP/protobuf). The SDK is imported only then.

Two implementations of one interface (:class:`SpanTracing`): :class:`Tracing` records spans
with the OpenTelemetry SDK through a ``TracerProvider`` (one an application or a test passes
in gets exactly the SDK's spans); :func:`tracing_from_env`, what the server uses when it
configures tracing itself, records them with Connectory's lightweight recorder
(:mod:`connectory.observability.spans`: same spans, same OTLP, a fraction of the SDK's cost
on the request path) unless the configuration asks for something only the SDK does.

A tracked call (:class:`~connectory.observability.calls.CallTrack`) is a span; calls tracked
inside it (a hook, a token request) are child spans; each attempt the runtime sends is a
CLIENT span under the innermost call. ``traceparent`` goes upstream only for connectors that
set ``propagate_trace: true``: an API should not learn our trace ids unless its owner wants
that.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from contextlib import AbstractContextManager
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from connectory.errors import ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from connectory.observability.calls import CallEntry, CallTrack

_PROPAGATOR = TraceContextTextMapPropagator()

#: A call span's name and its shared attributes (read-only).
CallShape = tuple[str, Mapping[str, Any]]

#: Call span shapes remembered by a tracing (kinds x operations x connections in use).
_MAX_CALL_SHAPES = 4096


class SpanTracing(Protocol):
    """What a tracked call and the runtime need of tracing (SDK spans or recorded ones)."""

    def start_call_span(self, track: CallTrack, parent: CallTrack | None) -> Any:
        """Start the span of *track*, a child of *parent*'s span (or of the current span)."""

    def end_call_span(self, span: Any, entry: CallEntry, error: BaseException | None) -> None:
        """End a call's span with what the entry says."""

    def trace_id_of(self, span: Any) -> str | None:
        """The span's trace id as 32 hex digits (None for a span that is not recorded)."""

    def attempt_span(
        self,
        track: CallTrack | None,
        method: str,
        redacted_url: str,
        headers: MutableMapping[str, str] | None,
    ) -> AbstractContextManager[Any]:
        """A CLIENT span for one attempt; with *headers*, ``traceparent`` is set in them."""

    def shutdown(self) -> None:
        """Export what is left and stop."""


class SpanLifecycle:
    """What both tracing paths do with spans, written once: names, attributes, status, end.

    A subclass only says how its spans are made and marked: :meth:`_start_span` (a span of
    the kind given, under a parent span when there is one), :meth:`_fail` (status ERROR with
    a description), :meth:`_end` and :meth:`_inject` (``traceparent`` into headers). Both
    kinds of span take ``set_attribute`` and ``set_attributes``. What a call span or an
    attempt span carries, and when it is an error, is decided here for both, so the SDK's
    spans and the recorder's cannot drift apart.
    """

    def __init__(self) -> None:
        # The name and shared attributes of call spans, by kind, operation, connection and
        # connector: a server makes the same few over and over (bounded: emptied when full).
        self._call_shapes: dict[tuple[str, str | None, str | None, str | None], CallShape] = {}

    def _start_span(
        self,
        name: str,
        client: bool,
        attributes: dict[str, Any],
        parent: Any | None,
        shared: Mapping[str, Any] | None = None,
    ) -> Any:
        """Start a span (a CLIENT span when *client*, else INTERNAL) under *parent*'s span.

        *shared* attributes (never changed, the same dict for many spans) come before the
        span's own *attributes*.
        """
        raise NotImplementedError

    def _fail(self, span: Any, description: str | None) -> None:
        """Set the span's status to ERROR with *description*."""
        raise NotImplementedError

    def _end(self, span: Any) -> None:
        """End the span (it is exported from then on)."""
        raise NotImplementedError

    def _inject(self, span: Any, headers: MutableMapping[str, str]) -> None:
        """Put the W3C ``traceparent`` (and ``tracestate``) naming *span* into *headers*."""
        raise NotImplementedError

    def start_call_span(self, track: CallTrack, parent: CallTrack | None) -> Any:
        """Start the span of *track*, a child of *parent*'s span (or of the current span)."""
        calls = track._calls
        key = (
            track.kind,
            track.operation,
            calls.connection_id if calls is not None else None,
            calls.connector_id if calls is not None else None,
        )
        shape = self._call_shapes.get(key)
        if shape is None:
            shape = call_span_shape(*key)
            if len(self._call_shapes) >= _MAX_CALL_SHAPES:
                self._call_shapes.clear()
            self._call_shapes[key] = shape
        name, shared = shape
        parent_span = parent.span if parent is not None else None
        return self._start_span(name, False, {"connectory.call_id": track.id}, parent_span, shared)

    def end_call_span(self, span: Any, entry: CallEntry, error: BaseException | None) -> None:
        """End a call's span with what the entry says."""
        # One set_attributes: the SDK takes the span's lock and cleans values once per call.
        span.set_attributes(call_span_end_attributes(entry))
        if entry.status == "error":
            self._fail(span, entry.error_message or entry.error_class)
        self._end(span)

    def attempt_span(
        self,
        track: CallTrack | None,
        method: str,
        redacted_url: str,
        headers: MutableMapping[str, str] | None,
    ) -> AttemptSpan:
        """A CLIENT span for one attempt: a context manager giving the span.

        With *headers*, ``traceparent`` is set in them. An exception leaving the block marks
        the span as an error (``error.type`` and the status); the span ends on the way out.
        """
        span = self._start_span(
            method,
            True,
            {"http.request.method": method, "url.full": redacted_url},
            track.span if track is not None else None,
        )
        if headers is not None:
            self._inject(span, headers)
        return AttemptSpan(self, span)


class AttemptSpan:
    """The context manager of an attempt's span (see :meth:`SpanLifecycle.attempt_span`)."""

    __slots__ = ("_tracing", "span")

    def __init__(self, tracing: SpanLifecycle, span: Any) -> None:
        self._tracing = tracing
        self.span = span

    def __enter__(self) -> Any:
        return self.span

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        span = self.span
        if kind is not None:
            span.set_attribute("error.type", kind.__name__)
            self._tracing._fail(span, kind.__name__)
        self._tracing._end(span)


class Tracing(SpanLifecycle):
    """Where spans go: one tracer of one provider (no global provider is installed).

    Args:
        provider: A tracer provider (tests pass one with an in-memory exporter); by default
            one is built from the standard ``OTEL_*`` environment variables.
    """

    def __init__(self, provider: Any | None = None) -> None:
        super().__init__()
        self._owned = provider is None
        self.provider = provider if provider is not None else create_provider_from_env()
        self.tracer = self.provider.get_tracer("connectory")

    def _start_span(
        self,
        name: str,
        client: bool,
        attributes: dict[str, Any],
        parent: Any | None,
        shared: Mapping[str, Any] | None = None,
    ) -> Any:
        if shared:
            attributes = {**shared, **attributes}
        context = trace.set_span_in_context(parent) if parent is not None else None
        kind = SpanKind.CLIENT if client else SpanKind.INTERNAL
        return self.tracer.start_span(name, context=context, kind=kind, attributes=attributes)

    def _fail(self, span: Any, description: str | None) -> None:
        span.set_status(Status(StatusCode.ERROR, description))

    def _end(self, span: Any) -> None:
        span.end()

    def _inject(self, span: Any, headers: MutableMapping[str, str]) -> None:
        _PROPAGATOR.inject(headers, context=trace.set_span_in_context(span))

    @staticmethod
    def trace_id_of(span: Any) -> str | None:
        """The span's trace id as 32 hex digits (None for a span that is not recorded)."""
        context = span.get_span_context()
        return format(context.trace_id, "032x") if context.is_valid else None

    def shutdown(self) -> None:
        """Export what is left and stop (a provider passed in is left to its owner)."""
        if self._owned:
            self.provider.shutdown()


def call_span_shape(
    kind: str, operation: str | None, connection_id: str | None, connector_id: str | None
) -> CallShape:
    """The name and the shared first attributes of a call span (the same on both paths).

    The attributes dict is shared by every span of that kind, operation, connection and
    connector: nobody may change it (a span's own attributes, the call id first, follow it).
    """
    attributes: dict[str, Any] = {"connectory.kind": kind}
    if operation:
        attributes["connectory.operation"] = operation
    if connection_id is not None:
        attributes["connectory.connection_id"] = connection_id
        if connector_id:
            attributes["connectory.connector_id"] = connector_id
    name = f"{kind} {operation}" if operation else kind
    return name, MappingProxyType(attributes)


def call_span_end_attributes(entry: CallEntry) -> dict[str, Any]:
    """The attributes a call span ends with, from its call-log entry (both tracing paths)."""
    attributes: dict[str, Any] = {"connectory.attempts": entry.attempts}
    if entry.status_code is not None:
        attributes["http.response.status_code"] = entry.status_code
    if entry.status == "error" and entry.error_class:
        attributes["error.type"] = entry.error_class
    return attributes


def tracing_from_env(lightweight: bool = True) -> SpanTracing:
    """The server's tracing, configured by the standard ``OTEL_*`` environment variables.

    Args:
        lightweight: Record spans with Connectory's recorder where the configuration allows
            (False: always the SDK, e.g. to compare the two).

    Raises:
        ConfigurationError: an exporter or protocol Connectory does not ship.
    """
    if lightweight:
        recorded = _recorded_tracing_from_env()
        if recorded is not None:
            return recorded
    # Built here, so owned: shutdown() exports what is left, as the recorder's does.
    return Tracing()


def _recorded_tracing_from_env() -> SpanTracing | None:
    from connectory.observability.span_queue import BatchSettings, SpanQueue
    from connectory.observability.spans import RecordedTracing, recorder_config_from_env

    config = recorder_config_from_env()
    if config is None:
        return None
    sampler, export = config
    if not export:
        return RecordedTracing(sampler, None)
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    from connectory.observability.otlp import OtlpSpanExporter, RecordEncoder

    exporter = OtlpSpanExporter()
    if not exporter.fast:
        # The SDK's exporter changed shape: only the SDK's own path can export.
        exporter.shutdown()  # type: ignore[no-untyped-call]
        return None
    resource = _resource_from_env()
    # The scope the SDK's tracer reports: get_tracer("connectory").
    encoder = RecordEncoder(resource, InstrumentationScope("connectory"))
    queue = SpanQueue(exporter.send_encoded, encoder, BatchSettings.from_env())
    return RecordedTracing(sampler, queue, exporter, resource)


def _resource_from_env() -> Any:
    """The SDK's resource: ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, detectors."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: "connectory"}
    return Resource.create(attributes)


def create_provider_from_env() -> TracerProvider:
    """A tracer provider configured by the standard ``OTEL_*`` environment variables.

    Raises:
        ConfigurationError: an exporter or protocol Connectory does not ship.
    """
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    provider = TracerProvider(resource=_resource_from_env())
    exporters = [
        name.strip().lower()
        for name in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")
        if name.strip()
    ]
    for name in exporters:
        exporter: SpanExporter
        if name == "none":
            continue
        if name == "console":
            exporter = ConsoleSpanExporter()
        elif name == "otlp":
            protocol = os.environ.get(
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            )
            if protocol != "http/protobuf":
                raise ConfigurationError(
                    f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported; Connectory "
                    "exports OTLP over http/protobuf (unset the variable or set http/protobuf)"
                )
            from connectory.observability.otlp import OtlpSpanExporter

            exporter = OtlpSpanExporter()
        else:
            raise ConfigurationError(
                f"OTEL_TRACES_EXPORTER={name!r} is not supported; use otlp, console or none"
            )
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider
