"""The test API's list endpoints: one per paging style, plus endpoints that page wrongly on purpose.

Well-behaved styles (all over the same dataset, so every style must yield every record once):

========================  ======================================================================
``/offset/items``         ``?offset=&limit=``; ``{"data": [...]}``; total in ``X-Total-Count``
``/pages/items``          ``?page=&per_page=``; total in the body (``meta.total``) and header
``/cursor/items``         ``?cursor=&limit=``; next cursor at ``meta.next_cursor`` (null at end)
``/cursor-header/items``  ``?cursor=&limit=``; next cursor in ``X-Next-Cursor``; records at
                          ``result.items`` (nested deeper)
``/link/items``           ``?page=&per_page=``; a bare JSON array; RFC 8288 ``Link`` header
``/next-url/items``       ``?page=&per_page=``; absolute ``next`` URL in the body (null at end)
========================  ======================================================================

Misbehaving ones, each of which a correct client must stop on with an error, never loop on:
``/bad/repeat-cursor/items`` (cursors cycle a, b, a), ``/bad/next-url-loop/items`` (next is
the URL itself), ``/bad/link-loop/items`` (page 1 and page 2 link to each other),
``/bad/foreign-next/items`` (next URL on ``other.invalid``), ``/bad/foreign-link/items``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectory.testing.api_state import TestApiState, int_param, json_response

#: Host of the "foreign" next URLs: ``.invalid`` is reserved (RFC 2606), so it never resolves.
FOREIGN_BASE = "http://other.invalid"


def encode_cursor(offset: int) -> str:
    """Return the opaque cursor that points at *offset* (clients must not parse it)."""
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Return the offset in *cursor*, or answer 400 when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "offset":
            raise ValueError(text)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise HTTPException(400, f"invalid cursor {cursor!r}") from None


def page_slice(state: TestApiState, page: int, per_page: int) -> list[dict[str, Any]]:
    """Return the records of 1-based page *page*."""
    start = (page - 1) * per_page
    return state.records[start : start + per_page]


def page_meta(state: TestApiState, page: int, per_page: int) -> dict[str, int]:
    """Return the ``meta`` block of a page-number response."""
    total = len(state.records)
    return {
        "page": page,
        "per_page": per_page,
        "total": total,
        "total_pages": -(-total // per_page),
    }


def _page_and_size(state: TestApiState, request: Request) -> tuple[int, int]:
    page = int_param(request, "page", 1, minimum=1)
    size = int_param(
        request, "per_page", state.default_page_size, minimum=1, maximum=state.max_page_size
    )
    return page, size


def _total_header(state: TestApiState) -> dict[str, str]:
    return {"X-Total-Count": str(len(state.records))}


def _link_header(request: Request, links: dict[str, int], per_page: int) -> str:
    parts = [
        f'<{request.url.include_query_params(page=page, per_page=per_page)}>; rel="{rel}"'
        for rel, page in links.items()
    ]
    return ", ".join(parts)


def paging_routes(state: TestApiState) -> list[BaseRoute]:
    """Return the list endpoints of every paging style, bound to *state*."""

    async def offset_items(request: Request) -> Response:
        offset = int_param(request, "offset", 0, minimum=0)
        limit = int_param(
            request, "limit", state.default_page_size, minimum=1, maximum=state.max_page_size
        )
        data = state.records[offset : offset + limit]
        return json_response(
            {"data": data, "offset": offset, "limit": limit}, headers=_total_header(state)
        )

    async def page_items(request: Request) -> Response:
        page, size = _page_and_size(state, request)
        body = {"data": page_slice(state, page, size), "meta": page_meta(state, page, size)}
        return json_response(body, headers=_total_header(state))

    def cursor_page(request: Request) -> tuple[list[dict[str, Any]], str | None]:
        cursor = request.query_params.get("cursor")
        offset = decode_cursor(cursor) if cursor else 0
        limit = int_param(
            request, "limit", state.default_page_size, minimum=1, maximum=state.max_page_size
        )
        data = state.records[offset : offset + limit]
        more = offset + limit < len(state.records)
        return data, encode_cursor(offset + limit) if more else None

    async def cursor_items(request: Request) -> Response:
        data, next_cursor = cursor_page(request)
        return json_response({"data": data, "meta": {"next_cursor": next_cursor}})

    async def cursor_header_items(request: Request) -> Response:
        data, next_cursor = cursor_page(request)
        headers = {"X-Next-Cursor": next_cursor} if next_cursor else {}
        return json_response({"result": {"items": data, "count": len(data)}}, headers=headers)

    async def link_items(request: Request) -> Response:
        page, size = _page_and_size(state, request)
        last = max(1, -(-len(state.records) // size))
        links = {"first": 1, "last": last}
        if page > 1:
            links["prev"] = page - 1
        if page < last:
            links["next"] = page + 1
        headers = {**_total_header(state), "Link": _link_header(request, links, size)}
        return json_response(page_slice(state, page, size), headers=headers)

    async def next_url_items(request: Request) -> Response:
        page, size = _page_and_size(state, request)
        more = page * size < len(state.records)
        next_url = str(request.url.include_query_params(page=page + 1, per_page=size))
        body = {"data": page_slice(state, page, size), "next": next_url if more else None}
        return json_response(body)

    async def repeat_cursor_items(request: Request) -> Response:
        # Cursors cycle a -> b -> a. Each page holds other records, so only a client that
        # remembers the cursors it has sent (not one comparing page bodies) notices the loop.
        cursor = request.query_params.get("cursor", "")
        step = {"": 0, "a": 1, "b": 2}.get(cursor, 0)
        next_cursor = "b" if cursor == "a" else "a"
        data = state.records[step * 10 : step * 10 + 10]
        return json_response({"data": data, "meta": {"next_cursor": next_cursor}})

    async def next_url_loop_items(request: Request) -> Response:
        # The next URL is the URL just requested.
        return json_response({"data": state.records[:10], "next": str(request.url)})

    async def link_loop_items(request: Request) -> Response:
        # Page 1 links to page 2, which links back to page 1: a cycle of two.
        page = int_param(request, "page", 1, minimum=1)
        target = 2 if page == 1 else 1
        start = (page - 1) * 10
        link = f'<{request.url.include_query_params(page=target)}>; rel="next"'
        return json_response(state.records[start : start + 10], headers={"Link": link})

    async def foreign_next_items(request: Request) -> Response:
        body = {"data": state.records[:10], "next": f"{FOREIGN_BASE}/next-url/items?page=2"}
        return json_response(body)

    async def foreign_link_items(request: Request) -> Response:
        link = f'<{FOREIGN_BASE}/link/items?page=2>; rel="next"'
        return json_response(state.records[:10], headers={"Link": link})

    return [
        Route("/offset/items", offset_items),
        Route("/pages/items", page_items),
        Route("/cursor/items", cursor_items),
        Route("/cursor-header/items", cursor_header_items),
        Route("/link/items", link_items),
        Route("/next-url/items", next_url_items),
        Route("/bad/repeat-cursor/items", repeat_cursor_items),
        Route("/bad/next-url-loop/items", next_url_loop_items),
        Route("/bad/link-loop/items", link_loop_items),
        Route("/bad/foreign-next/items", foreign_next_items),
        Route("/bad/foreign-link/items", foreign_link_items),
    ]
