"""Offset/limit and page-number paging: the client computes the next page itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectory.runtime.pagination.base import NextPage, PageView, Paginator
from connectory.spec.pagination import OffsetPaginationSpec, PageNumberPaginationSpec


class OffsetPaginator(Paginator):
    """``?offset=N&limit=M``; the offset advances by the records actually received.

    Advancing by the records received rather than by ``page_size`` keeps the read exact when the
    API caps the page size below what was asked.
    """

    def __init__(self, spec: OffsetPaginationSpec, max_pages: int | None = None) -> None:
        super().__init__(spec, max_pages)
        self._offset_spec = spec
        self._offset = spec.start_offset

    def first_params(self) -> dict[str, str]:
        """Ask for the first page."""
        return self._params()

    def state(self) -> dict[str, Any]:
        """The offset the next page starts at."""
        return {"offset": self._offset}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from a stored offset."""
        offset = state.get("offset")
        if isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0:
            self._offset = offset

    def advance(self, page: PageView) -> NextPage | None:
        """Move the offset past the records received."""
        size = self._offset_spec.page_size
        if self._offset_spec.stop_on_short_page and size and page.record_count < size:
            return None
        self._offset += page.record_count
        return NextPage(params=self._params())

    def _params(self) -> dict[str, str]:
        params = {self._offset_spec.offset_param: str(self._offset)}
        if self._offset_spec.page_size:
            params[self._offset_spec.limit_param] = str(self._offset_spec.page_size)
        return params


class PageNumberPaginator(Paginator):
    """``?page=N&per_page=M``; the page number advances by one."""

    def __init__(self, spec: PageNumberPaginationSpec, max_pages: int | None = None) -> None:
        super().__init__(spec, max_pages)
        self._page_spec = spec
        self._page = spec.start_page

    def first_params(self) -> dict[str, str]:
        """Ask for the first page."""
        return self._params()

    def state(self) -> dict[str, Any]:
        """The page number of the next page."""
        return {"page": self._page}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from a stored page number."""
        number = state.get("page")
        if isinstance(number, int) and not isinstance(number, bool) and number >= 0:
            self._page = number

    def advance(self, page: PageView) -> NextPage | None:
        """Ask for the following page number."""
        size = self._page_spec.page_size
        if self._page_spec.stop_on_short_page and size and page.record_count < size:
            return None
        self._page += 1
        return NextPage(params=self._params())

    def _params(self) -> dict[str, str]:
        params = {self._page_spec.page_param: str(self._page)}
        if self._page_spec.size_param and self._page_spec.page_size:
            params[self._page_spec.size_param] = str(self._page_spec.page_size)
        return params
