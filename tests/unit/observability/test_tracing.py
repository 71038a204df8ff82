"""OpenTelemetry: a span per call, children per attempt and token request; traceparent opt-in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from connectory.errors import ConfigurationError, TransportError
from connectory.observability import MemoryRecorder, Telemetry
from connectory.observability.tracing import Tracing, create_provider_from_env
from connectory.runtime import ConnectorClient

from .support import FakeClock, build_spec

OAUTH2 = {
    "auth_type": "oauth2",
    "grant_type": "client_credentials",
    "token_url": "https://auth.example.com/token",
    "credential_schema": {
        "client_id": {"required": True},
        "client_secret": {"type": "password", "required": True},
    },
}


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def client_with(
    exporter: InMemorySpanExporter, handler: Any, **spec_fields: Any
) -> tuple[ConnectorClient, MemoryRecorder]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    recorder = MemoryRecorder()
    spec = build_spec(
        {"name": "me", "path": "/me"},
        auth=OAUTH2,
        resilience={"max_retries": 1, "retry_delay": 0, "rate_limit": None},
        **spec_fields,
    )
    client = ConnectorClient(
        spec,
        credentials={"client_id": "cid", "client_secret": "client-secret-xyz"},
        transport=httpx.MockTransport(handler),
        clock=FakeClock(),
        connection_key="conn-1",
        connector_key="connector-a",
        telemetry=Telemetry(recorder=recorder, tracing=Tracing(provider)),
    )
    return client, recorder


class Upstream:
    def __init__(self, fail_first: bool = False) -> None:
        self.requests: list[httpx.Request] = []
        self.fail_first = fail_first

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "tok-abcdefgh", "expires_in": 60})
        if self.fail_first:
            self.fail_first = False
            return httpx.Response(503, json={})
        return httpx.Response(200, json={"ok": True})


async def test_a_call_is_a_span_with_its_token_request_and_attempts_as_children(
    exporter: InMemorySpanExporter,
) -> None:
    upstream = Upstream(fail_first=True)
    client, recorder = client_with(exporter, upstream)
    async with client:
        with client.calls.track("operation", "me"):
            await client.call("me")
    spans = {span.name: span for span in exporter.get_finished_spans()}
    finished = exporter.get_finished_spans()
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


async def test_traceparent_goes_upstream_when_the_connector_asks(
    exporter: InMemorySpanExporter,
) -> None:
    upstream = Upstream()
    client, _ = client_with(exporter, upstream, propagate_trace=True)
    async with client:
        with client.calls.track("operation", "me"):
            await client.call("me")
    api_request = upstream.requests[-1]
    _, trace_id, span_id, _ = api_request.headers["traceparent"].split("-")
    (attempt,) = [s for s in exporter.get_finished_spans() if s.name == "GET"]
    assert trace_id == format(attempt.context.trace_id, "032x")
    assert span_id == format(attempt.context.span_id, "016x")


async def test_a_failed_call_is_an_error_span(exporter: InMemorySpanExporter) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    client, recorder = client_with(exporter, refuse)
    async with client:
        with pytest.raises(TransportError), client.calls.track("operation", "me"):
            await client.call("me")
    call = next(s for s in exporter.get_finished_spans() if s.name == "operation me")
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
