"""An upstream whose slow calls wait until the test opens a gate: calls in flight, on demand.

It runs on loopback in the test's own event loop (the app under test runs there too), so a
test can hold any number of calls in flight, change things, then let them finish, without
sleeping::

    async with GatedUpstream() as upstream:
        calls = [asyncio.create_task(call_slow()) for _ in range(6)]
        await upstream.wait_for(6)          # all six are at the upstream now
        ...                                 # change the connection meanwhile
        upstream.open()
        await asyncio.gather(*calls)

``/slow...`` waits for the gate, ``/fail...`` answers 503, anything else answers 200 at once.
Each request's path and headers are recorded.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

import orjson

#: Longest a test waits for requests to arrive: a safety net against a hang, not a timing.
ARRIVAL_WAIT = 60.0


def gated_document(base_url: str, slug: str = "gated", **resilience: Any) -> dict[str, Any]:
    """A connector for the gated upstream: API key header, operations slow, fast and fail."""
    return {
        "name": "Gated upstream",
        "slug": slug,
        "base_url": base_url,
        "auth": {
            "auth_type": "api_key",
            "credential_schema": {"api_key": {"type": "password", "required": True}},
            "header_name": "X-API-Key",
        },
        "resilience": {"max_retries": 0, **resilience},
        "test_operation": "fast",
        "operations": [
            {"operation": "slow", "path": "/slow"},
            {"operation": "fast", "path": "/fast"},
            {"operation": "fail", "path": "/fail"},
        ],
    }


class GatedUpstream:
    """A tiny HTTP/1.1 server (keep-alive, Content-Length bodies) with a gate on ``/slow``."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[str, dict[str, str]]] = []
        self._gate = asyncio.Event()
        self._arrived = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self.url = ""

    async def __aenter__(self) -> GatedUpstream:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._gate.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def count(self, prefix: str = "/slow") -> int:
        """Requests that arrived on paths starting with *prefix*."""
        return sum(1 for path, _ in self.arrivals if path.startswith(prefix))

    def keys(self, prefix: str = "") -> list[str | None]:
        """The X-API-Key of each request on paths starting with *prefix*, in arrival order."""
        return [
            headers.get("x-api-key") for path, headers in self.arrivals if path.startswith(prefix)
        ]

    async def wait_for(self, count: int, prefix: str = "/slow") -> None:
        """Return once *count* requests on *prefix* have arrived."""

        async def arrived() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: self.count(prefix) >= count)

        await asyncio.wait_for(arrived(), ARRIVAL_WAIT)

    def open(self) -> None:
        """Let every waiting and later slow request through."""
        self._gate.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                target = lines[0].split(" ")[1]
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                if length:
                    await reader.readexactly(length)
                path = target.split("?", 1)[0]
                async with self._arrived:
                    self.arrivals.append((path, headers))
                    self._arrived.notify_all()
                if path.startswith("/slow"):
                    await self._gate.wait()
                status = b"503 Service Unavailable" if path.startswith("/fail") else b"200 OK"
                body = orjson.dumps({"path": path})
                writer.write(
                    b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
