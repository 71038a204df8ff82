"""Choosing the wire a client sends its requests through.

Two httpx transports, chosen by the work a client is about to do (both keep httpx's redirects,
decoding, size limits and exception types; see :mod:`connectory.http.aiohttp_transport`):

- many requests (a paginated read, a server, a benchmark): aiohttp behind httpx, whose
  per-request CPU is about a third of httpcore's async path;
- one request (``connectory call`` without ``--all-pages``): httpx's own transport, which
  does not pay aiohttp's import (about 0.1 s and 20 MiB) to save microseconds on one call.

With a proxy configured in the environment there is no choice to make: httpx's own transport
honours ``HTTP(S)_PROXY`` / ``NO_PROXY`` exactly as it always has.
"""

from __future__ import annotations

import os

import httpx

#: Connections kept per client: enough for 100 concurrent callers without reconnecting.
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


def proxy_configured() -> bool:
    """True when the environment names a proxy for httpx to use."""
    return any(os.environ.get(name) or os.environ.get(name.upper()) for name in _PROXY_VARIABLES)


def default_transport(many_requests: bool = True) -> httpx.AsyncBaseTransport | None:
    """The transport a client uses when it is given none.

    Args:
        many_requests: The client will make more than a handful of requests (the default);
            False for a one-shot call, where start-up time matters more than per-request CPU.

    Returns:
        None when a proxy is configured (httpx then builds its own, proxy-aware transport);
        else an :class:`~connectory.http.aiohttp_transport.AiohttpTransport` for many requests
        or an ``httpx.AsyncHTTPTransport`` for one.
    """
    if proxy_configured():
        return None
    if not many_requests:
        return httpx.AsyncHTTPTransport(limits=DEFAULT_LIMITS)
    from connectory.http.aiohttp_transport import AiohttpTransport

    return AiohttpTransport()
