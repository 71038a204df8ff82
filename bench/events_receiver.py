"""A minimal webhook receiver for the events benchmark, in its own process on loopback.

Answers every POST with 200 at once (a bare asyncio protocol: as little CPU as possible, so it
does not blur what it measures). Bodies carrying ``"sent_at":<unix seconds>`` add one
end-to-end latency sample (now - sent_at).

Control (GET): ``/__stats`` -> ``{"received": n, "latencies": [...]}``, ``/__reset``.
Run: ``python -m bench.events_receiver --port 0``; prints ``listening <port>``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time

import orjson

_SENT_AT = re.compile(rb'"sent_at":\s*"?([0-9.]+)')
_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


class State:
    """What the receiver saw."""

    def __init__(self) -> None:
        self.received = 0
        self.latencies: list[float] = []


class Receiver(asyncio.Protocol):
    """HTTP/1.1 keep-alive, Content-Length bodies only (what the senders use)."""

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
            head = self.buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.handle(head.split(" ", 2), body)

    def handle(self, request_line: list[str], body: bytes) -> None:
        assert self.transport is not None
        method, path = request_line[0], request_line[1]
        if method == "GET":
            if path.startswith("/__reset"):
                self.state.received = 0
                self.state.latencies = []
            payload = orjson.dumps(
                {"received": self.state.received, "latencies": self.state.latencies}
            )
            self.transport.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
                % len(payload)
                + payload
            )
            return
        self.state.received += 1
        found = _SENT_AT.search(body)
        if found:
            self.state.latencies.append(time.time() - float(found.group(1)))
        self.transport.write(_OK)


async def main(port: int) -> None:
    state = State()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Receiver(state), "127.0.0.1", port, backlog=1024)
    sys.stdout.write(f"listening {server.sockets[0].getsockname()[1]}\n")
    sys.stdout.flush()
    await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(main(parser.parse_args().port))
