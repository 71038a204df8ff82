"""The Test tab reads like Airbyte: records, each page's exchange, the inferred schema."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import TEST_API_KEY, Live, shoot

pytest.importorskip("playwright")
from playwright.sync_api import expect


def _document(live: Live, slug: str) -> dict[str, Any]:
    return {
        "name": f"Read {slug}",
        "slug": slug,
        "base_url": live.test_api,
        "auth": {
            "auth_type": "api_key",
            "credential_schema": {
                "api_key": {"label": "API key", "type": "password", "required": True}
            },
            "location": "header",
            "header_name": "X-API-Key",
        },
        "operations": [
            {
                "operation": "list_items",
                "method": "GET",
                "path": "/offset/items",
                "record_selector": "data",
                "pagination": {"type": "offset", "page_size": 10},
                # id is declared a string (the records have integers); email is not declared.
                "response_schema": {
                    "type": "object",
                    "properties": {
                        "data": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string"},
                                    "name": {"type": "string"},
                                },
                            },
                        }
                    },
                },
            }
        ],
    }


def _create(live: Live, document: dict[str, Any]) -> str:
    with live.client() as admin:
        created = admin.post("/connectors", json={"document": document})
        assert created.status_code == 201, created.text
        return str(created.json()["id"])


def test_send_shows_records_pages_and_adopts_the_inferred_schema(page_for: Any, live: Live) -> None:
    connector_id = _create(live, _document(live, "test-read"))
    page = page_for("platform")
    page.goto(f"{live.url}/ui/#/connectors/{connector_id}/test")
    page.get_by_label(re.compile(r"^API key")).fill(TEST_API_KEY)
    page.get_by_role("button", name="Send", exact=True).click()

    # Send previews the first page as the read sends it: the paginator's parameters included.
    result = page.get_by_role("region", name="Result")
    result.get_by_text("Request as sent (secrets redacted)").click()
    expect(result).to_contain_text(
        re.compile(r"GET http://127\.0\.0\.1:\d+/offset/items\?offset=0&limit=10")
    )
    records = page.get_by_role("region", name="Records", exact=True)
    expect(records.get_by_role("heading")).to_have_text(re.compile(r"^Records: 10"))
    expect(records.get_by_role("columnheader", name="email")).to_be_visible()
    expect(records.get_by_role("row")).to_have_count(11)
    assert TEST_API_KEY not in page.content()

    # The inferred schema against the declared one: id's type differs, email is only in the records.
    schema = page.get_by_role("region", name="Inferred schema")
    expect(schema.get_by_role("row", name=re.compile(r"^id ≠ type differs"))).to_contain_text(
        "integer"
    )
    expect(schema.get_by_role("row", name=re.compile(r"^email\b"))).to_contain_text(
        "only in the records"
    )
    page.set_viewport_size({"width": 1280, "height": 1700})  # the screen below the fold
    shoot(page, live, "test-read")
    page.set_viewport_size({"width": 1280, "height": 720})

    # Every page: each page's request and response on demand (the key redacted).
    page.get_by_label("Read every page (up to 20)").check()
    page.get_by_role("button", name="Send", exact=True).click()
    pages = page.get_by_role("region", name="Pages read")
    expect(pages.get_by_role("heading", name=re.compile(r"Pages read: [2-9]"))).to_be_visible()
    second = pages.locator("details").nth(1)
    second.get_by_text("Page 2: request and response").click()
    expect(second).to_contain_text("offset=10&limit=10")
    expect(second).to_contain_text("Response: HTTP 200")
    expect(second).to_contain_text('"data"')
    expect(records.get_by_role("heading")).to_have_text(re.compile(r"^Records: [2-9]\d"))
    assert TEST_API_KEY not in page.content()
    page.set_viewport_size({"width": 1280, "height": 2400})  # the screen below the fold
    shoot(page, live, "test-read-pages")
    page.set_viewport_size({"width": 1280, "height": 720})

    # One click adopts the inferred schema into the operation, saved with the draft.
    schema.get_by_role("button", name="Adopt the inferred schema").click()
    expect(page.locator("#status")).to_contain_text("response schema (saved)")
    expect(schema).to_contain_text("The records match the declared schema.")
    with live.client() as admin:
        document = admin.get(f"/connectors/{connector_id}/draft").json()["document"]
    items = document["operations"][0]["response_schema"]["properties"]["data"]["items"]
    assert items["properties"]["id"]["type"] == "integer"
    assert "email" in items["properties"] and "id" in items["required"]


def test_a_collection_list_reads_its_first_page_and_adopts_the_fields(
    page_for: Any, live: Live
) -> None:
    document = _document(live, "test-read-collection")
    document["collections"] = [
        {
            "key": "items",
            "name": "Items",
            "fields_schema": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "title": "Name"},
                    "score": {"type": "string"},
                },
            },
            "record": {"id": "{{ item.id }}", "name": "{{ item.name }}"},
            "methods": {"list": {"operation": "list_items"}},
        }
    ]
    connector_id = _create(live, document)
    page = page_for("platform")
    page.goto(f"{live.url}/ui/#/connectors/{connector_id}/test")
    page.get_by_label(re.compile(r"^API key")).fill(TEST_API_KEY)
    page.get_by_label("Operation", exact=True).select_option(label="list items")
    expect(page.get_by_label("Page size")).to_be_visible()
    page.get_by_role("button", name="Send", exact=True).click()
    result = page.get_by_role("region", name="Result")
    expect(result).to_contain_text("✓ 10 record(s)")
    # The page a published list would refuse is shown, with where it does not fit.
    expect(result).to_contain_text("do not fit the fields schema")
    expect(result).to_contain_text("field 'score'")
    records = page.get_by_role("region", name="Records", exact=True)
    expect(records.get_by_role("row")).to_have_count(11)
    requests = page.get_by_role("region", name="Requests sent")
    requests.get_by_text(re.compile(r"Request 1: GET")).click()
    expect(requests).to_contain_text("offset=0&limit=10")
    assert TEST_API_KEY not in page.content()
    schema = page.get_by_role("region", name="Inferred schema")
    expect(schema.get_by_role("row", name=re.compile(r"^score ≠ type differs"))).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 1600})  # the screen below the fold
    shoot(page, live, "test-read-collection")
    page.set_viewport_size({"width": 1280, "height": 720})
    schema.get_by_role("button", name="Adopt the inferred fields schema").click()
    expect(page.locator("#status")).to_contain_text("fields schema (saved)")
    with live.client() as admin:
        saved = admin.get(f"/connectors/{connector_id}/draft").json()["document"]
    fields = saved["collections"][0]["fields_schema"]["properties"]
    assert fields["score"]["type"] == "number"
    assert fields["name"] == {"type": "string", "title": "Name"}  # its own keywords kept
    assert "email" in fields
