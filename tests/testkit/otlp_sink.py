"""An OTLP/HTTP collector on 127.0.0.1 for the tests of span export (``otlp_sink``).

A directory's conftest re-exports the fixture (``__all__``) for its tests to ask for it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span


class OtlpSink:
    """Keeps every request it receives and answers each with *status* (400: refused).

    Attributes:
        url: The collector's base URL (``OTEL_EXPORTER_OTLP_ENDPOINT``).
        bodies: The requests' bodies, as received.
        paths: The requests' paths.
        headers: The requests' headers, names in lower case.
    """

    def __init__(self, status: int = 200) -> None:
        sink = self
        self.bodies: list[bytes] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sink.headers.append({k.lower(): v for k, v in self.headers.items()})
                sink.paths.append(self.path)
                sink.bodies.append(body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass  # the test's output is not the place for an access log

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def requests(self) -> list[ExportTraceServiceRequest]:
        """Every request received, decoded."""
        return [ExportTraceServiceRequest.FromString(body) for body in self.bodies]

    def spans(self) -> list[Span]:
        """Every span received, in the order they came."""
        return [
            span
            for request in self.requests()
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]

    def close(self) -> None:
        """Stop listening."""
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> OtlpSink:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@pytest.fixture
def otlp_sink() -> Iterator[OtlpSink]:
    """A collector that accepts every export, closed after the test."""
    with OtlpSink() as sink:
        yield sink
