"""One upstream response, read whole (within a size limit) and detached from the connection."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from connectory.errors import ResponseTooLarge


@dataclass(slots=True)
class Reply:
    """A response whose body has been read.

    Attributes:
        status_code: HTTP status.
        headers: Response headers (case-insensitive mapping).
        content: The body, decoded from any Content-Encoding.
        url: The URL that answered (after redirects).
        elapsed: Seconds from sending the request to reading the last byte.
        attempts: Attempts the resilience pipeline made to get this reply.
    """

    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str
    elapsed: float
    attempts: int = 1

    async def aclose(self) -> None:
        """Nothing to release: the body was read whole and the connection returned."""

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased (``application/json``)."""
        header: str = self.headers.get("content-type", "")
        return header.split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str:
        """The declared charset, or utf-8."""
        header: str = self.headers.get("content-type", "")
        for part in header.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip('"')
        return "utf-8"


async def read_reply(
    response: httpx.Response, max_bytes: int, started: float, clock: Callable[[], float]
) -> Reply:
    """Read a streamed *response* whole, refusing bodies over *max_bytes*.

    The Content-Length is checked first so an oversized body is refused without reading it;
    then the (decoded) body is read in chunks and abandoned as soon as it passes the limit.

    Raises:
        ResponseTooLarge: the body is larger than *max_bytes*.
    """
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        await response.aclose()
        raise ResponseTooLarge(too_large(int(declared), max_bytes))
    # Always read in chunks, even with a Content-Length: that length is of the encoded body, and
    # a compressed body grows when decoded, so the limit is enforced chunk by chunk as it grows.
    # An identity body needs no decoder: its raw chunks are the body (and skip httpx's
    # decoding and re-chunking layers, a measurable cost per request). A body httpx already
    # holds (a mock transport's) is only available decoded.
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    raw = encoding in ("", "identity") and not response.is_stream_consumed
    stream = response.aiter_raw() if raw else response.aiter_bytes()
    body = BodyChunks()
    async for chunk in stream:
        body.append(chunk)
        if body.size > max_bytes:
            await response.aclose()
            raise ResponseTooLarge(too_large(None, max_bytes))
    return Reply(
        status_code=response.status_code,
        headers=response.headers,
        content=body.joined(),
        url=str(response.url),
        elapsed=clock() - started,
    )


class BodyChunks:
    """A body read chunk by chunk, joined once at the end.

    Growing a ``bytearray`` and turning it into ``bytes`` copied every byte twice; here the
    chunks are kept as they came and joined once, and a body that came in one chunk (most
    pages) is that chunk, not copied at all.

    Attributes:
        size: Bytes appended so far (what the size limit is checked against).
    """

    __slots__ = ("_chunks", "size")

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self.size = 0

    def append(self, chunk: bytes) -> None:
        """Add *chunk* (an empty one is dropped)."""
        if chunk:
            self._chunks.append(chunk)
            self.size += len(chunk)

    def joined(self) -> bytes:
        """The whole body: the lone chunk as it is, else the chunks joined (one copy)."""
        chunks = self._chunks
        if len(chunks) == 1:
            return chunks[0]
        return b"".join(chunks)


def too_large(size: int | None, limit: int) -> str:
    """The message of :class:`ResponseTooLarge` (*size*: the declared size, if known)."""
    got = f"{size:,} bytes" if size is not None else "more than that"
    return (
        f"the response body is larger than the limit of {limit:,} bytes ({got}); "
        "raise max_response_bytes if this is expected, or page through the data"
    )
