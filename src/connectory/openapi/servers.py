"""The connector's base URL.

It is the first of ``servers`` (variables filled with their defaults), or Swagger 2.0's
``host`` + ``basePath`` + ``schemes``; relative URLs are resolved against the document's URL.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

from connectory.openapi.context import ImportContext

#: Used when the document gives no absolute URL and none was read from one; warned about.
PLACEHOLDER_BASE_URL = "https://api.example.invalid"
_VARIABLE = re.compile(r"\{([^{}]+)\}")


def base_url(context: ImportContext, source_url: str | None = None) -> str:
    """Return the absolute base URL of the API (no trailing slash).

    Args:
        context: The import.
        source_url: Where the document was read from, for relative server URLs.
    """
    url = _swagger_url(context, source_url) if context.is_swagger else _server_url(context)
    if url is not None and url.startswith("//"):
        # Protocol-relative: the document's own scheme when it was read from a URL, else https.
        scheme = urlsplit(source_url).scheme if source_url and _is_absolute(source_url) else ""
        url = f"{scheme or 'https'}:{url}"
        if not scheme:
            context.warn(
                "/servers",
                f"the server URL is protocol-relative; https is assumed ({url}): check it",
            )
    if url is not None and not _is_absolute(url) and source_url and _is_absolute(source_url):
        url = urljoin(source_url, url)
    if url is None or not _is_absolute(url):
        where = "/host" if context.is_swagger else "/servers"
        written = f" ('{url}')" if url else ""
        path = url if url and url.startswith("/") else ""
        context.warn(
            where,
            f"the document gives no absolute server URL{written}; base_url is set to "
            f"{PLACEHOLDER_BASE_URL}{path}: replace it with the API's address",
        )
        url = PLACEHOLDER_BASE_URL + path
    return url.rstrip("/")


def operation_server(context: ImportContext, servers: list[Any]) -> str | None:
    """The absolute URL of an operation's (or path's) first server, like the base URL's."""
    usable = [
        item for item in servers if isinstance(item, dict) and isinstance(item.get("url"), str)
    ]
    if not usable:
        return None
    variables = usable[0].get("variables")
    url = _VARIABLE.sub(
        lambda match: str(
            (variables.get(match.group(1)) or {}).get("default", match.group(1))
            if isinstance(variables, dict) and isinstance(variables.get(match.group(1)), dict)
            else match.group(1)
        ),
        str(usable[0]["url"]),
    )
    if url.startswith("//"):
        url = "https:" + url
    if not _is_absolute(url) and context.base_url:
        # Relative to the document's first server, which the base URL is.
        url = (
            urljoin(context.base_url + "/", url.lstrip("/"))
            if not url.startswith("/")
            else (urljoin(context.base_url, url))
        )
    return url.rstrip("/")


def _server_url(context: ImportContext) -> str | None:
    servers = context.data.get("servers")
    if not isinstance(servers, list):
        return None
    usable = [
        item for item in servers if isinstance(item, dict) and isinstance(item.get("url"), str)
    ]
    if not usable:
        return None
    first = usable[0]
    index = servers.index(first)
    if len(usable) > 1:
        others = ", ".join(str(item["url"])[:80] for item in usable[1:4])
        context.warn(
            ("servers",),
            f"the document lists {len(usable)} servers; the connector uses the first "
            f"({first['url'][:80]}); others: {others}",
        )
    return _fill_variables(context, first, index)


def _fill_variables(context: ImportContext, server: dict[str, Any], index: int) -> str:
    variables = server.get("variables") if isinstance(server.get("variables"), dict) else {}
    assert isinstance(variables, dict)

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        variable = variables.get(name)
        if isinstance(variable, dict) and variable.get("default") is not None:
            return str(variable["default"])
        enum = variable.get("enum") if isinstance(variable, dict) else None
        value = str(enum[0]) if isinstance(enum, list) and enum else name
        context.warn(
            ("servers", index, "variables", name),
            f"server variable '{name}' has no default; '{value}' is used",
        )
        return value

    url: str = server["url"]
    return _VARIABLE.sub(fill, url)


def _swagger_url(context: ImportContext, source_url: str | None) -> str | None:
    host = context.data.get("host")
    base_path = context.data.get("basePath")
    path = base_path if isinstance(base_path, str) else ""
    if path and not path.startswith("/"):
        path = "/" + path
    schemes = context.data.get("schemes")
    listed = (
        [item for item in schemes if isinstance(item, str)] if isinstance(schemes, list) else []
    )
    if not isinstance(host, str) or not host:
        if source_url and _is_absolute(source_url):
            parts = urlsplit(source_url)
            return f"{parts.scheme}://{parts.netloc}{path}"
        return path or None
    scheme = "https" if "https" in listed or not listed else listed[0]
    if scheme not in ("http", "https"):
        scheme = "https"
    return f"{scheme}://{host}{path}"


def _is_absolute(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in url
