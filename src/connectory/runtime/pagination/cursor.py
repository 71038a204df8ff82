"""Cursor paging: the response names the next cursor (in the body or a header)."""

from __future__ import annotations

from connectory.errors import PaginationError
from connectory.runtime.pagination.base import NextPage, PageView, Paginator, shorten
from connectory.runtime.records import Selector, select
from connectory.spec.pagination import CursorPaginationSpec


class CursorPaginator(Paginator):
    """Sends back the cursor the previous page named; stops when there is none.

    A cursor that comes back a second time means the API is looping: that is an error, not an
    endless read.
    """

    def __init__(self, spec: CursorPaginationSpec, max_pages: int | None = None) -> None:
        super().__init__(spec, max_pages)
        self._cursor_spec = spec
        self._selector = Selector.parse(spec.cursor_path) if spec.cursor_path else None
        self._seen: set[str] = set()

    def first_params(self) -> dict[str, str]:
        """Send the page size, if configured; no cursor on the first request."""
        return self._size_params()

    def advance(self, page: PageView) -> NextPage | None:
        """Send the cursor the page named, or stop when it named none."""
        cursor = self._cursor(page)
        if cursor is None:
            return None
        if cursor in self._seen:
            raise PaginationError(
                f"the cursor {shorten(cursor)!r} came back again after page {page.number}: the "
                "API is looping; stopping instead of reading the same pages forever"
            )
        self._seen.add(cursor)
        return NextPage(params={self._cursor_spec.cursor_param: cursor, **self._size_params()})

    def _cursor(self, page: PageView) -> str | None:
        if self._selector is not None:
            raw = select(page.body, self._selector)
        else:
            assert self._cursor_spec.cursor_header is not None  # guaranteed by the spec
            raw = page.headers.get(self._cursor_spec.cursor_header)
        if raw is None or raw is False or raw == "":
            return None
        if isinstance(raw, dict | list):
            raise PaginationError(
                f"the cursor at {self._cursor_spec.cursor_path} is an object, not a value; "
                "point cursor_path at the cursor itself"
            )
        return str(raw)

    def _size_params(self) -> dict[str, str]:
        spec = self._cursor_spec
        if spec.size_param and spec.page_size:
            return {spec.size_param: str(spec.page_size)}
        return {}
