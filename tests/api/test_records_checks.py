"""Listing through the REST API: an error object in a 200 page, records that do not fit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectory.settings import Settings
from connectory.spec.loader import read_connector_data
from connectory.testing import create_test_api, serve

from .support import World, insert_published_connector

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "testapi-inline-requests.yaml"


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve(create_test_api(records=1)) as url:
        yield url


async def connect(
    api: httpx.AsyncClient, world: World, settings: Settings, document: dict[str, Any]
) -> str:
    connector_id = await insert_published_connector(settings.database_url, document)
    created = await api.post(
        "/connections",
        json={
            "connector_id": connector_id,
            "name": "CRM",
            "credentials": {"api_key": "test-api-key"},
        },
        headers=world.auth("a_admin"),
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def example(upstream: str) -> dict[str, Any]:
    document: dict[str, Any] = read_connector_data(EXAMPLE)
    document["base_url"] = upstream
    return document


async def test_an_error_object_in_a_200_page_is_a_502_naming_the_page(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: str
) -> None:
    connection = await connect(api, world, settings, example(upstream))
    url = f"/connections/{connection}/collections/legacy_contacts/records"
    viewer = world.auth("a_viewer")
    first = await api.get(url, params={"page_size": 5}, headers=viewer)
    assert first.status_code == 200, first.text
    second = await api.get(
        url, params={"page_size": 5, "cursor": first.json()["cursor"]}, headers=viewer
    )
    assert second.status_code == 200, second.text
    third = await api.get(
        url, params={"page_size": 5, "cursor": second.json()["cursor"]}, headers=viewer
    )
    assert third.status_code == 502
    assert third.json()["code"] == "upstream_error"
    assert (
        "legacy_contacts.list: page 3: the API answered 200 but reported an error: page limit"
        in third.json()["detail"]
    )


async def test_records_that_do_not_fit_the_schema_are_a_502_naming_page_record_and_field(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: str
) -> None:
    document = example(upstream)
    document["schemas"]["Contact"]["properties"]["score"] = {"type": "integer", "maximum": 75}
    connection = await connect(api, world, settings, document)
    url = f"/connections/{connection}/collections/contacts/records"
    viewer = world.auth("a_viewer")
    first = await api.get(url, params={"page_size": 5}, headers=viewer)
    assert first.status_code == 200, first.text
    second = await api.get(
        url, params={"page_size": 5, "cursor": first.json()["cursor"]}, headers=viewer
    )
    assert second.status_code == 502, second.text
    body = second.json()
    assert body["code"] == "upstream_response_unusable"
    assert (
        "page 2, record 4 (id 9): field 'score': 80 is greater than the maximum of 75"
        in body["detail"]
    )
