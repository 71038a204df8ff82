"""Lightweight spans: the server's own span recorder, when it configured tracing itself.

Why: with tracing on, the OpenTelemetry SDK's span creation was the largest cost left on the
request path (docs/benchmarks.md, "Tracing, second pass"): per span a sampler call, a span
context, attribute cleaning into ``BoundedAttributes``, the span's lock, a ``ReadableSpan``
copy at the end and the processor chain; two spans per call, about 0.3 ms of a 1 ms call.
When Connectory built the tracing from the standard ``OTEL_*`` variables, nobody else sees
its spans before they are exported, so it records them itself:

- a span is a slotted :class:`SpanRecord` (ids from ``random.getrandbits`` as the SDK's
  default id generator makes them, a start in wall-clock nanoseconds and the duration from
  the monotonic clock, the attributes as a plain dict);
- the sampler of ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` is applied as the SDK
  applies it (``always_on``, ``always_off``, ``traceidratio`` and their ``parentbased_``
  forms; :func:`recorder_config_from_env` says None for anything else, and the SDK runs);
- ended, sampled spans go to a bounded queue
  (:class:`~connectory.observability.span_queue.SpanQueue`) that a thread encodes with
  :class:`~connectory.observability.otlp.RecordEncoder` and sends through the SDK's OTLP
  exporter's HTTP client, with the ``OTEL_BSP_*`` batching, queue size and drop rule of the
  SDK's ``BatchSpanProcessor``, and a flush at shutdown bounded as the SDK's (30 s).

An application or a test that passes its own ``TracerProvider`` gets the SDK's spans as
before (:class:`~connectory.observability.tracing.Tracing`); this module is not used then.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import get_current
from opentelemetry.trace import propagation as _propagation

from connectory.observability.tracing import SpanLifecycle

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

    from connectory.observability.otlp import OtlpSpanExporter
    from connectory.observability.span_queue import SpanQueue

logger = logging.getLogger(__name__)

# OTLP's span kinds and status codes (opentelemetry/proto/trace/v1/trace.proto).
KIND_INTERNAL = 1
KIND_CLIENT = 3
STATUS_UNSET = 0
STATUS_ERROR = 2

# The key of the current span in an OpenTelemetry context (the API's own, a private name).
_SPAN_KEY: str | None = getattr(_propagation, "_SPAN_KEY", None)

_TRACE_ID_LOW = (1 << 64) - 1
_ALWAYS = 1 << 64  # a bound every trace id's low 64 bits are under

_SAMPLERS = {
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
}
# Settings the recorder does not apply: with any of them set, the SDK records the spans.
_SDK_ONLY = (
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_PYTHON_ID_GENERATOR",
)


def _current_span_context() -> Any | None:
    """The valid span context of the current OpenTelemetry context's span, if there is one.

    What ``trace.get_current_span().get_span_context()`` finds, read straight from the
    context under the API's key: a server nobody else instruments has no span there, and
    this runs for every call (the API's way is five calls deep). Should the API no longer
    have that key, its own functions are used.
    """
    if _SPAN_KEY is None:
        context = trace.get_current_span().get_span_context()
    else:
        span = get_current().get(_SPAN_KEY)
        if span is None or not isinstance(span, trace.Span):
            return None
        context = span.get_span_context()
    return context if context.is_valid else None


def _new_trace_id() -> int:
    """A random trace id: one draw, another only on 0 (the invalid id)."""
    return random.getrandbits(128) or _redrawn(128)


def _new_span_id() -> int:
    """A random span id: one draw, another only on 0 (the invalid id)."""
    return random.getrandbits(64) or _redrawn(64)


def _redrawn(bits: int) -> int:
    """A non-zero random id of *bits* bits (after a draw of 0, which is about never)."""
    value = random.getrandbits(bits)
    while not value:
        value = random.getrandbits(bits)
    return value


@dataclass(frozen=True)
class Sampler:
    """``OTEL_TRACES_SAMPLER``'s decision, for the samplers the recorder implements.

    Attributes:
        bound: A span is sampled when its trace id's low 64 bits are below this (the SDK's
            ``TraceIdRatioBased`` rule: ``round(rate * 2**64)``; ``always_on`` is 2**64,
            ``always_off`` 0).
        parent_based: With a parent, follow the parent's decision (the ``parentbased_``
            samplers with their default delegates); without one, the bound decides.
    """

    bound: int = _ALWAYS
    parent_based: bool = True

    def sampled(self, trace_id: int, parent_sampled: bool | None) -> bool:
        """Whether a span of *trace_id* is sampled (*parent_sampled*: None without a parent)."""
        if self.parent_based and parent_sampled is not None:
            return parent_sampled
        return (trace_id & _TRACE_ID_LOW) < self.bound


def sampler_from_env() -> Sampler | None:
    """The sampler ``OTEL_TRACES_SAMPLER`` names; None for one the recorder does not have.

    The name is read as the SDK reads it (lower-cased, not stripped): a value the SDK would
    not recognise, such as one with spaces around it, is left to the SDK (None).
    """
    name = os.environ.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").lower()
    if name not in _SAMPLERS:
        return None
    parent_based = name.startswith("parentbased_")
    root = name.removeprefix("parentbased_")
    if root == "always_on":
        return Sampler(_ALWAYS, parent_based)
    if root == "always_off":
        return Sampler(0, parent_based)
    rate = 1.0
    argument = os.environ.get("OTEL_TRACES_SAMPLER_ARG", "")
    try:
        rate = float(argument)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(argument)
    except ValueError:
        # What the SDK does with an argument it cannot use.
        logger.warning("OTEL_TRACES_SAMPLER_ARG=%r is not a rate in [0, 1]: using 1.0", argument)
        rate = 1.0
    return Sampler(round(rate * _ALWAYS), parent_based)


def recorder_config_from_env() -> tuple[Sampler, bool] | None:
    """What the recorder needs from the environment, or None when only the SDK can do it.

    Returns:
        The sampler and whether spans are exported over OTLP (False:
        ``OTEL_TRACES_EXPORTER=none``, spans are made, for the trace ids, and not exported).
        None when the configuration asks for something the recorder does not implement: the
        SDK disabled, a console or unknown exporter (the SDK path reports it), a protocol
        other than http/protobuf, a sampler other than the six built-in ones, span limits or
        a custom id generator.
    """
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if any(os.environ.get(name, "").strip() for name in _SDK_ONLY):
        return None
    exporters = {
        name.strip().lower()
        for name in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")
        if name.strip()
    }
    if not exporters <= {"otlp", "none"}:
        return None
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    )
    if "otlp" in exporters and protocol != "http/protobuf":
        return None
    sampler = sampler_from_env()
    if sampler is None:
        return None
    return sampler, "otlp" in exporters


class SpanRecord:
    """One span: what the OTLP ``Span`` message carries, and nothing else."""

    __slots__ = (
        "_mono",
        "_queue",
        "attributes",
        "end",
        "flags",
        "kind",
        "name",
        "parent_remote",
        "parent_span_id",
        "sampled",
        "shared_attributes",
        "span_id",
        "start",
        "status",
        "status_description",
        "trace_id",
        "trace_state",
    )

    def __init__(
        self,
        queue: SpanQueue | None,
        name: str,
        kind: int,
        attributes: dict[str, Any],
        trace_id: int,
        parent_span_id: int,
        parent_remote: bool,
        sampled: bool,
        trace_state: str,
        random_id: bool = True,
        shared_attributes: Mapping[str, Any] | None = None,
    ) -> None:
        self._queue = queue
        self.name = name
        self.kind = kind
        self.attributes = attributes
        # Attributes many spans share (a connection's operation's), never changed: they come
        # before the span's own and are encoded once per dict (see SpanEncoding.shared_attributes).
        self.shared_attributes = shared_attributes
        self.trace_id = trace_id
        # 0 is the invalid id: drawn again then (one draw in 2**64).
        self.span_id = _new_span_id()
        self.parent_span_id = parent_span_id
        self.parent_remote = parent_remote
        self.sampled = sampled
        # W3C trace flags: sampled, and "random trace id" (as the SDK sets it: for a trace id
        # it generated, or as the parent says).
        self.flags = (1 if sampled else 0) | (2 if random_id else 0)
        self.trace_state = trace_state
        self.status = STATUS_UNSET
        self.status_description: str | None = None
        self._mono = time.monotonic_ns()
        self.start = time.time_ns()
        self.end = 0

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute (a string, bool, int, float or a sequence of them)."""
        shared = self.shared_attributes
        if shared is not None and key in shared:
            self._own_shared_attributes()
        self.attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Set several attributes."""
        shared = self.shared_attributes
        if shared is not None and not shared.keys().isdisjoint(attributes):
            self._own_shared_attributes()
        self.attributes.update(attributes)

    def all_attributes(self) -> dict[str, Any]:
        """The span's attributes, the shared ones first."""
        shared = self.shared_attributes
        return {**shared, **self.attributes} if shared else dict(self.attributes)

    def _own_shared_attributes(self) -> None:
        # A shared attribute is being overwritten: this span takes copies of them all (the
        # shared dict itself never changes).
        self.attributes = self.all_attributes()
        self.shared_attributes = None

    def finish(self) -> None:
        """End the span: its duration is the monotonic clock's; sampled, it is queued."""
        if self.end:
            return
        self.end = self.start + (time.monotonic_ns() - self._mono)
        if self.sampled and self._queue is not None:
            self._queue.put(self)

    def traceparent(self) -> str:
        """The W3C ``traceparent`` value naming this span."""
        return f"00-{self.trace_id:032x}-{self.span_id:016x}-{self.flags:02x}"


class RecordedTracing(SpanLifecycle):
    """Tracing with :class:`SpanRecord` spans: the same interface (and lifecycle) as ``Tracing``.

    Args:
        sampler: ``OTEL_TRACES_SAMPLER``'s decision.
        queue: Where ended spans go (None: they are not exported, ``OTEL_TRACES_EXPORTER=none``).
        exporter: The OTLP exporter the queue sends through (shut down with it).
        resource: The resource spans are exported with.
    """

    def __init__(
        self,
        sampler: Sampler,
        queue: SpanQueue | None,
        exporter: OtlpSpanExporter | None = None,
        resource: Resource | None = None,
    ) -> None:
        super().__init__()
        self.sampler = sampler
        self.queue = queue
        self.exporter = exporter
        self.resource = resource

    def _start_span(
        self,
        name: str,
        client: bool,
        attributes: dict[str, Any],
        parent: Any | None,
        shared: Mapping[str, Any] | None = None,
    ) -> SpanRecord:
        # A parent span of another kind (an SDK span) is not one of ours: the current
        # OpenTelemetry context decides then, as for a call without a parent.
        if isinstance(parent, SpanRecord):
            trace_id = parent.trace_id
            parent_id = parent.span_id
            remote = False
            parent_sampled: bool | None = parent.sampled
            state = parent.trace_state
            random_id = bool(parent.flags & 2)
        else:
            # As the SDK's tracer does without an explicit parent: the current OpenTelemetry
            # context's span (an embedding application's instrumentation may have set one).
            context = _current_span_context()
            if context is not None:
                trace_id = context.trace_id
                parent_id = context.span_id
                remote = context.is_remote
                parent_sampled = context.trace_flags.sampled
                state = context.trace_state.to_header() if context.trace_state else ""
                random_id = bool(context.trace_flags & 2)
            else:
                trace_id = _new_trace_id()
                parent_id = 0
                remote = False
                parent_sampled = None
                state = ""
                random_id = True  # random.getrandbits, as the SDK's default id generator
        return SpanRecord(
            self.queue,
            name,
            KIND_CLIENT if client else KIND_INTERNAL,
            attributes,
            trace_id,
            parent_id,
            remote,
            self.sampler.sampled(trace_id, parent_sampled),
            state,
            random_id,
            shared,
        )

    def _fail(self, span: SpanRecord, description: str | None) -> None:
        span.status = STATUS_ERROR
        span.status_description = description

    def _end(self, span: SpanRecord) -> None:
        span.finish()

    def _inject(self, span: SpanRecord, headers: MutableMapping[str, str]) -> None:
        headers["traceparent"] = span.traceparent()
        if span.trace_state:
            headers["tracestate"] = span.trace_state

    @staticmethod
    def trace_id_of(span: SpanRecord) -> str | None:
        """The span's trace id as 32 hex digits."""
        return f"{span.trace_id:032x}"

    def flush(self) -> None:
        """Send the queued spans now."""
        if self.queue is not None:
            self.queue.flush()

    def shutdown(self) -> None:
        """Export what is left and stop, within the SDK's 30 s shutdown bound.

        The exporter is shut down when the queue's drain ends or its time is up, whichever
        comes first: shutting it down aborts its retries, so a collector that is down cannot
        hold the process past the bound.
        """
        exporter = self.exporter
        abort = exporter.shutdown if exporter is not None else None
        if self.queue is not None:
            self.queue.shutdown(abort=abort)
        elif abort is not None:
            abort()  # type: ignore[no-untyped-call]
