"""Redirects: credentials stay on their origin, and ambiguous IPv4 hosts are refused.

httpx drops only the ``Authorization`` header when a redirect leaves the origin; an API key in
``X-API-Key`` or a session token in a custom header would follow the redirect to whichever
host the upstream names. The hook below drops every header that is sensitive by name or
carries a known secret, before the redirected request leaves. The runtime's aiohttp wire
(:mod:`connectory.http.aiohttp_wire`) follows redirects itself with the same functions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping

import httpx

from connectory.addresses import check_redirect_target
from connectory.errors import ResponseError
from connectory.http.redaction import Redactor

_ORIGIN_KEY = "connectory.origin"

Origin = tuple[str, str, int | None]


def _origin(url: httpx.URL) -> Origin:
    port = url.port or {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, port


def keeps_credentials(first: Origin, now: Origin) -> bool:
    """True when a request redirected from origin *first* to *now* keeps its credentials."""
    # Same origin, or the same host moving from http to https on the default ports (as httpx).
    return now == first or (first == ("http", now[1], 80) and now == ("https", first[1], 443))


def strip_credentials_on_redirect(
    redactor: Redactor,
) -> Callable[[httpx.Request], Awaitable[None]]:
    """Return an httpx request hook that removes credentials from cross-origin redirects.

    The first request of a chain records its origin in the request extensions, which httpx
    copies to each redirected request; a request on another origin loses its sensitive headers.
    """

    async def hook(request: httpx.Request) -> None:
        first: Origin | None = request.extensions.get(_ORIGIN_KEY)
        now = _origin(request.url)
        if first is None:
            request.extensions[_ORIGIN_KEY] = now
            return
        if keeps_credentials(first, now):
            return
        strip_credentials(
            request.headers, request.url.params.multi_items(), request.url.host, redactor
        )

    return hook


def strip_credentials(
    headers: MutableMapping[str, str],
    query: Iterable[tuple[str, str]],
    host: str,
    redactor: Redactor,
) -> None:
    """Remove the credentials of a request redirected to another origin (*host*).

    Deletes from *headers* every header that is sensitive by name or carries a known secret.

    Raises:
        ResponseError: the *query* of the redirect target holds a credential.
    """
    for name, value in list(headers.items()):
        if redactor.is_sensitive(name) or redactor.holds_secret(value):
            del headers[name]
    # A credential in the URL cannot be stripped without changing what is asked for, and
    # servers often copy the query into Location: refuse such a redirect outright.
    for name, value in query:
        # A short secret equal to an ordinary value ("1") must not refuse every redirect:
        # only names and searchable secrets count here.
        if redactor.is_sensitive(name) or redactor.contains_secret(value):
            raise ResponseError(
                f"the upstream redirected to another host ({host}) with "
                "credentials in the URL; refusing to follow the redirect"
            )


async def refuse_ambiguous_redirects(response: httpx.Response) -> None:
    """An httpx response hook refusing a redirect to an ambiguous IPv4 host (``0x7f.1``).

    It runs before httpx builds the redirected request, so a ``Location`` that httpx itself
    would refuse (``http://0177.0.0.1/``) gets the same clear error as one it would follow.

    Raises:
        InvalidURL: the redirect target's host is an IPv4 address in a non-canonical form.
    """
    location = response.headers.get("Location")
    if response.is_redirect and location:
        check_redirect_target(location, str(response.request.url))
