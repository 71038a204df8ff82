"""aiohttp's connection pool, as an httpx transport and as the runtime's wire.

An :class:`AiohttpTransport` is two things. For httpx (any ``httpx.AsyncClient``) it is a
transport: only the bytes on the wire go through aiohttp, whose C HTTP parser and leaner
connection pool cost a fraction of httpcore's async path, while httpx keeps redirects,
decoding, cookies and its exception types. For the connector client it is the pool of the
runtime's aiohttp wire (:mod:`connectory.http.aiohttp_wire`, :meth:`wire_session`), which
skips httpx's request and response objects altogether. aiohttp errors are translated into
the matching httpx exceptions (:func:`translate`) on both paths, so the resilience pipeline
classifies them the same way. See docs/benchmarks.md.

Importing this module imports aiohttp (about 0.1 s and 10 MiB, most of it the TLS contexts
aiohttp builds at import); :class:`connectory.http.transport.AdaptiveTransport` imports it only
once a client has made enough requests to repay that.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import aiohttp
import httpx
from yarl import URL

from connectory.http.transport import DEFAULT_LIMITS

_CHUNK = 64 * 1024

#: The encodings the wire decodes (httpx's, without the optional brotli and zstandard).
ACCEPT_ENCODING = "gzip, deflate"

#: What httpx's client adds to every request that does not set them.
WIRE_DEFAULT_HEADERS = {
    "Accept": "*/*",
    "Accept-Encoding": ACCEPT_ENCODING,
    "User-Agent": f"python-httpx/{httpx.__version__}",
}


def translate(exc: BaseException, request: httpx.Request | None) -> httpx.TransportError | None:
    """Return the httpx exception that means what the aiohttp (or OS) exception *exc* means."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return httpx.ProxyError(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(message, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, aiohttp.ClientResponseError):
        # A malformed status line or headers from the upstream.
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, aiohttp.ClientOSError | ConnectionError | OSError):
        return httpx.ReadError(message, request=request)
    if isinstance(exc, aiohttp.ClientError):
        return httpx.TransportError(message, request=request)
    return None


class _ResponseStream(httpx.AsyncByteStream):
    """The body of an aiohttp response as httpx reads it; closing it frees the connection."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._response.content
        try:
            while True:
                chunk = await content.readany()
                if not chunk:
                    return
                yield chunk
        except Exception as exc:
            translated = translate(exc, self._request)
            if translated is None:
                raise
            # The OS error stays reachable as the cause, for the error's detail.
            raise translated from exc

    async def aclose(self) -> None:
        # release() returns a fully read connection to the pool and closes a half-read one.
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport that sends requests with aiohttp.

    The aiohttp session is created on first use, inside the running event loop, and closed by
    :meth:`aclose` (httpx's client closes its transport).

    No proxy support and no ``.netrc``: a client that needs a proxy gets httpx's own
    transport (see :func:`connectory.http.transport.default_transport`); reading credentials
    from ``.netrc`` into upstream requests is never wanted.

    Args:
        limits: Connection pool size (``max_connections``; idle connections are kept for
            ``keepalive_expiry`` seconds).
        verify: Verify TLS certificates (with httpx's trust store, as httpx would), or an
            SSL context to use.
    """

    def __init__(
        self, *, limits: httpx.Limits = DEFAULT_LIMITS, verify: bool | ssl.SSLContext = True
    ) -> None:
        self._limits = limits
        self._verify = verify
        self._ssl: ssl.SSLContext | bool | None = None
        self._session: aiohttp.ClientSession | None = None
        self._wire_session: aiohttp.ClientSession | None = None
        # One pool for both sessions (httpx's path and the wire's), so the transport holds
        # at most max_connections connections, not twice that.
        self._pool: aiohttp.TCPConnector | None = None

    def _ssl_for(self, url: httpx.URL) -> ssl.SSLContext | bool:
        return self.ssl_for(url.scheme)

    def ssl_for(self, scheme: str) -> ssl.SSLContext | bool:
        """The TLS setting for a request of *scheme* (the context is built on first HTTPS use)."""
        if scheme != "https":
            return True  # unused for plain HTTP
        if self._ssl is None:
            # Built on the first HTTPS request only: loading the CA bundle costs start-up time
            # that a plain-HTTP client never needs.
            verify = self._verify
            if isinstance(verify, ssl.SSLContext):
                self._ssl = verify
            else:
                self._ssl = httpx.create_ssl_context() if verify else False
        return self._ssl

    def _connector(self) -> aiohttp.TCPConnector:
        """The connection pool (subclasses add a resolver)."""
        return aiohttp.TCPConnector(
            limit=self._limits.max_connections or 0,
            keepalive_timeout=self._limits.keepalive_expiry or 5.0,
        )

    def _shared_pool(self) -> aiohttp.TCPConnector:
        if self._pool is None or self._pool.closed:
            self._pool = self._connector()
        return self._pool

    def _open(self) -> aiohttp.ClientSession:
        self._session = aiohttp.ClientSession(
            connector=self._shared_pool(),
            connector_owner=False,  # closed by aclose, after both sessions
            # httpx decodes, so that size limits apply to the decoded body and the
            # Content-Encoding header keeps meaning what it says.
            auto_decompress=False,
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies
            timeout=aiohttp.ClientTimeout(total=None),
            # httpx sets every header itself; aiohttp must not add its own.
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        )
        # aiohttp resends an idempotent request once when a kept-alive connection breaks; the
        # resilience pipeline decides retries (and counts attempts), so this layer must not.
        # There is no public switch; a test checks both transports make the same attempts.
        self._session._retry_connection = False
        return self._session

    def wire_session(self) -> aiohttp.ClientSession:
        """The session of the runtime's aiohttp wire (:mod:`connectory.http.aiohttp_wire`).

        Separate from the one this transport uses for httpx: it sends httpx's default
        headers, since no httpx client adds them. Same connection pool, TLS and resolver;
        closed by :meth:`aclose`. It keeps no cookies: each wire keeps its own (a transport
        may be shared by clients with different credentials, whose sessions must not mix).
        """
        if self._wire_session is None:
            self._wire_session = aiohttp.ClientSession(
                connector=self._shared_pool(),
                connector_owner=False,  # closed by aclose, after both sessions
                auto_decompress=False,  # decoded by the wire, within the size limit
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),  # the wire's own jar decides
                timeout=aiohttp.ClientTimeout(total=None),
                headers=WIRE_DEFAULT_HEADERS,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            )
            self._wire_session._retry_connection = False  # the pipeline decides retries
        return self._wire_session

    def refuse(self, host: str) -> None:
        """Raise if a request to *host* may not be sent (the egress guard overrides this)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send *request* and return the response with its body still streaming."""
        session = self._session or self._open()
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=timeouts.get("pool"),
            sock_connect=timeouts.get("connect"),
            sock_read=timeouts.get("read"),
        )
        body = await request.aread()
        try:
            response = await session.request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                timeout=timeout,
                read_bufsize=_CHUNK,
                ssl=self._ssl_for(request.url),
            )
        except Exception as exc:
            translated = translate(exc, request)
            if translated is None:
                raise
            raise translated from exc
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_ResponseStream(response, request),
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        for session in (self._session, self._wire_session):
            if session is not None:
                await session.close()
        if self._pool is not None:
            await self._pool.close()
        self._session = self._wire_session = self._pool = None
