"""What a draft test read sent and received, page by page, for the builder's Test tab.

The runtime hands back pages (records, status, URL) but not each page's full request and
response. The Test tab shows both on demand, so a draft run wraps its client's transport in
:class:`ExchangeRecorder`: every request and the start of every response (up to
``keep_bytes``) are remembered as they pass, and :func:`describe` turns one exchange into its
redacted form with the client's redactor, as call results are redacted. Nothing is stored
beyond the request that asked for the run.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from connectory.http.redaction import Redactor

#: Bytes of each response body kept for display (the runtime reads the whole body itself).
KEEP_BYTES = 256 * 1024
#: Characters of a page's request or response body shown in the Test tab.
SHOWN_CHARS = 20_000


@dataclass(slots=True)
class Exchange:
    """One request as it went over the wire, and what came back (raw, not yet redacted)."""

    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes | None
    status_code: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytearray = field(default_factory=bytearray)
    complete: bool = False

    def header(self, name: str) -> str:
        """The response header *name* (case-insensitive), or an empty string."""
        wanted = name.lower()
        return next((v for k, v in self.response_headers if k.lower() == wanted), "")


class _Tee(httpx.AsyncByteStream):
    """A response stream that keeps its first bytes in an :class:`Exchange` as they pass."""

    def __init__(self, inner: httpx.AsyncByteStream, exchange: Exchange, keep: int) -> None:
        self._inner = inner
        self._exchange = exchange
        self._keep = keep

    async def __aiter__(self) -> AsyncIterator[bytes]:
        body = self._exchange.response_body
        async for chunk in self._inner:
            room = self._keep - len(body)
            if room > 0:
                body.extend(chunk[:room])
            yield chunk
        self._exchange.complete = len(body) < self._keep

    async def aclose(self) -> None:
        await self._inner.aclose()


class ExchangeRecorder(httpx.AsyncBaseTransport):
    """A transport that records each exchange passing through *inner* (see the module)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, keep_bytes: int = KEEP_BYTES) -> None:
        self._inner = inner
        self._keep = keep_bytes
        self._exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send *request* through the inner transport, remembering it and its answer."""
        try:
            content: bytes | None = request.content or None
        except httpx.RequestNotRead:  # a streamed upload: shown without its body
            content = None
        exchange = Exchange(
            method=request.method,
            url=str(request.url),
            request_headers=list(request.headers.multi_items()),
            request_body=content[:SHOWN_CHARS] if content else None,
        )
        self._exchanges.append(exchange)
        response = await self._inner.handle_async_request(request)
        exchange.status_code = response.status_code
        exchange.response_headers = list(response.headers.multi_items())
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)  # an async transport's stream
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Tee(stream, exchange, self._keep),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()

    def take(self) -> list[Exchange]:
        """The exchanges recorded since the last call (and forget them)."""
        taken, self._exchanges = self._exchanges, []
        return taken


def _decoded(exchange: Exchange) -> bytes | None:
    """The kept body without its content encoding, or None when it cannot be shown whole."""
    data = bytes(exchange.response_body)
    encoding = exchange.header("content-encoding").strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding in ("gzip", "deflate") and exchange.complete:
        try:
            # wbits 47: a gzip or zlib header, whichever it is; capped against bombs.
            return zlib.decompressobj(wbits=47).decompress(data, KEEP_BYTES)
        except zlib.error:
            return None
    return None


def body_text(exchange: Exchange, redactor: Redactor, limit: int = SHOWN_CHARS) -> str | None:
    """The response body as redacted text for display (None when there was none)."""
    if exchange.status_code is None:
        return None
    data = _decoded(exchange)
    if data is None:
        encoding = exchange.header("content-encoding")
        return f"({len(exchange.response_body)} bytes, {encoding}-encoded: not shown)"
    if not data:
        return None
    content_type = exchange.header("content-type")
    if exchange.complete and "json" in content_type.lower():
        try:
            # Indented for reading; redacted as data (sensitive keys) and as text (secrets).
            parsed = redactor.redact_data(json.loads(data))
            shown = redactor.redact(json.dumps(parsed, indent=2, ensure_ascii=False))
            return shown if len(shown) <= limit else f"{shown[:limit]}\n… ({len(shown)} characters)"
        except ValueError:
            pass  # not the JSON it claims to be: shown as text
    text = redactor.redact_body(data, content_type, limit)
    return text if exchange.complete else f"{text}\n… (only the first {KEEP_BYTES} bytes kept)"


def body_data(exchange: Exchange, redactor: Redactor) -> Any:
    """The response body decoded (JSON when it parses, else text), redacted."""
    data = _decoded(exchange)
    if data is not None and exchange.complete:
        try:
            return redactor.redact_data(json.loads(data)) if data else None
        except ValueError:
            pass
    return body_text(exchange, redactor)


def describe_request(exchange: Exchange, redactor: Redactor) -> dict[str, Any]:
    """The request as sent, redacted like a call result's ``request``."""
    content_type = next((v for k, v in exchange.request_headers if k.lower() == "content-type"), "")
    return {
        "method": exchange.method,
        "url": redactor.redact_url(exchange.url),
        "headers": redactor.redact_headers(dict(exchange.request_headers)),
        "body": redactor.redact_body(exchange.request_body, content_type, 2000)
        if exchange.request_body
        else None,
    }


def describe(exchange: Exchange, redactor: Redactor) -> dict[str, Any]:
    """One exchange for display: the request, the status, headers and body, all redacted."""
    return {
        "request": describe_request(exchange, redactor),
        "status_code": exchange.status_code,
        "headers": redactor.redact_headers(dict(exchange.response_headers)),
        "body": body_text(exchange, redactor),
    }
