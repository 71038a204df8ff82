"""The wire: how the runtime puts one request on the network and gets its reply back, read.

The connector client has one path for every request (operations, pages, token requests):
:meth:`Wire.build` checks and builds the request once, :meth:`Wire.send` sends it (once per
attempt of the resilience pipeline) and returns a :class:`~connectory.http.reply.Reply` whose
body has been read and decoded within the size limit. Two wires implement it:

- :class:`HttpxWire`: an ``httpx.AsyncClient`` over any httpx transport (tests pass
  ``httpx.MockTransport``; user code may pass its own; httpx's own transport honours a proxy
  from the environment). httpx follows redirects, decodes and keeps cookies.
- :class:`~connectory.http.aiohttp_wire.AiohttpWire`: straight through an aiohttp session,
  with no httpx request or response object in between (about half of a call's CPU under
  concurrency, see docs/benchmarks.md). It re-implements what httpx gave: redirects with the
  same credential rules, decoding within the size limit, cookies, and the httpx exception
  types the resilience pipeline classifies.

:func:`create_wire` (a :class:`WireFactory`, which builds every wire) picks: an aiohttp transport
(the server's egress-guarded one included) becomes an aiohttp wire over its connection pool; the
default :class:`AdaptiveTransport` becomes an :class:`AdaptiveWire` (httpx's transport for a
client's first requests, the aiohttp wire once aiohttp pays for its import); anything else keeps
the httpx path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from connectory.http.redaction import Redactor
from connectory.http.redirects import refuse_ambiguous_redirects, strip_credentials_on_redirect
from connectory.http.reply import Reply, read_reply
from connectory.http.transport import AdaptiveTransport

if TYPE_CHECKING:
    from connectory.http.aiohttp_transport import AiohttpTransport
    from connectory.http.aiohttp_wire import AiohttpWire

#: Redirects followed before giving up (httpx's ``TooManyRedirects``).
MAX_REDIRECTS = 5


class Outgoing(Protocol):
    """A request built by a wire, sent once per attempt.

    ``headers`` may be changed between attempts (tracing sets ``traceparent`` in them).
    """

    @property
    def method(self) -> str:
        """The HTTP method."""

    @property
    def headers(self) -> MutableMapping[str, str]:
        """The headers as they will be sent."""


class Wire(Protocol):
    """Sends requests and reads their replies whole (see the module's documentation)."""

    def build(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None
    ) -> Outgoing:
        """Check and build a request.

        Raises:
            httpx.InvalidURL: the URL is not valid.
            UnicodeEncodeError: a header is not ASCII.
        """

    async def send(self, request: Outgoing, timeout: float) -> Reply:
        """Send *request* once, within *timeout* seconds for each phase, and read the reply.

        Raises:
            httpx.HTTPError: the transport failed (classified by the resilience pipeline).
            ResponseTooLarge: the (decoded) body is larger than the limit.
            ResponseError: a redirect to another origin carries credentials in its URL.
            InvalidURL: a redirect points at an ambiguous address.
        """

    async def aclose(self) -> None:
        """Close the connections."""


class HttpxWire:
    """The httpx path: an ``httpx.AsyncClient`` over *transport* (None: httpx's own).

    Args:
        transport: The httpx transport.
        redactor: Knows the connection's secrets (stripped from cross-origin redirects).
        max_bytes: Largest (decoded) response body accepted.
        clock: Monotonic seconds, for :attr:`Reply.elapsed`.
    """

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None,
        redactor: Redactor,
        max_bytes: int,
        clock: Callable[[], float],
    ) -> None:
        self._max_bytes = max_bytes
        self._clock = clock
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=None,  # the resilience deadline governs every attempt
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            event_hooks={
                "request": [strip_credentials_on_redirect(redactor)],
                "response": [refuse_ambiguous_redirects],
            },
        )

    def build(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None
    ) -> httpx.Request:
        """Build the httpx request (see :meth:`Wire.build`)."""
        request = self._http.build_request(method, url, headers=headers, content=content)
        check_port(request.url.port)
        return request

    async def send(self, request: Outgoing, timeout: float) -> Reply:
        """Send through httpx and read the reply (see :meth:`Wire.send`)."""
        assert isinstance(request, httpx.Request)
        # httpx's own timeout too, so a stalled read fails inside httpx rather than only at
        # the pipeline's cut.
        request.extensions["timeout"] = httpx.Timeout(max(timeout, 0.001)).as_dict()
        started = self._clock()
        response = await self._http.send(request, stream=True)
        try:
            return await read_reply(response, self._max_bytes, started, self._clock)
        finally:
            await response.aclose()

    @property
    def cookies(self) -> httpx.Cookies:
        """The client's cookie jar."""
        return self._http.cookies

    async def aclose(self) -> None:
        """Close the client and its transport."""
        await self._http.aclose()


class AdaptiveWire:
    """httpx's transport for a client's first requests, the aiohttp wire once it pays.

    The choice is :class:`AdaptiveTransport`'s (requests made, response sizes, whether aiohttp
    is loaded already); this wire follows it request by request. Retries of a request stay on
    the wire it was built for.
    """

    def __init__(self, transport: AdaptiveTransport, wires: WireFactory) -> None:
        self._transport = transport
        self._wires = wires
        self._light = wires.httpx_wire(transport)
        self._pooled: AiohttpWire | None = None

    def build(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None
    ) -> Outgoing:
        """Build the request for the wire the client has grown into."""
        pooled = self._pooled
        if pooled is None:
            transport = self._transport.pooled_when_ready()
            if transport is None:
                return self._light.build(method, url, headers, content)
            # The same jar: a cookie session started on httpx's transport carries on.
            pooled = self._pooled = self._wires.aiohttp_wire(transport, self._light.cookies)
        return pooled.build(method, url, headers, content)

    async def send(self, request: Outgoing, timeout: float) -> Reply:
        """Send *request* on the wire it was built for."""
        return await self.sender(request)(request, timeout)

    def sender(self, request: Outgoing) -> Callable[[Outgoing, float], Awaitable[Reply]]:
        """The ``send`` of the wire *request* was built for.

        A caller sending it several times picks it once: its attempts skip this wire's own
        coroutine.
        """
        if isinstance(request, httpx.Request):
            return self._light.send
        assert self._pooled is not None
        return self._pooled.send

    async def aclose(self) -> None:
        """Close both wires' connections (the aiohttp pool is the transport's)."""
        await self._light.aclose()  # closes the adaptive transport, aiohttp's pool included


def check_port(port: int | None) -> None:
    """Refuse a port no socket can connect to (httpx's parser accepts any number).

    Raises:
        httpx.InvalidURL: the port is above 65535.
    """
    if port is not None and port > 65535:
        raise httpx.InvalidURL(f"Invalid port: '{port}'")


def create_wire(
    transport: httpx.AsyncBaseTransport | None,
    redactor: Redactor,
    max_bytes: int,
    clock: Callable[[], float],
) -> Wire:
    """The wire for a client given *transport* (see the module's documentation)."""
    return WireFactory(redactor, max_bytes, clock).create(transport)


@dataclass(frozen=True, slots=True)
class WireFactory:
    """Builds a client's wires, each with the client's redactor, body limit and clock.

    Attributes:
        redactor: Knows the connection's secrets (stripped from cross-origin redirects).
        max_bytes: Largest (decoded) response body accepted.
        clock: Monotonic seconds, for :attr:`Reply.elapsed`.
    """

    redactor: Redactor
    max_bytes: int
    clock: Callable[[], float]

    def create(self, transport: httpx.AsyncBaseTransport | None) -> Wire:
        """The wire for *transport* (see the module's documentation)."""
        if isinstance(transport, AdaptiveTransport):
            return AdaptiveWire(transport, self)
        if transport is not None and _is_aiohttp(transport):
            return self.aiohttp_wire(transport)  # type: ignore[arg-type]
        return self.httpx_wire(transport)

    def httpx_wire(self, transport: httpx.AsyncBaseTransport | None) -> HttpxWire:
        """An httpx wire over *transport* (None: httpx's own)."""
        return HttpxWire(transport, self.redactor, self.max_bytes, self.clock)

    def aiohttp_wire(
        self, transport: AiohttpTransport, cookies: httpx.Cookies | None = None
    ) -> AiohttpWire:
        """An aiohttp wire over *transport*'s pool, keeping cookies in *cookies*."""
        from connectory.http.aiohttp_wire import AiohttpWire

        return AiohttpWire(transport, self.redactor, self.max_bytes, self.clock, cookies)


def _is_aiohttp(transport: Any) -> bool:
    # Only when aiohttp is loaded can the transport be an aiohttp one: no import to find out.
    import sys

    module = sys.modules.get("connectory.http.aiohttp_transport")
    return module is not None and isinstance(transport, module.AiohttpTransport)
