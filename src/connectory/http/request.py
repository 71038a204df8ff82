"""A request about to be sent, as plain data that auth and pagination can adjust."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson


@dataclass(slots=True)
class PreparedRequest:
    """A request about to be sent; auth adds to ``headers`` and ``params``.

    ``url`` may already carry a query string (a next-page URL); ``params`` are merged into it,
    replacing parameters of the same name.
    """

    method: str
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None

    def copy(self) -> PreparedRequest:
        """Return a copy whose headers and params can be changed independently."""
        return PreparedRequest(
            self.method, self.url, dict(self.params), dict(self.headers), self.content
        )

    def full_url(self) -> str:
        """The URL with ``params`` merged into its query string."""
        if not self.params:
            return self.url
        if "?" not in self.url:
            return f"{self.url}?{urlencode(query_pairs(self.params))}"
        pairs: list[tuple[str, str | int | float | bool | None]] = list(query_pairs(self.params))
        return str(httpx.URL(self.url).copy_merge_params(pairs))


def query_pairs(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return query pairs for *params*; a list value repeats its name once per item."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if isinstance(value, list | tuple):
            pairs.extend((name, text_value(item)) for item in value)
        else:
            pairs.append((name, text_value(value)))
    return pairs


def text_value(value: Any) -> str:
    """Return the wire text of a parameter value (booleans as true/false, objects as JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)
