"""A connector client over a paged API of numbered records, for the tests of paced reads."""

from __future__ import annotations

from typing import Any

import httpx

from connectory.resilience import FakeClock
from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec

#: Records per page; the records are ``{"id": n}``, n counting from 1 across pages.
PER_PAGE = 10


def page_number_operation(per_page: int = PER_PAGE) -> dict[str, Any]:
    """``list_items`` on ``/items``: records under ``data``, pages of *per_page* by number,
    the total number of records at ``meta.total``."""
    return {
        "name": "list_items",
        "path": "/items",
        "record_selector": "data",
        "pagination": {"type": "page_number", "page_size": per_page, "total_path": "meta.total"},
    }


def paged_client(
    clock: FakeClock, pages: int, arrivals: list[float] | None = None
) -> ConnectorClient:
    """A client of ``list_items`` over *pages* pages, at the seed's defaults (60 per minute).

    Each request's time on *clock* is appended to *arrivals* (when given).
    """

    def upstream(request: httpx.Request) -> httpx.Response:
        if arrivals is not None:
            arrivals.append(clock.monotonic())
        page = int(request.url.params.get("page", "1"))
        first = (page - 1) * PER_PAGE + 1
        data = [{"id": n} for n in range(first, first + PER_PAGE)]
        return httpx.Response(200, json={"data": data, "meta": {"total": pages * PER_PAGE}})

    spec = ConnectorSpec.model_validate(
        {
            "name": "Paced",
            "base_url": "https://api.example.com",
            "operations": [page_number_operation()],
        }
    )
    return ConnectorClient(spec, transport=httpx.MockTransport(upstream), clock=clock)
