"""What every paginator shares: the page it looks at, what it asks for next, and stop rules.

A paginator is created per read and keeps that read's state (offset, cursors seen). After each
page the client hands it a :class:`PageView`; it answers with a :class:`NextPage` or None (stop).
Stop rules common to all styles live in :class:`Paginator.should_stop`; each style adds only how
to find the next page and how to detect that it is going round in circles.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectory.errors import PaginationError
from connectory.runtime.records import Selector, select
from connectory.spec.pagination import PaginationSpec


@dataclass(slots=True)
class PageView:
    """What a paginator may look at of the page just read.

    Attributes:
        number: 1-based page number within this read.
        body: The decoded body.
        headers: Response headers (case-insensitive).
        url: The URL that answered.
        record_count: Records on this page.
        records_so_far: Records read in this read, this page included.
        content_hash: Hash of the raw body, to spot an API that ignores the paging parameter.
    """

    number: int
    body: Any
    headers: Mapping[str, str]
    url: str
    record_count: int
    records_so_far: int
    content_hash: int


@dataclass(slots=True)
class NextPage:
    """The next request: query parameters to set on the original request, or a whole URL."""

    params: dict[str, str] = field(default_factory=dict)
    url: str | None = None


@dataclass(slots=True)
class PagePosition:
    """Where a read stands after a page: enough to resume it exactly, in another call or process.

    Attributes:
        next: The request for the following page.
        number: Pages read so far (the page limits count on from here).
        records_so_far: Records read so far (stop-at-total rules count on from here).
        state: The paginator's own state (offset, page number), see :meth:`Paginator.state`.
    """

    next: NextPage
    number: int
    records_so_far: int
    state: dict[str, Any] = field(default_factory=dict)


class Paginator(ABC):
    """Base of the paging strategies; subclasses implement :meth:`advance`."""

    def __init__(self, spec: PaginationSpec, max_pages: int | None = None) -> None:
        self._spec = spec
        limits = [n for n in (spec.max_pages, max_pages) if n is not None]
        self._max_pages = min(limits) if limits else None
        self._total_selector: Selector | None = (
            Selector.parse(spec.total_path) if spec.total_path else None
        )
        self._previous_hash: int | None = None

    def first_params(self) -> dict[str, str]:
        """Query parameters for the first request."""
        return {}

    def state(self) -> dict[str, Any]:
        """JSON-safe state a resumed read needs (empty when the next request says it all)."""
        return {}

    def restore(self, state: Mapping[str, Any]) -> None:  # noqa: B027 - optional hook
        """Take back the state :meth:`state` returned, to resume a read where it stopped."""

    def next_page(self, page: PageView) -> NextPage | None:
        """Return the next request, or None when the read is complete.

        Raises:
            PaginationError: the API is going round in circles.
        """
        if self.should_stop(page):
            return None
        if page.content_hash == self._previous_hash:
            raise PaginationError(
                f"page {page.number} is identical to page {page.number - 1}: the API seems to "
                "ignore the paging parameter; check the pagination settings of the operation"
            )
        self._previous_hash = page.content_hash
        return self.advance(page)

    def should_stop(self, page: PageView) -> bool:
        """Stop rules every style shares: empty page, page limit, total reached."""
        if page.record_count == 0:
            return True
        if self._max_pages is not None and page.number >= self._max_pages:
            return True
        total = self._total(page)
        return total is not None and page.records_so_far >= total

    @abstractmethod
    def advance(self, page: PageView) -> NextPage | None:
        """Return the request for the page after *page*, or None when there is none."""

    def _total(self, page: PageView) -> int | None:
        raw: Any = None
        if self._total_selector is not None:
            raw = select(page.body, self._total_selector)
        elif self._spec.total_header:
            raw = page.headers.get(self._spec.total_header)
        if raw is None or isinstance(raw, bool):
            return None
        try:
            return int(raw)
        except (TypeError, ValueError):
            return None


def shorten(value: str, limit: int = 60) -> str:
    """Return *value* cut to *limit* characters for an error message."""
    return value if len(value) <= limit else value[: limit - 3] + "..."
