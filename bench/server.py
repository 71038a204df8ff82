"""A fast synthetic API for the benchmarks, run in its own process on loopback.

Not the project's test API (``connectory.testing``), which favours correctness and coverage:
this one is a bare asyncio protocol with pre-rendered, cached page bodies, so that the server
costs as little CPU as possible and the numbers measure the *client*. On a 2-core machine the
server and the reader compete for CPU; the cheaper the server, the less it blurs the ratios.

Endpoints (all need ``X-Api-Key: <key>``, else 401):

- ``GET /items?page=N&per_page=M`` -> ``{"data": [...], "meta": {"page", "per_page", "total"}}``
- ``GET /cursor/items?cursor=C&limit=M`` -> ``{"data": [...], "next_cursor": "..." | null}``
- ``GET /items/{id}`` -> one record

Control endpoints (no auth, not counted):

- ``GET /__stats`` -> ``{"requests": n, "first_request_at": t}`` (``t`` is this machine's
  ``time.monotonic()``, shared by all processes on Linux, for start-up measurements)
- ``GET /__reset?records=N`` -> resets the counters and sets the dataset size

Run: ``python -m bench.server --port 0 --records 100000 --latency-ms 0``; it prints
``listening <port>`` on stdout once ready.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from urllib.parse import parse_qsl

import orjson

API_KEY = "bench-key"
MAX_PAGE_SIZE = 1000
#: Upper bound on cached page bodies, so a 1,000,000-record run cannot grow the server unbounded.
_CACHE_BYTES = 400 * 1024 * 1024

_RECORD = (
    b'{"id":%d,"name":"Item %07d","email":"user%07d@example.com","status":"%s",'
    b'"score":%d.%d,"active":%s,"created_at":"2024-01-%02dT08:30:00Z",'
    b'"updated_at":"2024-06-%02dT17:45:00Z","address":{"street":"%d Main Street",'
    b'"city":"Springfield"},"tags":["alpha","beta"]}'
)
_STATUSES = (b"active", b"paused", b"archived")


def render_record(number: int) -> bytes:
    """The JSON of record *number* (1-based), ~230 bytes, deterministic."""
    return _RECORD % (
        number,
        number,
        number,
        _STATUSES[number % 3],
        number % 100,
        number % 10,
        b"true" if number % 2 else b"false",
        number % 28 + 1,
        number % 28 + 1,
        number % 9000 + 1,
    )


def _head(status: bytes, length: int) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(length).encode() + b"\r\n\r\n"
    )


class State:
    """Dataset size, counters and the page cache, shared by all connections."""

    def __init__(self, records: int, latency: float) -> None:
        self.records = records
        self.latency = latency
        self.requests = 0
        self.first_request_at: float | None = None
        self.cache: dict[tuple[str, int, int], bytes] = {}
        self.cached_bytes = 0

    def reset(self, records: int | None) -> None:
        if records is not None and records != self.records:
            self.records = records
            self.cache.clear()
            self.cached_bytes = 0
        self.requests = 0
        self.first_request_at = None

    def page(self, kind: str, start: int, size: int) -> bytes:
        """The response (head and body) for records ``start+1 .. start+size``."""
        key = (kind, start, size)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        end = min(start + size, self.records)
        data = b",".join(render_record(n) for n in range(start + 1, end + 1))
        if kind == "page":
            meta = b'{"page":%d,"per_page":%d,"total":%d}' % (start // size + 1, size, self.records)
            body = b'{"data":[' + data + b'],"meta":' + meta + b"}"
        else:
            following = b'"c%d"' % end if end < self.records else b"null"
            body = b'{"data":[' + data + b'],"next_cursor":' + following + b"}"
        response = _head(b"200 OK", len(body)) + body
        if self.cached_bytes + len(response) <= _CACHE_BYTES:
            self.cache[key] = response
            self.cached_bytes += len(response)
        return response


class BenchProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, GET only, one request at a time per connection."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            self.buffer = self.buffer[end + 4 :]
            response = self.respond(head)
            if self.state.latency > 0:
                loop = asyncio.get_running_loop()
                loop.call_later(self.state.latency, self.write, response)
            else:
                self.write(response)

    def write(self, response: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(response)

    def respond(self, head: bytes) -> bytes:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        target = parts[1].decode("latin-1") if len(parts) > 1 else "/"
        path, _, query = target.partition("?")
        params = dict(parse_qsl(query))
        state = self.state
        if path.startswith("/__"):
            return self.control(path, params)
        state.requests += 1
        if state.first_request_at is None:
            state.first_request_at = time.monotonic()
        if not any(line.lower() == b"x-api-key: " + API_KEY.encode() for line in lines[1:]):
            return _error(b"401 Unauthorized", b'{"error":"missing or wrong X-Api-Key"}')
        try:
            if path == "/items":
                size = min(int(params.get("per_page", "100")), MAX_PAGE_SIZE)
                page = int(params.get("page", "1"))
                return state.page("page", (page - 1) * size, size)
            if path == "/cursor/items":
                size = min(int(params.get("limit", "100")), MAX_PAGE_SIZE)
                cursor = params.get("cursor", "c0")
                return state.page("cursor", int(cursor[1:]), size)
            if path.startswith("/items/"):
                number = int(path[len("/items/") :])
                if not 1 <= number <= state.records:
                    return _error(b"404 Not Found", b'{"error":"no such item"}')
                body = render_record(number)
                return _head(b"200 OK", len(body)) + body
        except ValueError:
            return _error(b"400 Bad Request", b'{"error":"bad parameter"}')
        return _error(b"404 Not Found", b'{"error":"no such path"}')

    def control(self, path: str, params: dict[str, str]) -> bytes:
        state = self.state
        if path == "/__reset":
            records = params.get("records")
            state.reset(int(records) if records else None)
        body = orjson.dumps(
            {
                "requests": state.requests,
                "first_request_at": state.first_request_at,
                "records": state.records,
            }
        )
        return _head(b"200 OK", len(body)) + body


def _error(status: bytes, body: bytes) -> bytes:
    return _head(status, len(body)) + body


async def serve(port: int, records: int, latency: float) -> None:
    """Listen on 127.0.0.1:*port* (0 picks a free one) until cancelled."""
    state = State(records, latency)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: BenchProtocol(state), "127.0.0.1", port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"listening {bound}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.records, args.latency_ms / 1000))


if __name__ == "__main__":
    main()
