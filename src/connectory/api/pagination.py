"""Paginated lists: every list endpoint takes ``limit``/``offset`` and returns a page."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel

T = TypeVar("T")


class PageParams(BaseModel):
    """Where a page starts and how long it is (the length is capped by the server)."""

    limit: int
    offset: int


def _page_params(
    request: Request,
    limit: Annotated[int | None, Query(ge=1, description="Items per page (capped).")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")] = 0,
) -> PageParams:
    settings = request.app.state.settings
    size = settings.default_page_size if limit is None else limit
    return PageParams(limit=min(size, settings.max_page_size), offset=offset)


Paging = Annotated[PageParams, Depends(_page_params)]


class Page(BaseModel, Generic[T]):
    """A page of a list."""

    items: list[T]
    total: int
    limit: int
    offset: int
