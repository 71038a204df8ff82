"""OpenTelemetry: a span per call, children per attempt and token request; traceparent opt-in."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from connectory.errors import ConfigurationError, TransportError
from connectory.observability.tracing import create_provider_from_env
from testkit.spans import MemorySpans

from .support import Upstream, traced_client


@pytest.fixture
def memory() -> MemorySpans:
    return MemorySpans()


async def test_a_call_is_a_span_with_its_token_request_and_attempts_as_children(
    memory: MemorySpans,
) -> None:
    upstream = Upstream(fail_first=True)
    client, recorder = traced_client(memory.tracing(), upstream)
    async with client:
        with client.calls.track("operation", "me"):
            await client.call("me")
    finished = memory.finished()
    spans = {span.name: span for span in finished}
    assert sorted(span.name for span in finished) == [
        "GET",
        "GET",
        "POST",
        "operation me",
        "token_refresh oauth2",
    ]
    call, token = spans["operation me"], spans["token_refresh oauth2"]
    assert call.parent is None
    assert token.parent is not None and token.parent.span_id == call.context.span_id
    attempts = [span for span in finished if span.name == "GET"]
    assert all(span.parent.span_id == call.context.span_id for span in attempts)  # type: ignore[union-attr]
    assert all(span.kind == SpanKind.CLIENT for span in attempts)
    assert sorted(span.attributes["http.response.status_code"] for span in attempts) == [200, 503]
    (post,) = [span for span in finished if span.name == "POST"]
    assert post.parent is not None and post.parent.span_id == token.context.span_id
    assert call.attributes["connectory.connection_id"] == "conn-1"
    assert call.attributes["connectory.connector_id"] == "connector-a"
    assert call.attributes["connectory.attempts"] == 2
    trace_id = format(call.context.trace_id, "032x")
    assert {entry.trace_id for entry in recorder.entries} == {trace_id}
    # Off by default: no trace context goes upstream.
    assert all("traceparent" not in request.headers for request in upstream.requests)


async def test_traceparent_goes_upstream_when_the_connector_asks(memory: MemorySpans) -> None:
    upstream = Upstream()
    client, _ = traced_client(memory.tracing(), upstream, propagate_trace=True)
    async with client:
        with client.calls.track("operation", "me"):
            await client.call("me")
    api_request = upstream.requests[-1]
    _, trace_id, span_id, _ = api_request.headers["traceparent"].split("-")
    (attempt,) = [s for s in memory.finished() if s.name == "GET"]
    assert trace_id == format(attempt.context.trace_id, "032x")
    assert span_id == format(attempt.context.span_id, "016x")


async def test_a_failed_call_is_an_error_span(memory: MemorySpans) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    client, recorder = traced_client(memory.tracing(), refuse)
    async with client:
        with pytest.raises(TransportError), client.calls.track("operation", "me"):
            await client.call("me")
    call = next(s for s in memory.finished() if s.name == "operation me")
    assert call.status.status_code == StatusCode.ERROR
    assert call.attributes["error.type"] == recorder.entries[-1].error_class


def test_the_exporter_is_chosen_by_the_standard_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "my-connectory")
    provider = create_provider_from_env()
    assert provider.resource.attributes["service.name"] == "my-connectory"
    provider.shutdown()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(ConfigurationError, match="otlp, console or none"):
        create_provider_from_env()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(ConfigurationError, match="http/protobuf"):
        create_provider_from_env()
