"""The runtime against real third-party CRUD backends: json-server 0.17 and 1.0 beta.

Both serve the same 57 records (tests/integration/data/json-server-db.json); every paging
style each server offers must yield every record exactly once.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec

pytestmark = [pytest.mark.integration, pytest.mark.peers]

DATA = Path(__file__).resolve().parent / "data"
ALL_IDS = [str(number) for number in range(1, 58)]


def load(name: str) -> ConnectorSpec:
    return ConnectorSpec.model_validate(yaml.safe_load((DATA / name).read_text(encoding="utf-8")))


async def read_ids(spec: ConnectorSpec, base_url: str, operation: str) -> tuple[list[str], int]:
    """Return the ids read and the number of pages it took."""
    ids: list[str] = []
    pages = 0
    async with ConnectorClient(spec, base_url=base_url) as client:
        async for page in client.iter_pages(operation, {}):
            pages += 1
            assert page.schema_mismatches == []
            ids.extend(record["id"] for record in page.records)
    return ids, pages


@pytest.mark.parametrize(
    ("operation", "pages"),
    [
        ("list_items_by_page", 6),  # X-Total-Count: 57 is reached on page 6
        ("list_items_until_empty", 7),  # page 7 is [] and ends the read
        ("list_items_by_offset", 6),  # _start/_limit with X-Total-Count
        ("list_items_by_link", 6),  # page 6 has no rel="next"
    ],
)
async def test_json_server_017_reads_every_record_once(
    json_server_017: str, operation: str, pages: int
) -> None:
    ids, read_pages = await read_ids(load("json-server-017.yaml"), json_server_017, operation)
    assert ids == ALL_IDS
    assert read_pages == pages


@pytest.mark.parametrize(
    ("operation", "pages"),
    [
        ("list_items_by_next", 6),  # the envelope's "next" is null on page 6
        ("list_items_by_page", 6),  # the envelope's "items" total is reached on page 6
    ],
)
async def test_json_server_1_reads_every_record_once(
    json_server_1: str, operation: str, pages: int
) -> None:
    ids, read_pages = await read_ids(load("json-server-1.yaml"), json_server_1, operation)
    assert ids == ALL_IDS
    assert read_pages == pages


@pytest.mark.parametrize(
    ("fixture", "connector"),
    [("json_server_017", "json-server-017.yaml"), ("json_server_1", "json-server-1.yaml")],
)
async def test_single_record_by_string_id(
    request: pytest.FixtureRequest, fixture: str, connector: str
) -> None:
    base_url = request.getfixturevalue(fixture)
    async with ConnectorClient(load(connector), base_url=base_url) as client:
        result = await client.call("get_item", {"id": "42"})
    assert result.status_code == 200
    assert result.body["id"] == "42" and result.body["name"] == "Item 0042"
    assert result.schema_mismatches == []
