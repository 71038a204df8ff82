"""An OTLP/HTTP collector for the benches: ``python -m bench.otlp_sink`` (its own process).

It listens on a free loopback port, prints the port on stdout once it listens, and accepts
every ``POST`` (an export) with 200, keeping the body. ``GET /stats`` answers JSON: the
exports and bytes received, and the spans they carry (decoded on that request, so decoding
never competes with the run being measured). It runs until it is terminated.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Collected:
    """What the sink received (the handler threads add to it under one lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.exports = 0
        self.bytes = 0
        self.bodies: list[bytes] = []

    def add(self, body: bytes) -> None:
        """Count one export."""
        with self.lock:
            self.bodies.append(body)
            self.exports += 1
            self.bytes += len(body)

    def stats(self) -> dict[str, int]:
        """Exports, bytes and the spans of every body, decoded now."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        with self.lock:
            bodies = list(self.bodies)
            counts = {"exports": self.exports, "bytes": self.bytes}
        counts["spans"] = sum(
            len(scope.spans)
            for body in bodies
            for resource in ExportTraceServiceRequest.FromString(body).resource_spans
            for scope in resource.scope_spans
        )
        return counts


def make_server(collected: Collected) -> ThreadingHTTPServer:
    """The sink's HTTP server on a free loopback port."""

    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as a collector does: the exporter reuses its connection.
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            collected.add(self.rfile.read(length))
            self._answer(b"", "application/x-protobuf")

        def do_GET(self) -> None:
            self._answer(json.dumps(collected.stats()).encode(), "application/json")

        def _answer(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


def main() -> None:
    server = make_server(Collected())
    sys.stdout.write(f"{server.server_address[1]}\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
