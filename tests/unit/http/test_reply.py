"""Reading a response whole within a size limit (http/reply.py)."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import httpx
import pytest

from connectory.errors import ResponseTooLarge
from connectory.http.reply import Reply, read_reply


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks
        self.pulled = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.pulled += 1
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


_REQUEST = httpx.Request("GET", "https://a.example/page")


def _clock() -> float:
    return 10.5


async def test_reads_the_body_and_measures_time() -> None:
    response = httpx.Response(
        200,
        stream=_Chunks(b'{"a":', b"1}"),
        headers={"Content-Type": 'Application/JSON; Charset="ISO-8859-1"'},
        request=httpx.Request("GET", "https://a.example/x"),
    )
    reply = await read_reply(response, 100, started=10.0, clock=_clock)
    assert reply.content == b'{"a":1}'
    assert reply.status_code == 200
    assert reply.url == "https://a.example/x"
    assert reply.elapsed == 0.5
    assert reply.content_type == "application/json"
    assert reply.charset == "ISO-8859-1"


def test_reply_defaults() -> None:
    reply = Reply(200, httpx.Headers(), b"", "https://a", 0.0)
    assert reply.content_type == ""
    assert reply.charset == "utf-8"


async def test_declared_length_over_the_limit_is_refused_before_reading() -> None:
    stream = _Chunks(b"x" * 50)
    response = httpx.Response(200, stream=stream, headers={"Content-Length": "50"})
    with pytest.raises(ResponseTooLarge, match="49 bytes"):
        await read_reply(response, 49, 0.0, _clock)
    assert stream.pulled == 0
    assert stream.closed


async def test_undeclared_length_is_counted_while_reading() -> None:
    stream = _Chunks(b"x" * 30, b"x" * 30, b"x" * 30, b"x" * 30)
    response = httpx.Response(200, stream=stream)
    with pytest.raises(ResponseTooLarge, match="more than that"):
        await read_reply(response, 50, 0.0, _clock)
    assert stream.pulled == 2
    assert stream.closed


async def test_lying_content_length_is_not_trusted() -> None:
    stream = _Chunks(b"x" * 40, b"x" * 40, b"x" * 40)
    response = httpx.Response(200, stream=stream, headers={"Content-Length": "10"})
    with pytest.raises(ResponseTooLarge):
        await read_reply(response, 50, 0.0, _clock)


async def test_decoded_size_counts_for_compressed_bodies() -> None:
    compressed = gzip.compress(b"a" * 10_000)
    pieces = [compressed[i : i + 16] for i in range(0, len(compressed), 16)]
    response = httpx.Response(
        200,
        stream=_Chunks(*pieces),
        headers={"Content-Encoding": "gzip", "Content-Length": str(len(compressed))},
    )
    with pytest.raises(ResponseTooLarge):
        await read_reply(response, 1_000, 0.0, _clock)


async def test_compressed_body_under_the_limit_is_decoded() -> None:
    compressed = gzip.compress(b"a" * 500)
    response = httpx.Response(
        200,
        stream=_Chunks(compressed),
        headers={"Content-Encoding": "gzip", "Content-Length": str(len(compressed))},
        request=httpx.Request("GET", "https://a.example/x"),
    )
    reply = await read_reply(response, 1_000, 0.0, _clock)
    assert reply.content == b"a" * 500


async def test_a_body_in_one_chunk_is_used_as_it_is() -> None:
    page = b'{"records": [' + b'{"id": 1},' * 100_000 + b"{}]}"
    response = httpx.Response(200, stream=_Chunks(page), request=_REQUEST)
    reply = await read_reply(response, len(page), 0.0, _clock)
    assert reply.content is page  # not copied


async def test_a_big_page_in_many_chunks_is_read_whole_and_capped() -> None:
    pieces = [bytes([65 + n % 26]) * 65_536 for n in range(40)]  # 2.5 MiB
    whole = b"".join(pieces)
    response = httpx.Response(200, stream=_Chunks(*pieces), request=_REQUEST)
    reply = await read_reply(response, len(whole), 0.0, _clock)
    assert reply.content == whole
    assert type(reply.content) is bytes
    stream = _Chunks(*pieces)
    with pytest.raises(ResponseTooLarge):
        await read_reply(httpx.Response(200, stream=stream), len(whole) - 1, 0.0, _clock)
    assert stream.pulled == 40  # refused at the chunk that passed the limit
    assert stream.closed
