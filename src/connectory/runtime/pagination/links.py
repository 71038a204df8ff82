"""Paging by following URLs: an RFC 8288 ``Link`` header, or a next URL in the body.

Followed URLs must stay on the origin (scheme, host and port) of the connector's base URL:
credentials are attached to every page request, so a next URL on another host would hand them
to whoever controls that host.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from connectory.addresses import check_url_host
from connectory.errors import PaginationError
from connectory.runtime.pagination.base import NextPage, PageView, Paginator, shorten
from connectory.runtime.records import Selector, select
from connectory.spec.pagination import LinkHeaderPaginationSpec, NextUrlPaginationSpec

# RFC 8288: link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param ), and a link-param's
# "=" value is optional (``; crossorigin``).
_LINK_PARAM = re.compile(
    r'\s*;\s*([A-Za-z0-9!#$&+\-.^_`|~]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^\s;,]+))?'
)


def parse_link_header(value: str) -> list[tuple[str, dict[str, str]]]:
    """Parse an RFC 8288 Link header into ``(target, {param: value})`` pairs.

    Handles several links in one header, quoted parameter values with commas or semicolons, and
    ``rel`` values listing several relations.
    """
    links: list[tuple[str, dict[str, str]]] = []
    position = 0
    while True:
        start = value.find("<", position)
        if start == -1:
            return links
        end = value.find(">", start)
        if end == -1:
            return links
        target = value[start + 1 : end].strip()
        params: dict[str, str] = {}
        cursor = end + 1
        while True:
            match = _LINK_PARAM.match(value, cursor)
            if match is None:
                break
            params[match.group(1).lower()] = (match.group(2) or "").strip('"')
            cursor = match.end()
        links.append((target, params))
        position = cursor


def same_origin(url: str, origin: tuple[str, str, int | None]) -> bool:
    """Return True when *url* has the given ``(scheme, host, port)`` origin."""
    parts = urlsplit(url)
    return _origin_of(parts.scheme, parts.hostname, parts.port) == origin


def origin_of(url: str) -> tuple[str, str, int | None]:
    """Return the ``(scheme, host, port)`` of *url*, with the scheme's default port filled in."""
    parts = urlsplit(url)
    return _origin_of(parts.scheme, parts.hostname, parts.port)


def _origin_of(scheme: str, host: str | None, port: int | None) -> tuple[str, str, int | None]:
    scheme = scheme.lower()
    default = {"http": 80, "https": 443}.get(scheme)
    return scheme, (host or "").lower(), port if port is not None else default


class _UrlFollowingPaginator(Paginator):
    """Follows absolute or relative URLs, refusing foreign origins and repeated URLs."""

    def __init__(
        self,
        spec: LinkHeaderPaginationSpec | NextUrlPaginationSpec,
        origin: tuple[str, str, int | None],
        max_pages: int | None = None,
    ) -> None:
        super().__init__(spec, max_pages)
        self._origin = origin
        self._seen: set[str] = set()

    def advance(self, page: PageView) -> NextPage | None:
        """Follow the next URL, if there is one and it is safe."""
        target = self.find_next(page)
        if not target:
            return None
        url = urljoin(page.url, target)
        check_url_host(url, "refusing the next page URL")
        if not same_origin(url, self._origin):
            host = urlsplit(url).hostname or "?"
            raise PaginationError(
                f"the next page is on another host ({host}) than the connector's base URL; "
                "refusing to send the connection's credentials there"
            )
        if url in self._seen or url == page.url:
            raise PaginationError(
                f"the next page URL {shorten(urlsplit(url).path)!r} was already read: the API is "
                "looping; stopping instead of reading the same pages forever"
            )
        self._seen.add(page.url)
        self._seen.add(url)
        return NextPage(url=url)

    def find_next(self, page: PageView) -> str | None:
        """Return the next URL as the page states it, or None."""
        raise NotImplementedError


class LinkHeaderPaginator(_UrlFollowingPaginator):
    """Follows the ``Link`` header's ``rel="next"`` (or the configured relation)."""

    def __init__(
        self,
        spec: LinkHeaderPaginationSpec,
        origin: tuple[str, str, int | None],
        max_pages: int | None = None,
    ) -> None:
        super().__init__(spec, origin, max_pages)
        self._rel = spec.rel.lower()

    def find_next(self, page: PageView) -> str | None:
        """Return the target of the link whose rel matches."""
        header = page.headers.get("link")
        if not header:
            return None
        for target, params in parse_link_header(header):
            if self._rel in params.get("rel", "").lower().split():
                return target
        return None


class NextUrlPaginator(_UrlFollowingPaginator):
    """Follows a URL found in the body at ``next_url_path``."""

    def __init__(
        self,
        spec: NextUrlPaginationSpec,
        origin: tuple[str, str, int | None],
        max_pages: int | None = None,
    ) -> None:
        super().__init__(spec, origin, max_pages)
        self._selector = Selector.parse(spec.next_url_path)

    def find_next(self, page: PageView) -> str | None:
        """Return the URL at the configured path, when it is a non-empty string."""
        value = select(page.body, self._selector)
        return value if isinstance(value, str) and value else None
