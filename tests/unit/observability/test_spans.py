"""Connectory's span recorder: the same OTLP as the SDK's spans, sampling, the export queue."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

import pytest
from opentelemetry import context, trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace.span import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from connectory.errors import ConfigurationError, TransportError
from connectory.observability import ConnectionCalls, MemoryRecorder, Telemetry
from connectory.observability.span_queue import BatchSettings, SpanQueue
from connectory.observability.spans import (
    RecordedTracing,
    Sampler,
    SpanRecord,
    sampler_from_env,
)
from connectory.observability.tracing import (
    SpanLifecycle,
    SpanTracing,
    Tracing,
    tracing_from_env,
)
from testkit.otlp_sink import OtlpSink

from .support import FakeClock, Upstream, traced_client, wait_for_child

REMOTE_PARENT = SpanContext(
    trace_id=0x0AF7651916CD43DD8448EB211C80319C,
    span_id=0xB7AD6B7169203331,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
    trace_state=TraceState([("vendor", "value")]),
)


@pytest.fixture
def sink(otlp_sink: OtlpSink, monkeypatch: pytest.MonkeyPatch) -> OtlpSink:
    """The collector the ``OTEL_*`` variables name; the sampler and exporter left at defaults."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_sink.url)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "connectory-test")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
    for name in ("OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(name, raising=False)
    return otlp_sink


TAG_HOOK = "export default (ctx) => ({ headers: { 'X-Tagged': 'yes' } });\n"


async def traced_calls(tracing: SpanTracing, upstream: Upstream) -> MemoryRecorder:
    """A retried call with a token request and a hook, and a failed call, trace propagated."""
    client, recorder = traced_client(
        tracing,
        upstream,
        {"name": "me", "path": "/me"},
        {"name": "broken", "path": "/broken"},
        code_files={"hooks/tag.js": TAG_HOOK},
        propagate_trace=True,
        hooks={"pre_request": ["hooks/tag.js"]},
    )
    async with client:
        with client.calls.track("operation", "me"):
            await client.call("me")
        with pytest.raises(TransportError), client.calls.track("operation", "broken"):
            await client.call("broken")
    return recorder


def shape(requests: list[ExportTraceServiceRequest]) -> dict[str, Any]:
    """What both paths must agree on: everything but ids, times and call ids."""
    resources, scopes, spans = [], [], []
    for request in requests:
        for resource_spans in request.resource_spans:
            attributes = {kv.key: kv.value for kv in resource_spans.resource.attributes}
            resources.append(attributes)
            for scope_spans in resource_spans.scope_spans:
                scope = scope_spans.scope
                scopes.append((scope.name, scope.version, scope_spans.schema_url))
                spans.extend(scope_spans.spans)
    by_id = {span.span_id: span for span in spans}
    described = []
    for span in spans:
        assert len(span.trace_id) == 16 and len(span.span_id) == 8
        assert 0 < span.start_time_unix_nano <= span.end_time_unix_nano
        parent = by_id.get(span.parent_span_id)
        if parent is not None:
            assert parent.trace_id == span.trace_id
        attributes = {kv.key: kv.value for kv in span.attributes if kv.key != "connectory.call_id"}
        described.append(
            (
                span.name,
                span.kind,
                parent.name if parent is not None else None,
                span.parent_span_id.hex() if parent is None else "",
                repr(sorted(attributes.items(), key=lambda item: item[0])),
                span.status.code,
                span.status.message,
                span.flags,
                span.trace_state,
            )
        )
    return {"resources": resources, "scopes": scopes, "spans": sorted(described)}


async def test_a_traced_call_exports_the_same_otlp_through_the_recorder_and_the_sdk(
    sink: OtlpSink,
) -> None:
    shapes = {}
    for lightweight in (True, False):
        sink.bodies.clear()
        tracing = tracing_from_env(lightweight=lightweight)
        assert isinstance(tracing, RecordedTracing if lightweight else Tracing)
        upstream = Upstream(fail_first=True)
        with trace.use_span(NonRecordingSpan(REMOTE_PARENT)):
            recorder = await traced_calls(tracing, upstream)
        tracing.shutdown()  # exports what is left, on either path
        requests = sink.requests()
        shapes[lightweight] = shape(requests)
        # Every entry has the trace id of the remote parent it was called under.
        assert {entry.trace_id for entry in recorder.entries} == {f"{REMOTE_PARENT.trace_id:032x}"}
        # traceparent upstream names the attempt's span in that trace, sampled.
        spans = {span.span_id.hex(): span for span in sink.spans()}
        # (The mock transport keeps the attempts' one headers mapping: the last attempt's.)
        request = [r for r in upstream.requests if r.url.path == "/v1/me"][-1]
        version, trace_id, span_id, flags = request.headers["traceparent"].split("-")
        # Sampled; not "random trace id": the remote parent did not say so.
        assert (version, trace_id, flags) == ("00", recorder.entries[0].trace_id, "01")
        assert spans[span_id].name == "GET"
        assert request.headers["tracestate"] == "vendor=value"
    assert shapes[True] == shapes[False]
    names = [span[0] for span in shapes[True]["spans"]]
    # A retried call (503, then 200) and a refused one (retried once), a token request, the
    # pre-request hook once per call (retries resend the hooked request).
    hooks = [name for name in names if name.startswith("hook ")]
    assert hooks == ["hook pre:hooks/tag.js"] * 2
    assert sorted(name for name in names if not name.startswith("hook ")) == ["GET"] * 4 + [
        "POST",
        "operation broken",
        "operation me",
        "token_refresh oauth2",
    ]
    # Every hook span is a child of an operation's span.
    parents = {span[2] for span in shapes[True]["spans"] if span[0].startswith("hook ")}
    assert parents <= {"operation me", "operation broken"}
    assert shapes[True]["resources"][0]["service.name"].string_value == "connectory-test"


async def test_both_paths_share_one_span_lifecycle_and_end_failures_alike(sink: OtlpSink) -> None:
    # One implementation of what call and attempt spans carry (a review finding: the SDK's
    # path and the recorder's each had their own attempt span and end status).
    for method in ("start_call_span", "end_call_span", "attempt_span"):
        assert getattr(RecordedTracing, method) is getattr(SpanLifecycle, method)
        assert getattr(Tracing, method) is getattr(SpanLifecycle, method)
    shapes = {}
    for lightweight in (True, False):
        sink.bodies.clear()
        tracing = tracing_from_env(lightweight=lightweight)
        recorder = MemoryRecorder()
        calls = ConnectionCalls(
            Telemetry(recorder=recorder, tracing=tracing), "conn-1", connector_id="c-1"
        )
        headers: dict[str, str] = {}
        with (
            pytest.raises(asyncio.CancelledError),
            calls.track("operation", "slow") as call,
            tracing.attempt_span(call, "GET", "https://api.example/slow", headers),
        ):
            raise asyncio.CancelledError
        with calls.track("operation", "refused") as call:
            with tracing.attempt_span(call, "GET", "https://api.example/no", None) as span:
                span.set_attribute("http.response.status_code", 503)
            call.status_code = 503
        tracing.shutdown()
        assert headers["traceparent"].split("-")[1] == recorder.entries[0].trace_id
        shapes[lightweight] = shape(sink.requests())
    assert shapes[True] == shapes[False]
    spans = {(span[0], span[2]): span for span in shapes[True]["spans"]}
    cancelled = spans[("GET", "operation slow")]
    assert "CancelledError" in cancelled[4] and cancelled[5:7] == (2, "CancelledError")
    assert spans[("operation slow", None)][5:7] == (2, "CancelledError")
    assert spans[("GET", "operation refused")][5] == 0  # an answered attempt is not an error
    assert spans[("operation refused", None)][5] == 2  # the call ended on a 503: an error


async def test_without_a_parent_the_call_is_a_root_span_in_both(sink: OtlpSink) -> None:
    shapes = {}
    for lightweight in (True, False):
        sink.bodies.clear()
        tracing = tracing_from_env(lightweight=lightweight)
        await traced_calls(tracing, Upstream(fail_first=False))
        tracing.shutdown()  # exports what is left, on either path
        shapes[lightweight] = shape(sink.requests())
    assert shapes[True] == shapes[False]
    roots = [span for span in shapes[True]["spans"] if span[0].startswith("operation")]
    assert [root[2:4] for root in roots] == [(None, ""), (None, "")]


async def test_always_off_exports_nothing_but_keeps_trace_ids_and_traceparent(
    sink: OtlpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    tracing = tracing_from_env()
    assert isinstance(tracing, RecordedTracing)
    upstream = Upstream(fail_first=False)
    recorder = await traced_calls(tracing, upstream)
    tracing.shutdown()
    assert sink.bodies == []
    trace_ids = {entry.trace_id for entry in recorder.entries}
    assert len(trace_ids) == 2 and None not in trace_ids  # one trace per call
    (api,) = [r for r in upstream.requests if r.url.path == "/v1/me"]
    # Not sampled, the trace id random (what the SDK sends for a root it did not sample).
    assert api.headers["traceparent"].endswith("-02")


def test_samplers_decide_as_the_sdks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    sampler = sampler_from_env()
    assert sampler is not None and not sampler.parent_based
    sdk = TraceIdRatioBased(0.25)
    for number in range(2000):
        trace_id = (number * 0x9E3779B97F4A7C15) & ((1 << 128) - 1) or 1
        expected = sdk.should_sample(None, trace_id, "x").decision.is_sampled()
        # Without a parent-based rule the parent does not matter.
        assert sampler.sampled(trace_id, None) is expected
        assert sampler.sampled(trace_id, not expected) is expected
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    parented = sampler_from_env()
    assert parented is not None and parented.parent_based
    assert parented.sampled(1 << 63, True) and not parented.sampled(1, False)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "2")  # out of range: the SDK uses 1.0
    assert sampler_from_env() == Sampler(1 << 64, True)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "PARENTBASED_ALWAYS_OFF")
    assert sampler_from_env() == Sampler(0, True)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "jaeger_remote")
    assert sampler_from_env() is None
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off ")  # read as the SDK reads it
    assert sampler_from_env() is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_TRACES_SAMPLER", "xray"),
        # The SDK does not strip the name: it does not know " always_off " either.
        ("OTEL_TRACES_SAMPLER", " always_off "),
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_TRACES_EXPORTER", "otlp,console"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "16"),
        ("OTEL_SDK_DISABLED", "true"),
    ],
)
def test_what_only_the_sdk_does_falls_back_to_the_sdk(
    sink: OtlpSink, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    tracing = tracing_from_env()
    assert isinstance(tracing, Tracing)
    tracing.shutdown()


def test_no_exporter_records_without_a_queue(
    sink: OtlpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    tracing = tracing_from_env()
    assert isinstance(tracing, RecordedTracing) and tracing.queue is None
    tracing.shutdown()


class Collected:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def encode(self, spans: list[SpanRecord]) -> bytes:
        self.batches.append([span.name for span in spans])
        return b"x"


def record(name: str, queue: SpanQueue) -> SpanRecord:
    return SpanRecord(queue, name, 1, {}, 1, 0, False, True, "")


def test_a_full_queue_drops_its_oldest_spans_and_counts_them() -> None:
    collected = Collected()
    settings = BatchSettings(schedule_delay=3600, max_queue_size=4, max_export_batch_size=4)
    queue = SpanQueue(lambda data: True, collected, settings)  # type: ignore[arg-type]
    # Holding the export lock keeps the thread from taking spans while they are queued.
    with queue._lock:
        for number in range(10):
            record(f"span {number}", queue).finish()
        assert queue.stats.dropped == 6
    queue.shutdown()
    assert [name for batch in collected.batches for name in batch] == [
        "span 6",
        "span 7",
        "span 8",
        "span 9",
    ]
    assert queue.stats.exported == 4 and queue.stats.queued == 10
    record("late", queue).finish()  # after shutdown: ignored
    assert queue.stats.queued == 10


def test_batches_are_at_most_the_batch_size_and_a_refused_batch_is_counted() -> None:
    collected = Collected()
    answers = iter([True, False, True])
    settings = BatchSettings(schedule_delay=3600, max_queue_size=100, max_export_batch_size=2)
    queue = SpanQueue(lambda data: next(answers), collected, settings)  # type: ignore[arg-type]
    with queue._lock:
        for number in range(5):
            record(f"span {number}", queue).finish()
    queue.shutdown()
    assert sorted(len(batch) for batch in collected.batches) == [1, 2, 2]
    assert queue.stats.exported + queue.stats.failed == 5 and queue.stats.failed in (1, 2)


def test_batch_settings_come_from_the_bsp_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "250")
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "64")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "128")  # over the queue: capped
    assert BatchSettings.from_env() == BatchSettings(0.25, 64, 64)
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "lots")
    assert BatchSettings.from_env().max_queue_size == 2048


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_exports_its_own_spans_with_its_own_thread() -> None:
    collected = Collected()
    settings = BatchSettings(schedule_delay=3600, max_queue_size=100, max_export_batch_size=100)
    queue = SpanQueue(lambda data: True, collected, settings)  # type: ignore[arg-type]
    record("parent's", queue).finish()  # queued in the parent, not sent yet
    pid = os.fork()
    if pid == 0:  # the child: report through the exit code only
        code = 1
        try:
            fresh = queue._thread.is_alive() and not queue._queue
            record("child's", queue).finish()
            queue.shutdown()
            code = 0 if fresh and collected.batches == [["child's"]] else 3
        finally:
            os._exit(code)
    assert wait_for_child(pid) == 0
    queue.shutdown()
    assert collected.batches == [["parent's"]]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("OTEL_TRACES_EXPORTER", "zipkin", "otlp, console or none"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "http/protobuf"),
    ],
)
def test_a_configuration_connectory_cannot_serve_is_still_refused(
    sink: OtlpSink, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=message):
        tracing_from_env()


def test_exports_run_with_instrumentation_suppressed() -> None:
    """An instrumented HTTP client must not trace the exports (the SDK's processors' flag)."""
    flags: list[object] = []

    def send(data: bytes) -> bool:
        flags.append(context.get_value(_SUPPRESS_INSTRUMENTATION_KEY))
        return True

    settings = BatchSettings(schedule_delay=3600, max_queue_size=100, max_export_batch_size=100)
    queue = SpanQueue(send, Collected(), settings)  # type: ignore[arg-type]
    record("flushed", queue).finish()
    queue.flush()  # sent from this thread
    assert flags == [True]
    assert context.get_value(_SUPPRESS_INSTRUMENTATION_KEY) is None  # detached again
    record("drained", queue).finish()
    queue.shutdown()  # sent from the export thread
    assert flags == [True, True]


def test_a_stuck_send_does_not_hold_shutdown_past_its_deadline() -> None:
    started, released = threading.Event(), threading.Event()
    aborted: list[bool] = []

    def send(data: bytes) -> bool:
        started.set()
        released.wait(60)  # only a safety net: abort() releases it
        return not aborted

    def abort() -> None:
        aborted.append(not released.is_set())  # while the send is stuck
        released.set()  # as the exporter's shutdown ends its retries

    settings = BatchSettings(schedule_delay=3600, max_queue_size=100, max_export_batch_size=1)
    queue = SpanQueue(send, Collected(), settings, clock=FakeClock())  # type: ignore[arg-type]
    for number in range(5):
        record(f"span {number}", queue).finish()
    assert started.wait(60)  # the thread is in its first send, the others queued
    queue.shutdown(timeout=0, abort=abort)  # returns, the send still stuck
    assert aborted == [True]
    queue._thread.join(60)
    assert not queue._thread.is_alive()
    # The stuck batch failed; nothing was started after the deadline.
    assert (queue.stats.exported, queue.stats.failed, queue.stats.abandoned) == (0, 1, 4)


def test_the_final_drain_stops_at_the_shutdown_deadline() -> None:
    clock = FakeClock()
    sends: list[float] = []
    calls: list[str] = []

    def send(data: bytes) -> bool:
        sends.append(clock())
        calls.append("send")
        clock.advance(10)  # a collector that is down: each send takes its timeout
        return False

    settings = BatchSettings(schedule_delay=3600, max_queue_size=100, max_export_batch_size=2)
    queue = SpanQueue(send, Collected(), settings, clock=clock)  # type: ignore[arg-type]
    # Queued without waking the thread: all of it is left to the shutdown.
    queue._queue.extend(record(f"span {number}", queue) for number in range(10))
    queue.shutdown(timeout=30, abort=lambda: calls.append("abort"))
    # Batches start at 0, 10 and 20 s into the 30 s; the two left are not sent.
    assert sends == [1000.0, 1010.0, 1020.0]
    assert calls == ["send", "send", "send", "abort"]
    assert (queue.stats.failed, queue.stats.abandoned) == (6, 4)
    queue.shutdown(abort=lambda: calls.append("abort"))  # once only
    assert len(calls) == 4


def test_the_recorder_shuts_its_exporter_down_once_through_the_queue() -> None:
    class Exporter:
        shutdowns = 0

        def shutdown(self) -> None:
            self.shutdowns += 1

    exporter = Exporter()
    settings = BatchSettings(schedule_delay=3600, max_queue_size=100, max_export_batch_size=100)
    queue = SpanQueue(lambda data: True, Collected(), settings)  # type: ignore[arg-type]
    tracing = RecordedTracing(Sampler(), queue, exporter)  # type: ignore[arg-type]
    tracing.shutdown()
    tracing.shutdown()
    assert exporter.shutdowns == 1 and not queue._thread.is_alive()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_hung_forked_child_fails_the_test_instead_of_hanging_it() -> None:
    pid = os.fork()
    if pid == 0:
        try:
            threading.Event().wait()  # never returns: a child stuck on a lock
        finally:
            os._exit(1)
    with pytest.raises(pytest.fail.Exception, match="did not exit"):
        wait_for_child(pid, timeout=0.2)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # killed and reaped


@pytest.mark.parametrize("read_straight", [True, False])
def test_the_current_span_context_is_the_apis(
    read_straight: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectory.observability import spans

    if not read_straight:  # an API without the key: its own functions answer
        monkeypatch.setattr(spans, "_SPAN_KEY", None)
    assert spans._current_span_context() is None
    with trace.use_span(NonRecordingSpan(REMOTE_PARENT)):
        assert spans._current_span_context() == REMOTE_PARENT
    with trace.use_span(trace.INVALID_SPAN):
        assert spans._current_span_context() is None
