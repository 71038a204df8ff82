"""The OTLP encoding of spans: what the SDK's encoder produces, sent over a real loopback sink."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.span import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from connectory.observability import otlp
from connectory.observability.otlp import OtlpSpanExporter, SpanEncoding, encode_spans
from connectory.observability.tracing import create_provider_from_env
from testkit.otlp_sink import OtlpSink
from testkit.spans import MemorySpans


def decoded(data: bytes) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest.FromString(data)


def varied_spans() -> list[ReadableSpan]:
    """Spans using every part of the format: kinds, parents, values, events, links, status."""
    memory = MemorySpans(
        Resource.create({"service.name": "svc", "deployment": "test"}, schema_url="https://s/1")
    )
    tracer = memory.provider.get_tracer("connectory", "1.2.3", schema_url="https://scope/1")
    other = memory.provider.get_tracer("other")
    remote = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "value"), ("other", "x")]),
    )
    parent = tracer.start_span(
        "operation get_item",
        context=trace.set_span_in_context(NonRecordingSpan(remote)),
        kind=SpanKind.SERVER,
        attributes={
            "connectory.kind": "operation",
            "text": "é \u2603 unicode",
            "empty": "",
            "flag": True,
            "off": False,
            "count": 7,
            "big": 2**62,
            "negative": -5,
            "ratio": 0.25,
            "names": ("a", "b"),
            "numbers": (1, 2, 3),
            "flags": (True, False),
            "floats": (1.5, -2.0),
            "long": "x" * 300,
        },
        links=[Link(remote, {"why": "retry"})],
    )
    parent.add_event("cache miss", {"key": "k1", "size": 3})
    parent.add_event("bare")
    parent.set_status(Status(StatusCode.ERROR, "upstream said 503"))
    kinds = (SpanKind.INTERNAL, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER)
    for number, kind in enumerate(kinds):
        child = tracer.start_span(
            f"GET {number}", context=trace.set_span_in_context(parent), kind=kind
        )
        child.set_attribute("http.response.status_code", 200 + number)
        if number == 1:
            child.set_status(Status(StatusCode.OK))
        child.end()
    other.start_span("", attributes={"": "empty key"}).end()
    parent.end()
    return memory.finished()


def test_the_encoding_is_the_sdk_encoders() -> None:
    spans = varied_spans()
    assert decoded(encode_spans(spans)) == sdk_encode(spans)


def test_spans_of_two_resources_and_scopes_group_as_the_sdk_groups_them() -> None:
    providers = [
        MemorySpans(Resource.create({"service.name": "a"})),
        MemorySpans(Resource.create({"service.name": "b"})),
        # An equal resource in another object: grouped with the first, as the SDK groups it.
        MemorySpans(Resource({"service.name": "x"})),
        MemorySpans(Resource({"service.name": "x"})),
    ]
    for memory in providers:
        for name in ("one", "two"):
            memory.provider.get_tracer(name).start_span(f"{name} span").end()
    a, b, c, d = (memory.finished() for memory in providers)
    mixed = [a[0], b[0], c[0], a[1], d[0], b[1], d[1], c[1]]
    request = decoded(encode_spans(mixed))
    assert request == sdk_encode(mixed)
    assert len(request.resource_spans) == 3
    assert [len(r.scope_spans) for r in request.resource_spans] == [2, 2, 2]


def test_an_attribute_otlp_cannot_carry_is_left_out_and_the_span_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    memory = MemorySpans()
    span = memory.provider.get_tracer("t").start_span("s", attributes={"ok": 1})
    # An int beyond int64: the SDK accepts it, OTLP cannot carry it.
    span.set_attribute("huge", 2**70)
    span.end()
    spans = memory.finished()
    request = decoded(encode_spans(spans))
    (encoded,) = request.resource_spans[0].scope_spans[0].spans
    assert [kv.key for kv in encoded.attributes] == ["ok"]
    assert "huge" in caplog.text


def test_no_spans_encode_to_an_empty_request() -> None:
    assert encode_spans([]) == b""
    assert decoded(b"") == sdk_encode([])


def test_the_exporter_sends_the_encoded_batch_as_configured(
    otlp_sink: OtlpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_sink.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "my-connectory")
    provider = create_provider_from_env()
    tracer = provider.get_tracer("connectory")
    with tracer.start_as_current_span("operation get_item"):
        tracer.start_span("GET", kind=SpanKind.CLIENT).end()
    provider.shutdown()
    (request,) = otlp_sink.requests()
    assert otlp_sink.paths == ["/v1/traces"]
    assert otlp_sink.headers[0]["x-tenant"] == "acme"
    assert otlp_sink.headers[0]["content-type"] == "application/x-protobuf"
    attributes = request.resource_spans[0].resource.attributes
    resource = {kv.key: kv.value.string_value for kv in attributes}
    assert resource["service.name"] == "my-connectory"
    spans = request.resource_spans[0].scope_spans[0].spans
    assert sorted(span.name for span in spans) == ["GET", "operation get_item"]
    call = next(span for span in spans if span.name != "GET")
    attempt = next(span for span in spans if span.name == "GET")
    assert attempt.parent_span_id == call.span_id and attempt.trace_id == call.trace_id


def test_the_exporter_uses_the_direct_encoding_and_reports_a_refused_batch(
    otlp_sink: OtlpSink,
) -> None:
    exporter = OtlpSpanExporter(endpoint=f"{otlp_sink.url}/v1/traces")
    # The SDK still exposes the HTTP client the direct encoding sends through; an SDK update
    # that removes it makes this fail (the exporter would still work, at the SDK's speed).
    assert exporter.fast
    spans = varied_spans()
    assert exporter.export(spans).name == "SUCCESS"
    assert otlp_sink.requests() == [sdk_encode(spans)]
    exporter.shutdown()
    assert exporter.export(spans).name == "FAILURE"  # shut down: nothing sent
    assert len(otlp_sink.bodies) == 1

    with OtlpSink(status=400) as refusing:
        rejected = OtlpSpanExporter(endpoint=f"{refusing.url}/v1/traces")
        assert rejected.export(spans).name == "FAILURE"
        assert len(refusing.bodies) == 1  # a 400 is not retried
        rejected.shutdown()


def test_a_batch_processor_exports_through_it(otlp_sink: OtlpSink) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
    provider.add_span_processor(
        BatchSpanProcessor(OtlpSpanExporter(endpoint=f"{otlp_sink.url}/v1/traces"))
    )
    tracer = provider.get_tracer("connectory")
    for number in range(600):
        tracer.start_span(f"span {number}").end()
    provider.shutdown()
    names = [span.name for span in otlp_sink.spans()]
    assert sorted(names) == sorted(f"span {number}" for number in range(600))


def test_more_distinct_values_than_the_encoding_cache_holds_still_encode_the_same() -> None:
    memory = MemorySpans()
    tracer = memory.provider.get_tracer("t")
    for number in range(100):
        attributes = {f"key {index}": f"value {number} {index}" for index in range(100)}
        tracer.start_span(f"span {number}", attributes=attributes).end()
    spans = memory.finished()
    assert decoded(encode_spans(spans)) == sdk_encode(spans)
    assert decoded(encode_spans(spans)) == sdk_encode(spans)  # now partly from the cache


def test_only_low_cardinality_string_attributes_are_cached_and_per_encoder() -> None:
    memory = MemorySpans()
    tracer = memory.provider.get_tracer("connectory")
    for number in range(50):
        attributes = {
            "connectory.operation": "get_item",
            "connectory.call_id": f"call-{number}",
            "http.request.method": "GET",
            "url.full": f"https://api.example.com/v1/items/{number}",
        }
        tracer.start_span("GET", attributes=attributes).end()
    spans = memory.finished()
    encoding = SpanEncoding()
    assert decoded(encode_spans(spans, encoding)) == sdk_encode(spans)
    # Unique values (call ids, URLs) are encoded, not kept.
    assert set(encoding._pairs) == {
        ("connectory.operation", "get_item"),
        ("http.request.method", "GET"),
    }
    assert decoded(encode_spans(spans, encoding)) == sdk_encode(spans)  # from the cache
    # Each encoder has its own caches; the module keeps none.
    assert SpanEncoding()._pairs == {}
    mutable = [
        name
        for name, value in vars(otlp).items()
        if not name.startswith("__") and isinstance(value, dict | list | set | bytearray)
    ]
    assert mutable == []


def test_span_record_attributes_encode_as_the_general_attributes_do() -> None:
    attributes: dict[str, Any] = {
        "connectory.kind": "operation",  # repeated: cached whole
        "connectory.operation": "",
        "connectory.call_id": "0123456789abcdef0123456789abcdef",  # unique: written straight
        "url.full": "https://api.example.com/v1/items/" + "é" * 100,  # a long field length
        "connectory.attempts": 2,  # a small repeated int: cached
        "http.response.status_code": 1024,  # past the cached range
        "other.count": 3,
        "flag": True,
        "ratio": 0.5,
        "tags": ["a", "b"],
        "broken": "\ud800",  # not UTF-8: logged and left out, as the general way does
        "http.request.method": "GET",
    }
    encoding = SpanEncoding()
    expected = SpanEncoding().attributes(b"\x4a", attributes)
    assert encoding.span_attributes(attributes) == expected
    assert encoding.span_attributes(attributes) == expected  # now partly from the cache
    assert set(encoding._span_fields) == {
        ("connectory.kind", "operation"),
        ("connectory.operation", ""),
        ("connectory.attempts", 2),
        ("http.request.method", "GET"),
    }


def _record(**overrides: Any) -> Any:
    from connectory.observability.spans import KIND_CLIENT, SpanRecord

    fields: dict[str, Any] = {
        "queue": None,
        "name": "operation get_item",
        "kind": KIND_CLIENT,
        "attributes": {"connectory.call_id": "c" * 32, "connectory.attempts": 2},
        "trace_id": 0x0AF7651916CD43DD8448EB211C80319C,
        "parent_span_id": 0xB7AD6B7169203331,
        "parent_remote": True,
        "sampled": True,
        "trace_state": "vendor=value",
    }
    fields.update(overrides)
    shared = fields.pop("shared_attributes", None)
    span = SpanRecord(**fields, shared_attributes=shared)
    span.end = span.start + 1234
    return span


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"parent_span_id": 0, "parent_remote": False, "trace_state": ""},
        {"parent_remote": False, "name": "n" * 200, "kind": 1},
        {"attributes": {"url.full": "https://api.example.com/" + "é" * 200}},
    ],
)
def test_a_span_record_is_the_span_message_its_fields_say(overrides: dict[str, Any]) -> None:
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    from connectory.observability.otlp import RecordEncoder

    shared = {"connectory.kind": "operation", "connectory.operation": "get_item"}
    span = _record(shared_attributes=shared, **overrides)
    span.status, span.status_description = 2, "boom"
    encoder = RecordEncoder(Resource.create({"service.name": "svc"}), InstrumentationScope("c"))
    for _ in range(2):  # the second time, the shared attributes come from the cache
        message = decoded(encoder.encode([span])).resource_spans[0].scope_spans[0].spans[0]
        assert message.trace_id == span.trace_id.to_bytes(16, "big")
        assert message.span_id == span.span_id.to_bytes(8, "big")
        parent = span.parent_span_id
        assert message.parent_span_id == (parent.to_bytes(8, "big") if parent else b"")
        assert message.trace_state == span.trace_state
        assert (message.name, message.kind) == (span.name, span.kind)
        assert (message.start_time_unix_nano, message.end_time_unix_nano) == (span.start, span.end)
        attributes = [
            (kv.key, kv.value.string_value or kv.value.int_value) for kv in message.attributes
        ]
        assert attributes == list(span.all_attributes().items())
        assert (message.status.code, message.status.message) == (2, "boom")
        assert message.flags == 0x100 | (0x200 if parent and span.parent_remote else 0)


def test_setting_a_shared_attribute_changes_that_span_only() -> None:
    shared = {"connectory.kind": "operation", "connectory.operation": "get_item"}
    first = _record(shared_attributes=shared)
    second = _record(shared_attributes=shared)
    first.set_attributes({"connectory.operation": "renamed", "connectory.attempts": 3})
    second.set_attribute("connectory.kind", "hook")
    assert shared == {"connectory.kind": "operation", "connectory.operation": "get_item"}
    assert first.all_attributes() == {
        "connectory.kind": "operation",
        "connectory.operation": "renamed",
        "connectory.call_id": "c" * 32,
        "connectory.attempts": 3,
    }
    assert second.all_attributes()["connectory.kind"] == "hook"
    encoding = SpanEncoding()
    for span in (first, second):
        message = decoded(_scope_request(encoding.record(span)))
        keys = [kv.key for kv in message.resource_spans[0].scope_spans[0].spans[0].attributes]
        assert len(keys) == len(set(keys)) == len(span.all_attributes())


def _scope_request(span_field: bytes) -> bytes:
    """An export request holding one encoded span field (ScopeSpans.spans)."""
    scope_spans = otlp._field(b"\x12", span_field)
    return otlp._field(b"\x0a", scope_spans)
