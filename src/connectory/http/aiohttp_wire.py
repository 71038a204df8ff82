"""The runtime's aiohttp wire: requests straight through an aiohttp session.

No httpx request or response object is built: the URL is parsed once per request (by yarl),
the headers go to aiohttp as they are, and the reply's headers are aiohttp's parsed ones
behind httpx's ``Headers`` interface (:class:`WireHeaders`). What httpx's client did is done
here, with the same results:

- redirects (at most :data:`~connectory.http.wire.MAX_REDIRECTS`, httpx's method changes,
  headers and body), credentials stripped when one leaves the origin
  (:func:`~connectory.http.redirects.strip_credentials`), ambiguous targets refused;
- ``gzip`` and ``deflate`` bodies decoded, the size limit applied to the decoded body after
  the ``Content-Length`` check;
- cookies kept in the wire's own jar (httpx's ``Cookies``, shared with the httpx wire when the
  client switches wires) and sent back where they belong, as httpx's client does;
- aiohttp's exceptions raised as the httpx exceptions the resilience pipeline classifies
  (:func:`~connectory.http.aiohttp_transport.translate`), URLs httpx would refuse refused
  with httpx's ``InvalidURL``;
- the egress guard: the transport's resolver checks every address, :meth:`refuse` checks IP
  literals before each request (redirect targets included).
"""

from __future__ import annotations

import math
import re
import urllib.request
import zlib
from collections.abc import Callable, ItemsView, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
from multidict import CIMultiDictProxy
from yarl import URL

from connectory.addresses import check_redirect_target
from connectory.errors import InvalidURL, ResponseTooLarge
from connectory.http.aiohttp_transport import AiohttpTransport, translate
from connectory.http.redaction import Redactor
from connectory.http.redirects import Origin, keeps_credentials, strip_credentials
from connectory.http.reply import BodyChunks, Reply, too_large
from connectory.http.wire import MAX_REDIRECTS, check_port

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Anything but visible ASCII: such a URL is normalised by httpx's parser (percent-encoding).
_NOT_PLAIN = re.compile(r"[^\x21-\x7e]")
#: Origins (``scheme://authority``) already checked by httpx's URL parser.
_MAX_ORIGINS = 64


class WireHeaders(httpx.Headers):
    """Response headers: httpx's ``Headers``, over the headers aiohttp has parsed already.

    Look-ups (``get``, ``[]``, ``in``) go to aiohttp's case-insensitive multi-dict; everything
    else (``multi_items``, ``get_list``, ``raw``, changes) builds httpx's own list from the raw
    bytes on first use, so the object behaves as the ``httpx.Headers`` it is.
    """

    def __init__(
        self, raw: Sequence[tuple[bytes, bytes]], parsed: CIMultiDictProxy[str] | None
    ) -> None:
        # httpx's __init__ is not called: its list is built on demand from *raw*.
        self._raw = raw
        self._parsed = parsed
        self._built: list[tuple[bytes, bytes, bytes]] | None = None
        self._encoding = None

    @property
    def _list(self) -> list[tuple[bytes, bytes, bytes]]:
        built = self._built
        if built is None:
            built = self._built = [(key, key.lower(), value) for key, value in self._raw]
        return built

    @_list.setter
    def _list(self, value: list[tuple[bytes, bytes, bytes]]) -> None:
        self._built = value

    def __getitem__(self, key: str) -> str:
        parsed = self._parsed
        if parsed is not None:
            values = parsed.getall(key, None)
            if values is None:
                raise KeyError(key)
            # A non-ASCII value is decoded as httpx decodes it (its encoding detection).
            if len(values) == 1 and values[0].isascii():
                return values[0]
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        """A header's value (several joined with ``, ``), or *default*."""
        try:
            return self[key]
        except KeyError:
            return default

    def items(self) -> ItemsView[str, str]:
        """Lower-cased names and their values (several joined with ``, ``), as httpx's."""
        parsed = self._parsed
        if parsed is None:
            return super().items()
        joined: dict[str, str] = {}
        for name, value in parsed.items():
            if not value.isascii():
                return super().items()  # decoded as httpx decodes it
            key = name.lower()
            joined[key] = f"{joined[key]}, {value}" if key in joined else value
        return joined.items()

    def received(self) -> WireHeaders | None:
        """A copy of these headers as received, made without reading them (None once changed).

        For a reader that looks at them later (the call log's excerpt): copying costs less
        than taking their items, and the copy does not follow later changes to these.
        """
        return WireHeaders(self._raw, self._parsed) if self._parsed is not None else None

    def __setitem__(self, key: str, value: str) -> None:
        self._parsed = None  # changed: httpx's list is the truth from now on
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._parsed = None
        super().__delitem__(key)

    def update(self, headers: Any = None) -> None:  # type: ignore[override]
        """Replace headers (as ``httpx.Headers.update``)."""
        self._parsed = None
        super().update(headers)


@dataclass(slots=True)
class WireRequest:
    """A request built for the aiohttp wire (sent once per attempt)."""

    method: str
    url: URL
    headers: MutableMapping[str, str]
    content: bytes | None


class AiohttpWire:
    """Sends requests through the aiohttp session of *transport* (see the module's docs).

    Args:
        transport: The connection pool (and for the server, the egress guard).
        redactor: Knows the connection's secrets (stripped from cross-origin redirects).
        max_bytes: Largest (decoded) response body accepted.
        clock: Monotonic seconds, for :attr:`Reply.elapsed`.
        cookies: The jar to keep cookies in (a new one if None): the client's, never the
            transport's, which other clients may share.
    """

    def __init__(
        self,
        transport: AiohttpTransport,
        redactor: Redactor,
        max_bytes: int,
        clock: Callable[[], float],
        cookies: httpx.Cookies | None = None,
    ) -> None:
        self._transport = transport
        self._redactor = redactor
        self._max_bytes = max_bytes
        self._clock = clock
        self._cookies = httpx.Cookies() if cookies is None else cookies
        self._origins: set[str] = set()

    def build(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None
    ) -> WireRequest:
        """Check and build a request (see :meth:`connectory.http.wire.Wire.build`)."""
        for name, value in headers.items():
            if not (name.isascii() and value.isascii()):
                # httpx encodes header values as ASCII and fails the same way.
                (name + value).encode("ascii")
        # A copy: tracing sets `traceparent` in it, the caller's request stays as it was.
        return WireRequest(method, self._url(url), dict(headers), content)

    def _url(self, url: str) -> URL:
        """Parse *url*; what httpx's parser would refuse is refused with its error."""
        scheme_end = url.find("://")
        authority_end = url.find("/", scheme_end + 3) if scheme_end > 0 else -1
        origin = url if authority_end < 0 else url[:authority_end]
        if origin not in self._origins or _NOT_PLAIN.search(url):
            # httpx's parser decides, once per origin (and whenever the URL needs encoding,
            # which it then does as httpx does).
            parsed = httpx.URL(url)
            if parsed.scheme not in ("http", "https") or not parsed.host:
                # Refused when sent, inside the resilience pipeline, as httpx refuses it
                # (UnsupportedProtocol: not retried); never remembered as a good origin.
                return URL(str(parsed), encoded=True)
            check_port(parsed.port)
            if len(self._origins) >= _MAX_ORIGINS:
                self._origins.clear()
            self._origins.add(origin)
            url = str(parsed)
        return URL(url, encoded=True)

    async def send(self, request: Any, timeout: float) -> Reply:
        """Send *request* once and read its reply (see :meth:`Wire.send`)."""
        started = self._clock()
        session = self._transport.wire_session()
        timeouts = _phase_timeouts(timeout)
        method: str = request.method
        url: URL = request.url
        headers: MutableMapping[str, str] = request.headers
        content: bytes | None = request.content
        first: Origin | None = None
        redirects = 0
        while True:
            self._transport.refuse(url.host or "")
            try:
                response = await session.request(
                    method,
                    url,
                    headers=self._with_cookies(method, url, headers),
                    data=content,
                    allow_redirects=False,
                    timeout=timeouts,
                    ssl=self._transport.ssl_for(url.scheme),
                )
            except Exception as exc:
                raise _translated(exc) from exc
            try:
                if "Set-Cookie" in response.headers:
                    self._keep_cookies(method, url, response)
                location = (
                    response.headers.get("Location")
                    if response.status in _REDIRECT_STATUSES
                    else None
                )
                if not location:
                    content_read = await self._read(response)
                    return Reply(
                        status_code=response.status,
                        headers=WireHeaders(response.raw_headers, response.headers),
                        content=content_read,
                        url=str(url),
                        elapsed=self._clock() - started,
                    )
                check_redirect_target(location, str(url))
                await self._read(response)  # a redirect's body: read, so the connection stays
            except Exception as exc:
                translated = translate(exc, None)
                if translated is None:
                    raise
                raise translated from exc
            finally:
                response.release()
            redirects += 1
            if redirects > MAX_REDIRECTS:
                raise httpx.TooManyRedirects("Exceeded maximum allowed redirects.")
            if first is None:
                first = _origin(url)
            method, url, headers, content = self._redirected(
                method, url, headers, content, response.status, location, first
            )

    def _with_cookies(
        self, method: str, url: URL, headers: MutableMapping[str, str]
    ) -> MutableMapping[str, str]:
        """*headers* plus the jar's ``Cookie`` for *url* (a request's own ``Cookie`` wins)."""
        if not self._cookies or any(name.lower() == "cookie" for name in headers):
            return headers
        # The jar's own rules (domain, path, secure, expiry) pick the cookies, on the request
        # httpx hands the jar (a urllib one), without an httpx request's URL parse.
        probe = urllib.request.Request(str(url), method=method)
        self._cookies.jar.add_cookie_header(probe)
        cookie = probe.get_header("Cookie")
        return headers if cookie is None else {**headers, "Cookie": cookie}

    def _keep_cookies(self, method: str, url: URL, response: aiohttp.ClientResponse) -> None:
        """Store the cookies *response* (to *url*) sets, as httpx's client stores them."""
        set_cookies = [(k, v) for k, v in response.raw_headers if k.lower() == b"set-cookie"]
        reply = httpx.Response(
            response.status, headers=set_cookies, request=httpx.Request(method, str(url))
        )
        self._cookies.extract_cookies(reply)

    def _redirected(
        self,
        method: str,
        url: URL,
        headers: MutableMapping[str, str],
        content: bytes | None,
        status: int,
        location: str,
        first: Origin,
    ) -> tuple[str, URL, MutableMapping[str, str], bytes | None]:
        """The request that follows a redirect, as httpx builds it (plus our credential rules)."""
        try:
            # Through the same check as the first request's URL (httpx's parse, the port).
            target = self._url(str(_redirect_url(url, location)))
        except httpx.InvalidURL as exc:
            raise InvalidURL(f"the upstream redirected to an invalid URL ({exc})") from None
        new_method = method
        if (status in (302, 303) and method != "HEAD") or (status == 301 and method == "POST"):
            new_method = "GET"
        dropped = {"cookie"}  # the jar decides, as httpx's client does
        if _origin(target) != _origin(url):
            if not (url.scheme == "http" and target.scheme == "https" and url.host == target.host):
                dropped.add("authorization")
            dropped.add("host")
        if new_method != method and new_method == "GET":
            dropped.update(("content-length", "transfer-encoding"))
            content = None
        new_headers = {
            name: value for name, value in headers.items() if name.lower() not in dropped
        }
        if not keeps_credentials(first, _origin(target)):
            strip_credentials(new_headers, target.query.items(), target.host or "", self._redactor)
        return new_method, target, new_headers, content

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        """The body, decoded; refused past the size limit (``Content-Length`` checked first)."""
        max_bytes = self._max_bytes
        headers = response.headers
        declared = headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise ResponseTooLarge(too_large(int(declared), max_bytes))
        encoding = headers.get("Content-Encoding")
        decoders = _decoders(encoding) if encoding else []
        stream = response.content
        if not decoders:
            if declared is not None and declared.isdigit():
                # Exactly the declared length, which is within the limit.
                return await response.read()
            body = BodyChunks()
            while chunk := await stream.readany():
                body.append(chunk)
                if body.size > max_bytes:
                    raise ResponseTooLarge(too_large(None, max_bytes))
            return body.joined()
        decoded = BodyChunks()
        while chunk := await stream.readany():
            self._decode(decoders, 0, chunk, decoded)
        for index, decoder in enumerate(decoders):
            # In order: what a step still held goes through the steps after it.
            self._decode(decoders, index + 1, decoder.flush(), decoded)
        return decoded.joined()

    def _decode(
        self, decoders: list[_Decoder], index: int, data: bytes, decoded: BodyChunks
    ) -> None:
        """Put *data* through ``decoders[index:]`` onto *decoded*, refused past the limit.

        Every step is bounded (a gzip-of-gzip bomb must not inflate in memory in an inner
        step either): a step's output is passed on in pieces of at most the limit plus one
        byte, and the rest of its input stays in it until the steps after it have taken
        that piece.
        """
        max_bytes = self._max_bytes
        if index == len(decoders):
            decoded.append(data)
            if decoded.size > max_bytes:
                raise ResponseTooLarge(too_large(None, max_bytes))
            return
        decoder = decoders[index]
        final = index == len(decoders) - 1
        while data:
            # The final step's piece stops one byte past what the limit still allows.
            limit = max_bytes - decoded.size + 1 if final else max_bytes + 1
            piece, data = decoder.decode(data, limit)
            self._decode(decoders, index + 1, piece, decoded)

    async def aclose(self) -> None:
        """Close the transport's connections."""
        await self._transport.aclose()


class _Decoder:
    """One ``Content-Encoding`` step (gzip or deflate), as httpx decodes it."""

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._first = True
        wbits = zlib.MAX_WBITS | 16 if kind == "gzip" else zlib.MAX_WBITS
        self._zlib = zlib.decompressobj(wbits)

    def decode(self, data: bytes, limit: int) -> tuple[bytes, bytes]:
        """Decode *data* into at most *limit* (> 0) bytes; return them and the input left.

        The input left (empty unless the output was cut at *limit*) is to be passed back
        in, once the caller has dealt with the output.
        """
        first, self._first = self._first, False
        try:
            out = self._zlib.decompress(data, limit)
        except zlib.error as exc:
            if first and self._kind == "deflate":
                # Servers send raw deflate streams (no zlib header) as "deflate"; httpx
                # accepts both, so does this.
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.decode(data, limit)
            raise httpx.DecodingError(str(exc)) from exc
        return out, self._zlib.unconsumed_tail

    def flush(self) -> bytes:
        """What the decoder still holds at the end of the body."""
        try:
            return self._zlib.flush()
        except zlib.error as exc:
            raise httpx.DecodingError(str(exc)) from exc


def _decoders(header: str) -> list[_Decoder]:
    """The decoders for a ``Content-Encoding`` value, in decoding order; unknown: skipped."""
    kinds = [part.strip().lower() for part in header.split(",")]
    # Applied in the order listed, so removed in reverse.
    return [_Decoder(kind) for kind in reversed(kinds) if kind in ("gzip", "deflate")]


#: aiohttp's per-phase timeouts by millisecond (immutable, so shared); bounded.
_TIMEOUTS: dict[int, aiohttp.ClientTimeout] = {}
_MAX_TIMEOUTS = 256


def _phase_timeouts(seconds: float) -> aiohttp.ClientTimeout:
    """The connect and read timeouts of one attempt: *seconds*, up to the millisecond.

    Building a ``ClientTimeout`` costs more than a dictionary look-up, and attempts of a
    connection mostly start with the same time left (its ``timeout``, less microseconds).
    Rounding up by under a millisecond changes nothing that can be seen: the pipeline cuts the
    attempt at its deadline anyway, and aiohttp itself rounds timeouts of 5 s and more up to
    the second.
    """
    millis = math.ceil(seconds * 1000)
    timeouts = _TIMEOUTS.get(millis)
    if timeouts is None:
        if len(_TIMEOUTS) >= _MAX_TIMEOUTS:
            _TIMEOUTS.clear()
        phase = millis / 1000
        timeouts = _TIMEOUTS[millis] = aiohttp.ClientTimeout(
            total=None, connect=phase, sock_connect=phase, sock_read=phase
        )
    return timeouts


def _origin(url: URL) -> Origin:
    return url.scheme, url.host or "", url.port or _DEFAULT_PORTS.get(url.scheme)


def _redirect_url(url: URL, location: str) -> URL:
    """The URL a ``Location`` points at, resolved as httpx resolves it."""
    try:
        target = URL(location)
    except (ValueError, TypeError) as exc:
        raise httpx.RemoteProtocolError(f"Invalid URL in location header: {exc}.") from None
    if target.scheme and not target.host:
        # A malformed "absolute" location without a host (httpx keeps the current host).
        target = target.with_host(url.host or "")
    if not target.is_absolute():
        target = url.join(target)
    if url.fragment and not target.fragment:
        target = target.with_fragment(url.fragment)
    return target


def _translated(exc: Exception) -> Exception:
    """The httpx exception for an aiohttp one (other exceptions unchanged)."""
    return translate(exc, None) or exc
