"""The ``pagination`` block of an operation: one small spec per paging style.

Each spec configures the paginator of the same role in :mod:`connectory.runtime.pagination`
(``CursorPaginationSpec`` configures ``CursorPaginator``). Stop conditions shared by every style:
an empty page always stops; ``total_path``/``total_header`` stop once that many records were
read; ``max_pages`` caps the pages read. A repeated cursor or next URL is an error, never a loop.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from connectory.spec.base import SpecModel

PAGINATION_TYPES = ("offset", "page_number", "cursor", "link_header", "next_url")


class _PaginationBase(SpecModel):
    max_pages: int | None = Field(
        default=None, ge=1, description="Read at most this many pages (the caller may lower it)."
    )
    total_path: str | None = Field(
        default=None,
        description="Where the total record count is in the body (stops when reached).",
    )
    total_header: str | None = Field(
        default=None, description="Response header with the total record count, e.g. X-Total-Count."
    )


class _SizedPaginationBase(_PaginationBase):
    page_size: int | None = Field(
        default=100, ge=1, description="Records to ask for per page (sent in size_param)."
    )
    stop_on_short_page: bool = Field(
        default=False,
        description=(
            "Stop when a page has fewer records than page_size. Off by default because many APIs "
            "cap the page size below what was asked, which would stop the read early."
        ),
    )


class OffsetPaginationSpec(_SizedPaginationBase):
    """``?offset=200&limit=100``: the offset advances by the number of records received."""

    type: Literal["offset"]
    offset_param: str = "offset"
    limit_param: str = "limit"
    start_offset: int = Field(default=0, ge=0)


class PageNumberPaginationSpec(_SizedPaginationBase):
    """``?page=3&per_page=100``: the page number advances by one."""

    type: Literal["page_number"]
    page_param: str = "page"
    size_param: str | None = Field(
        default="per_page", description="Query parameter for the page size; null to not send one."
    )
    start_page: int = Field(default=1, ge=0)


class CursorPaginationSpec(_PaginationBase):
    """The response names the next cursor (in the body or a header); it is sent back as a param."""

    type: Literal["cursor"]
    cursor_param: str = Field(
        default="cursor", description="Query parameter the cursor is sent in."
    )
    cursor_path: str | None = Field(
        default=None, description="Where the next cursor is in the body, e.g. meta.next_cursor."
    )
    cursor_header: str | None = Field(
        default=None, description="Response header with the next cursor."
    )
    size_param: str | None = Field(default=None, description="Query parameter for the page size.")
    page_size: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_cursor_source(self) -> CursorPaginationSpec:
        if (self.cursor_path is None) == (self.cursor_header is None):
            raise ValueError("set exactly one of cursor_path (in the body) or cursor_header")
        return self


class LinkHeaderPaginationSpec(_PaginationBase):
    """RFC 8288 ``Link: <https://...?page=2>; rel="next"``: follow the next link."""

    type: Literal["link_header"]
    rel: str = Field(default="next", description="The link relation to follow.")


class NextUrlPaginationSpec(_PaginationBase):
    """The body holds the URL of the next page, e.g. ``{"next": "https://...", "results": []}``."""

    type: Literal["next_url"]
    next_url_path: str = Field(default="next", description="Where the next URL is in the body.")


PaginationSpec = Annotated[
    OffsetPaginationSpec
    | PageNumberPaginationSpec
    | CursorPaginationSpec
    | LinkHeaderPaginationSpec
    | NextUrlPaginationSpec,
    Field(discriminator="type"),
]
