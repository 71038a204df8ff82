"""Streamed reads from a server (connectory.remote.read_lines), on httpx.MockTransport.

Both streamed reads (an operation's records, a collection's) go through it: keep-alive lines
are reported, a failure on the stream's last line raises, a refusal raises the server's error,
and a reader that stops early releases the stream at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from connectory.errors import ConnectoryError, NotFound, RateLimited
from connectory.remote import Server


class _Lines(httpx.AsyncByteStream):
    """A streamed body of JSON lines that records whether it was closed."""

    def __init__(self, *items: object) -> None:
        self.items = items
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for item in self.items:
            yield orjson.dumps(item) + b"\n"

    async def aclose(self) -> None:
        self.closed = True


def _server(status: int, stream: httpx.AsyncByteStream) -> Server:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, stream=stream, headers={"content-type": "application/json"})

    return Server("http://server", "t-1", transport=httpx.MockTransport(answer))


async def test_keep_alives_are_reported_and_records_yielded() -> None:
    keepalive = {"_connectory_keepalive": {"waiting": 2.5, "cause": "rate limit"}}
    stream = _Lines({"id": 1}, keepalive, {"id": 2})
    waits: list[tuple[float, str]] = []
    async with _server(200, stream) as server:
        connection = server.connection("c-1")
        records = [
            record
            async for record in connection.iter_records(
                "list", on_wait=lambda s, c: waits.append((s, c))
            )
        ]
        collection_stream = _Lines({"id": "r-1", "fields": {}}, keepalive)
    assert records == [{"id": 1}, {"id": 2}]
    assert waits == [(2.5, "rate limit")]
    async with _server(200, collection_stream) as server:
        collection = server.connection("c-1").collection("contacts")
        ids = [record.id async for record in collection.list()]
    assert ids == ["r-1"]


async def test_a_failure_on_the_last_line_raises_after_the_records_before_it() -> None:
    failure = {"_connectory_error": {"code": "RateLimited", "detail": "no slot in time"}}
    seen: list[object] = []
    async with _server(200, _Lines({"id": 1}, failure)) as server:
        with pytest.raises(ConnectoryError, match="RateLimited: no slot in time"):
            async for record in server.connection("c-1").iter_records("list"):
                seen.append(record)
    assert seen == [{"id": 1}]
    async with _server(200, _Lines({"id": "r-1", "fields": {}}, failure)) as server:
        with pytest.raises(RateLimited, match="no slot in time"):
            async for _ in server.connection("c-1").collection("contacts").list():
                pass


async def test_a_refusal_raises_the_servers_error() -> None:
    body = _Lines({"status": 404, "code": "not_found", "detail": "no such connection"})
    async with _server(404, body) as server:
        with pytest.raises(NotFound, match="no such connection"):
            async for _ in server.connection("c-1").iter_records("list"):
                pass


@pytest.mark.parametrize("read", ["operation", "collection"])
async def test_a_reader_that_stops_early_releases_the_stream_at_once(read: str) -> None:
    stream = _Lines(*({"id": f"r-{n}", "fields": {}} for n in range(100)))
    async with _server(200, stream) as server:
        connection = server.connection("c-1")
        reader = (
            connection.iter_records("list")
            if read == "operation"
            else connection.collection("contacts").list()
        )
        await anext(reader)
        await reader.aclose()  # type: ignore[attr-defined]
        assert stream.closed
