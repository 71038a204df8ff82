"""Paging strategies, one small class per style, each configured by the spec of the same name."""

from __future__ import annotations

from connectory.runtime.pagination.base import NextPage, PagePosition, PageView, Paginator
from connectory.runtime.pagination.cursor import CursorPaginator
from connectory.runtime.pagination.links import (
    LinkHeaderPaginator,
    NextUrlPaginator,
    origin_of,
    parse_link_header,
)
from connectory.runtime.pagination.sized import OffsetPaginator, PageNumberPaginator
from connectory.spec.pagination import (
    CursorPaginationSpec,
    LinkHeaderPaginationSpec,
    NextUrlPaginationSpec,
    OffsetPaginationSpec,
    PageNumberPaginationSpec,
    PaginationSpec,
)


def create_paginator(
    spec: PaginationSpec, base_url: str, max_pages: int | None = None
) -> Paginator:
    """Return a fresh paginator (one per read) for *spec*.

    Args:
        spec: The operation's pagination block.
        base_url: The connector's base URL; URL-following styles stay on its origin.
        max_pages: The caller's page limit, combined with the spec's (the lower wins).
    """
    if isinstance(spec, OffsetPaginationSpec):
        return OffsetPaginator(spec, max_pages)
    if isinstance(spec, PageNumberPaginationSpec):
        return PageNumberPaginator(spec, max_pages)
    if isinstance(spec, CursorPaginationSpec):
        return CursorPaginator(spec, max_pages)
    if isinstance(spec, LinkHeaderPaginationSpec):
        return LinkHeaderPaginator(spec, origin_of(base_url), max_pages)
    if isinstance(spec, NextUrlPaginationSpec):
        return NextUrlPaginator(spec, origin_of(base_url), max_pages)
    raise TypeError(f"unsupported pagination spec {type(spec).__name__}")  # pragma: no cover


__all__ = [
    "CursorPaginator",
    "LinkHeaderPaginator",
    "NextPage",
    "NextUrlPaginator",
    "OffsetPaginator",
    "PageNumberPaginator",
    "PagePosition",
    "PageView",
    "Paginator",
    "create_paginator",
    "parse_link_header",
]
