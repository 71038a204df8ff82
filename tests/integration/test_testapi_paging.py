"""Every paging style of the test API read through the runtime: each record exactly once, the
right number of requests for each stop condition, and loops or foreign hosts refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connectory.errors import PaginationError
from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec

pytestmark = pytest.mark.integration

ALL_IDS = list(range(1, 251))
CREDENTIALS = {"api_key": "test-api-key"}
TENANT = {"tenant": "acme"}

SpecFactory = Callable[..., ConnectorSpec]


def client_for(spec: ConnectorSpec, base_url: str) -> ConnectorClient:
    return ConnectorClient(
        spec, credentials=CREDENTIALS, connector_parameters=TENANT, base_url=base_url
    )


async def read_ids(
    spec: ConnectorSpec, base_url: str, operation: str, max_pages: int | None = None
) -> list[int]:
    async with client_for(spec, base_url) as client:
        return [
            record["id"] async for record in client.iter_records(operation, {}, max_pages=max_pages)
        ]


def edit_operation(name: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
    """Return a document edit that updates the pagination block of operation *name*."""

    def change(document: dict[str, Any]) -> None:
        for operation in document["operations"]:
            if operation["operation"] == name:
                operation["pagination"].update(changes)
                for key in [key for key, value in changes.items() if value is None]:
                    del operation["pagination"][key]
                return
        raise AssertionError(f"no operation {name}")

    return change


# operation, path it reads, requests needed for 250 records in pages of 100
STYLES = [
    # X-Total-Count says 250: the third page completes the read, no empty page is fetched.
    ("list_offset_items", "/offset/items", 3),
    # No total: the read ends on the first empty page.
    ("list_offset_items_until_empty", "/offset/items", 4),
    # meta.total in the body.
    ("list_page_items", "/pages/items", 3),
    # The 50-record page is shorter than page_size.
    ("list_page_items_short_page", "/pages/items", 3),
    # next_cursor is null on the last page.
    ("list_cursor_items", "/cursor/items", 3),
    # No X-Next-Cursor header on the last page; records nested at result.items.
    ("list_cursor_header_items", "/cursor-header/items", 3),
    # No rel="next" on the last page; the body is a bare array.
    ("list_link_items", "/link/items", 3),
    # "next" is null on the last page.
    ("list_next_url_items", "/next-url/items", 3),
]


@pytest.mark.parametrize(("operation", "path", "requests"), STYLES, ids=[s[0] for s in STYLES])
async def test_every_style_reads_every_record_exactly_once(
    test_api: str,
    test_api_stats: Any,
    test_api_connector: SpecFactory,
    operation: str,
    path: str,
    requests: int,
) -> None:
    ids = await read_ids(test_api_connector(), test_api, operation)
    assert ids == ALL_IDS
    assert test_api_stats.requests(path) == requests


async def test_pages_carry_records_in_order_and_counts(
    test_api: str, test_api_connector: SpecFactory
) -> None:
    async with client_for(test_api_connector(), test_api) as client:
        pages = [page async for page in client.iter_pages("list_cursor_items", {})]
    assert [len(page.records) for page in pages] == [100, 100, 50]
    assert [page.records_so_far for page in pages] == [100, 200, 250]
    assert [page.number for page in pages] == [1, 2, 3]
    assert pages[0].schema_mismatches == []


@pytest.mark.parametrize(
    ("operation", "path"),
    [
        ("list_offset_items", "/offset/items"),
        ("list_cursor_items", "/cursor/items"),
        ("list_link_items", "/link/items"),
        ("list_next_url_items", "/next-url/items"),
    ],
)
async def test_caller_page_limit_stops_the_read(
    test_api: str, test_api_stats: Any, test_api_connector: SpecFactory, operation: str, path: str
) -> None:
    ids = await read_ids(test_api_connector(), test_api, operation, max_pages=2)
    assert ids == ALL_IDS[:200]
    assert test_api_stats.requests(path) == 2


async def test_spec_page_limit_and_the_lower_limit_wins(
    test_api: str, test_api_stats: Any, test_api_connector: SpecFactory
) -> None:
    spec = test_api_connector(edit_operation("list_page_items", max_pages=2))
    assert await read_ids(spec, test_api, "list_page_items") == ALL_IDS[:200]
    assert await read_ids(spec, test_api, "list_page_items", max_pages=1) == ALL_IDS[:100]
    assert test_api_stats.requests("/pages/items") == 3


async def test_total_header_stops_on_an_uneven_page_size(
    test_api: str, test_api_stats: Any, test_api_connector: SpecFactory
) -> None:
    spec = test_api_connector(edit_operation("list_offset_items", page_size=33))
    assert await read_ids(spec, test_api, "list_offset_items") == ALL_IDS
    assert test_api_stats.requests("/offset/items") == 8  # ceil(250 / 33)


async def test_page_size_capped_by_the_api_still_reads_everything(
    test_api: str, test_api_stats: Any, test_api_connector: SpecFactory
) -> None:
    # The API caps pages at 100; asking for 500 must not end the read after the first page.
    spec = test_api_connector(edit_operation("list_offset_items_until_empty", page_size=500))
    assert await read_ids(spec, test_api, "list_offset_items_until_empty") == ALL_IDS


async def _read_until_error(
    spec: ConnectorSpec, base_url: str, operation: str
) -> tuple[list[int], PaginationError]:
    ids: list[int] = []
    async with client_for(spec, base_url) as client:
        with pytest.raises(PaginationError) as caught:
            async for record in client.iter_records(operation, {}):
                ids.append(record["id"])
    return ids, caught.value


async def test_repeated_cursor_stops_with_an_error(
    test_api: str, test_api_stats: Any, test_api_connector: SpecFactory
) -> None:
    ids, error = await _read_until_error(test_api_connector(), test_api, "bad_repeat_cursor")
    assert "cursor" in str(error)
    # Cursors a, b, then a again: the third cursor is refused before it is sent.
    assert test_api_stats.requests("/bad/repeat-cursor/items") == 3
    assert ids == list(range(1, 31))


async def test_next_url_pointing_at_itself_stops_with_an_error(
    test_api: str, test_api_stats: Any, test_api_connector: SpecFactory
) -> None:
    _, error = await _read_until_error(test_api_connector(), test_api, "bad_next_url_loop")
    assert "already read" in str(error) or "loop" in str(error)
    assert test_api_stats.requests("/bad/next-url-loop/items") == 1


async def test_link_header_cycle_stops_with_an_error(
    test_api: str, test_api_stats: Any, test_api_connector: SpecFactory
) -> None:
    _, error = await _read_until_error(test_api_connector(), test_api, "bad_link_loop")
    assert "loop" in str(error)
    assert test_api_stats.requests("/bad/link-loop/items") <= 3


@pytest.mark.parametrize(
    ("operation", "path"),
    [
        ("bad_foreign_next", "/bad/foreign-next/items"),
        ("bad_foreign_link", "/bad/foreign-link/items"),
    ],
)
async def test_next_page_on_another_host_is_refused(
    test_api: str, test_api_stats: Any, test_api_connector: SpecFactory, operation: str, path: str
) -> None:
    ids, error = await _read_until_error(test_api_connector(), test_api, operation)
    assert "other.invalid" in str(error)
    assert ids == list(range(1, 11))
    assert test_api_stats.requests(path) == 1
