"""A listing's pages: what one ``list`` read works with, and the pages it hands out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from connectory.collections.records import Record

if TYPE_CHECKING:
    from connectory.collections.kinds import MethodRunner
    from connectory.collections.page_check import PageCheck
    from connectory.resilience import Observer
    from connectory.runtime.pagination import PagePosition
    from connectory.runtime.results import Page

#: What a listing does with records that do not fit the fields schema: raise
#: ``ResponseSchemaError``, or hand the page out with them and report where (a builder's test).
Mismatches = Literal["raise", "report"]


@dataclass(slots=True)
class RecordPage:
    """One page of a listing.

    Attributes:
        records: The records of the page.
        cursor: Pass it to the next ``list_page`` to get the following page; None at the end.
        schema_mismatches: ``(where, message)`` of each field that does not fit the fields
            schema; only a listing asked to report them (``schema_mismatches="report"``) has any.
    """

    records: list[Record]
    cursor: str | None
    schema_mismatches: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self, *, include_raw: bool = False) -> dict[str, Any]:
        """``{"records": [...], "cursor": ...}``, the REST API's shape."""
        return {
            "records": [record.to_dict(include_raw=include_raw) for record in self.records],
            "cursor": self.cursor,
        }


@dataclass(slots=True)
class Listing:
    """One listing, worked out before its first request (see ``Collection.pages``).

    Attributes:
        runner: The ``list`` method's runner.
        variables: The mappings' variables (parameters, filters, page size).
        resume: Where a cursor said to go on from.
        bound_to: The listing's identity, which its cursors carry.
        make: Turns one raw item into a record.
        check: Checks each page against the fields schema (None: not checked).
        observer: Hears the read's waits (a paced read).
    """

    runner: MethodRunner
    variables: dict[str, Any]
    resume: PagePosition | None
    bound_to: str
    make: Callable[[Any], Record]
    check: PageCheck | None
    observer: Observer | None = None

    def pages(self) -> AsyncIterator[Page]:
        """The listing's raw pages, read as they are iterated."""
        return self.runner.pages(self.variables, self.resume, self.observer)

    def records(self, page: Page) -> list[Record]:
        """The page's records, checked against the fields schema."""
        make = self.make
        if self.check is not None and not self.check.items_are_fields:
            records = [make(item) for item in page.records]
            self.check.check_records(page.number, records)
            return records
        if self.check is not None:
            self.check.check_items(page.number, page.records, make)
        return [make(item) for item in page.records]
