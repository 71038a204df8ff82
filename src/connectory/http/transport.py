"""The wire a client sends its requests through, when it is given none.

Two transports, each best at one kind of work (the connector client drives the second
directly, through :mod:`connectory.http.aiohttp_wire`; see :mod:`connectory.http.wire`):

- httpx's own transport starts light, but costs 0.5-1 ms more CPU per request (about 1 ms
  per 100-record page against the runtime's aiohttp wire);
- aiohttp costs a fraction of that CPU per request, but about 0.1 s and 10 MiB to
  import (most of it the TLS contexts aiohttp builds at import).

A client does not know in advance whether it will make one request (``connectory call``) or
thousands (a paginated read of a big account), so :class:`AdaptiveTransport` starts on httpx's
transport and moves to aiohttp once the client has made enough requests for the import to pay
for itself (about 200: 0.1 s / 0.5 ms), unless its responses are large: past about 64 KiB
a body's own cost (reading, decoding) dwarfs the per-request saving (measured at 1,000
records of 265 KiB per page: aiohttp 10-15% less CPU, for 10 MiB more memory), so such a
client stays on the light transport and its memory stays flat.

Once any client in the process has loaded aiohttp the import is paid, so later clients use it
from their first request: a long-running service runs on aiohttp throughout, a one-shot
command never loads it. Measured in bench/; see docs/benchmarks.md.

With a proxy configured in the environment there is no choice to make: httpx's own transport
honours ``HTTP(S)_PROXY`` / ``NO_PROXY`` exactly as it always has.
"""

from __future__ import annotations

import os
import ssl
import sys
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from connectory.http.aiohttp_transport import AiohttpTransport

#: Connections kept per client: enough for 100 concurrent callers without reconnecting.
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)

#: Requests after which a client moves to aiohttp: where its import cost is paid back.
UPGRADE_AFTER = 200

#: Mean response size (Content-Length) above which a client does not move to aiohttp.
LARGE_RESPONSES = 64 * 1024

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")
_POOLED_MODULE = "connectory.http.aiohttp_transport"


def proxy_configured() -> bool:
    """True when the environment names a proxy for httpx to use."""
    return any(os.environ.get(name) or os.environ.get(name.upper()) for name in _PROXY_VARIABLES)


def default_transport() -> httpx.AsyncBaseTransport | None:
    """The transport a client uses when it is given none.

    Returns:
        None when a proxy is configured (httpx then builds its own, proxy-aware transport);
        else an :class:`AdaptiveTransport`.
    """
    if proxy_configured():
        return None
    return AdaptiveTransport()


class AdaptiveTransport(httpx.AsyncBaseTransport):
    """httpx's own transport for a client's first requests, aiohttp from then on.

    Requests in flight when the switch happens finish on the transport they started on; the
    first transport's idle connections are closed with the client.

    Before the switch, plain-HTTP and HTTPS requests use separate httpx transports, so that
    loading the CA bundle (about 25 ms and 3 MiB) waits for the first HTTPS request, as it
    does in :class:`~connectory.http.aiohttp_transport.AiohttpTransport`.

    Args:
        upgrade_after: Requests sent through httpx's transport before moving to aiohttp
            (none once aiohttp is loaded in this process).
        large_responses: Mean ``Content-Length`` of those requests' responses at or above
            which the client stays on httpx's transport.
        limits: Connection pool size of either transport.
    """

    def __init__(
        self,
        *,
        upgrade_after: int = UPGRADE_AFTER,
        large_responses: int = LARGE_RESPONSES,
        limits: httpx.Limits = DEFAULT_LIMITS,
    ) -> None:
        self._upgrade_after = upgrade_after
        self._large_responses = large_responses
        self._received = 0  # declared body bytes of the responses so far
        self._limits = limits
        # Built on first use: in a process that has loaded aiohttp they are never needed.
        self._plain: httpx.AsyncHTTPTransport | None = None
        self._tls: httpx.AsyncHTTPTransport | None = None
        self._pooled: AiohttpTransport | None = None
        self._sent = 0

    @property
    def upgraded(self) -> bool:
        """True once requests go through aiohttp."""
        return self._pooled is not None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send *request* through the transport this client has grown into."""
        transport = self.pooled_when_ready()
        if transport is None:
            self._sent += 1
            light = self._light_transport(request.url)
            response = await light.handle_async_request(request)
            self._received += _declared_length(response)
            return response
        return await transport.handle_async_request(request)

    def pooled_when_ready(self) -> AiohttpTransport | None:
        """The aiohttp transport once it is time to use it (built then), else None.

        The runtime's wire (:mod:`connectory.http.wire`) asks before each request: None
        means send it through this transport (httpx's own), which counts it.
        """
        pooled = self._pooled
        if pooled is None:
            if not self._time_to_upgrade():
                return None
            from connectory.http.aiohttp_transport import AiohttpTransport

            pooled = self._pooled = AiohttpTransport(limits=self._limits)
        return pooled

    def _time_to_upgrade(self) -> bool:
        if _POOLED_MODULE in sys.modules:
            return True  # its import is paid already
        if self._sent < self._upgrade_after:
            return False
        return self._received < self._large_responses * self._sent

    def _light_transport(self, url: httpx.URL) -> httpx.AsyncHTTPTransport:
        if url.scheme != "https":
            if self._plain is None:
                # Never handles TLS; should it ever be asked to, a context that trusts no
                # certificate makes the handshake fail rather than go unverified.
                self._plain = httpx.AsyncHTTPTransport(
                    limits=self._limits, verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                )
            return self._plain
        if self._tls is None:
            self._tls = httpx.AsyncHTTPTransport(limits=self._limits)
        return self._tls

    async def aclose(self) -> None:
        """Close the connections of every transport this client used."""
        for transport in (self._plain, self._tls, self._pooled):
            if transport is not None:
                await transport.aclose()


def _declared_length(response: httpx.Response) -> int:
    """The response's ``Content-Length``, or 0 when it has none (chunked) or it is garbage."""
    try:
        return max(int(response.headers.get("content-length", 0)), 0)
    except ValueError:
        return 0
