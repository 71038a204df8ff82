"""httpx transports that record a case's traffic and replay it without the network.

Both sit under the connector client's own HTTP client, so everything above them (inputs,
templates, auth and token requests, resilience, pagination, collections) runs as it does
against the real API.
"""

from __future__ import annotations

import base64
import contextlib
from dataclasses import dataclass
from urllib.parse import parse_qsl

import httpx
import orjson

from connectory.cases.cassette import REDACTED, Interaction, Scrubber
from connectory.errors import RecordingMismatch

#: Request headers replay never compares: they vary from run to run or carry credentials.
DEFAULT_IGNORED_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "user-agent",
        "accept-encoding",
        "content-length",
        "host",
        "connection",
        "idempotency-key",
        "x-idempotency-key",
        "x-request-id",
        "date",
        "traceparent",
        "tracestate",
    }
)
#: Response headers a replayed response must not repeat (the body is stored decoded).
_STALE_RESPONSE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


@dataclass
class _Exchange:
    """One request and response as they went over the wire (not yet scrubbed)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: bytes
    status: int
    response_headers: list[tuple[str, str]]
    response_body: bytes


class RecordingTransport(httpx.AsyncBaseTransport):
    """Sends through *inner* and keeps every exchange for :meth:`interactions`."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self._exchanges: list[_Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send the request and keep it with its response (read whole)."""
        body = await request.aread()
        response = await self._inner.handle_async_request(request)
        try:
            content = await response.aread()
        finally:
            await response.aclose()
        self._exchanges.append(
            _Exchange(
                request.method,
                request.url.path,
                parse_qsl(request.url.query.decode(), keep_blank_values=True),
                list(request.headers.items()),
                body,
                response.status_code,
                list(response.headers.items()),
                content,
            )
        )
        headers = [
            (name, value)
            for name, value in response.headers.items()
            if name.lower() not in _STALE_RESPONSE_HEADERS
        ]
        return httpx.Response(
            response.status_code, headers=headers, content=content, request=request
        )

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()

    def interactions(self, scrubber: Scrubber) -> list[Interaction]:
        """The exchanges so far, scrubbed: tokens any response handed out are learned first."""
        for exchange in self._exchanges:
            with contextlib.suppress(orjson.JSONDecodeError):
                scrubber.learn_tokens(orjson.loads(exchange.response_body))
        return [_scrubbed(exchange, scrubber) for exchange in self._exchanges]


def _scrubbed(exchange: _Exchange, scrubber: Scrubber) -> Interaction:
    try:
        text = exchange.response_body.decode()
        encoded = False
    except UnicodeDecodeError:
        text = base64.b64encode(exchange.response_body).decode()
        encoded = True
    request_body: str | None = None
    if exchange.body:
        try:
            request_body = scrubber.text(exchange.body.decode())
        except UnicodeDecodeError:
            request_body = REDACTED
    return Interaction(
        method=exchange.method,
        path=scrubber.text(exchange.path),
        query=[(scrubber.text(k), scrubber.text(v)) for k, v in exchange.query],
        request_headers=scrubber.headers(exchange.headers),
        request_body=request_body,
        status=exchange.status,
        response_headers={
            name: value
            for name, value in scrubber.headers(exchange.response_headers).items()
            if name not in _STALE_RESPONSE_HEADERS
        },
        response_body=text if encoded else scrubber.text(text),
        response_base64=encoded,
    )


class ReplayTransport(httpx.AsyncBaseTransport):
    """Answers each request with a recorded response; nothing goes over the network.

    A request matches an unused recorded one with the same method, path and query (order
    ignored) whose other recorded headers it has with the same values, except the headers in
    *ignored_headers* (added to :data:`DEFAULT_IGNORED_HEADERS`). Recorded requests are used
    once each, in order, so a listing's pages replay as they came.
    """

    def __init__(
        self, interactions: list[Interaction], ignored_headers: frozenset[str] = frozenset()
    ) -> None:
        self._interactions = interactions
        self._used = [False] * len(interactions)
        self._ignored = DEFAULT_IGNORED_HEADERS | {name.lower() for name in ignored_headers}
        self.requests = 0

    @property
    def unused(self) -> list[Interaction]:
        """Recorded requests the replay has not asked for (yet)."""
        return [item for item, used in zip(self._interactions, self._used, strict=True) if not used]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """The recorded response of the first unused matching interaction.

        Raises:
            RecordingMismatch: no recorded request matches; the message shows the closest.
        """
        self.requests += 1
        query = sorted(parse_qsl(request.url.query.decode(), keep_blank_values=True))
        headers = {name.lower(): value for name, value in request.headers.items()}
        closest: Interaction | None = None
        for index, item in enumerate(self._interactions):
            if self._used[index] or item.method != request.method or item.path != request.url.path:
                continue
            closest = closest or item
            if sorted(item.query) != query or not self._headers_match(item, headers):
                continue
            self._used[index] = True
            response_headers = list(item.response_headers.items())
            return httpx.Response(
                item.status,
                headers=response_headers,
                content=item.response_content(),
                request=request,
            )
        raise RecordingMismatch(self._mismatch(request, headers, closest))

    def _headers_match(self, item: Interaction, headers: dict[str, str]) -> bool:
        for name, value in item.request_headers.items():
            if name in self._ignored or value == REDACTED:
                continue
            if headers.get(name) != value:
                return False
        return True

    def _mismatch(
        self, request: httpx.Request, headers: dict[str, str], closest: Interaction | None
    ) -> str:
        asked = f"{request.method} {request.url.path}"
        if request.url.query:
            asked += f"?{request.url.query.decode()}"
        if closest is None:
            detail = "no recorded request has that method and path"
        else:
            differences = [
                name
                for name, value in closest.request_headers.items()
                if name not in self._ignored and value != REDACTED and headers.get(name) != value
            ]
            recorded_query = "&".join(f"{k}={v}" for k, v in closest.query)
            detail = f"the closest recorded one has query '{recorded_query}'"
            if differences:
                detail += f" and differs in headers {', '.join(sorted(differences))}"
        return (
            f"the recording has no request {asked} ({detail}); the connector or the case "
            "changed since it was recorded: record it again with connectory test --record, or "
            "add headers that vary to ignore_headers"
        )

    async def aclose(self) -> None:
        """Nothing to close."""
