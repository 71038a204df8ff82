"""Listing pages are checked: an error object in a 200 page, and records against the schema."""

from __future__ import annotations

from typing import Any

import pytest

from connectory.errors import ResponseSchemaError, UpstreamError
from connectory.spec import ConnectorSpec, load_connector_text
from connectory.testing import create_test_api

from .support import EXAMPLES, connect, load_inline, load_testapi


async def test_an_error_object_in_a_later_page_stops_the_listing_naming_the_page() -> None:
    async with connect(load_inline()) as client:
        legacy = client.collection("legacy_contacts")
        first = await legacy.list_page(page_size=5)
        assert [r.id for r in first.records] == ["1", "2", "3", "4", "5"]
        seen: list[str] = []
        with pytest.raises(
            UpstreamError,
            match=r"legacy_contacts\.list: page 3: the API answered "
            r"200 but reported an error: page limit exceeded",
        ) as caught:
            async for record in legacy.list(page_size=5):
                seen.append(record.id)
    assert seen == [str(n) for n in range(1, 11)]  # the two good pages, then the error
    assert caught.value.status_code == 200


async def test_the_error_check_runs_on_the_page_body_before_records_are_extracted() -> None:
    # The error page has no "contacts" key: without the check the selector would fail first
    # with a less helpful message.
    async with connect(load_inline()) as client:
        legacy = client.collection("legacy_contacts")
        page = await legacy.list_page(page_size=10)
        page = await legacy.list_page(page_size=10, cursor=page.cursor)
        with pytest.raises(UpstreamError, match=r"page 3: .*narrow the listing"):
            await legacy.list_page(page_size=10, cursor=page.cursor)


def with_schema(spec: ConnectorSpec, **properties: Any) -> ConnectorSpec:
    contact = spec.schemas["Contact"]
    contact["properties"] = {**contact["properties"], **properties}
    return spec


@pytest.mark.parametrize("load", [load_testapi, load_inline], ids=["items", "mapped"])
async def test_records_that_do_not_fit_the_fields_schema_name_page_record_and_field(
    load: Any,
) -> None:
    # Record 9 of the seeded contacts has score 80; the schema says at most 75.
    spec = with_schema(load(), score={"type": "integer", "maximum": 75})
    async with connect(spec) as client:
        contacts = client.collection("contacts")
        first = await contacts.list_page(page_size=5)  # scores 0..40: fine
        assert len(first.records) == 5
        with pytest.raises(ResponseSchemaError) as caught:
            await contacts.list_page(page_size=5, cursor=first.cursor)
        message = str(caught.value)
        assert message.startswith(
            "contacts.list: the API's records do not fit the collection's fields_schema: "
            "page 2, record 4 (id 9): field 'score': 80 is greater than the maximum of 75"
        )
        assert "record 5 (id 10): field 'score': 90" in message
        assert caught.value.mismatches[0] == (
            "page 2, record 4 (id 9), field 'score'",
            "field 'score': 80 is greater than the maximum of 75",
        )
        with pytest.raises(ResponseSchemaError, match="page 2, record 4"):
            [r async for r in contacts.list(page_size=5)]


@pytest.mark.parametrize("load", [load_testapi, load_inline], ids=["items", "mapped"])
async def test_a_listing_asked_to_report_mismatches_hands_out_every_page_with_them(
    load: Any,
) -> None:
    spec = with_schema(load(), score={"type": "integer", "maximum": 75})
    async with connect(spec) as client:
        contacts = client.collection("contacts")
        pages = [p async for p in contacts.pages(page_size=5, schema_mismatches="report")]
        second = await contacts.list_page(
            page_size=5, cursor=pages[0].cursor, schema_mismatches="report"
        )
    assert [len(page.records) for page in pages] == [5, 5, 5, 5, 4]
    assert pages[0].schema_mismatches == []  # scores 0..40: fine
    # Records 9 and 10 (scores 80, 90) are handed out as they are, and reported.
    assert [r.id for r in pages[1].records] == ["6", "7", "8", "9", "10"]
    assert pages[1].schema_mismatches[:2] == [
        (
            "page 2, record 4 (id 9), field 'score'",
            "field 'score': 80 is greater than the maximum of 75",
        ),
        (
            "page 2, record 5 (id 10), field 'score'",
            "field 'score': 90 is greater than the maximum of 75",
        ),
    ]
    assert second.schema_mismatches == pages[1].schema_mismatches


async def test_a_listing_without_checks_when_response_validation_is_off() -> None:
    spec = with_schema(load_testapi(), score={"type": "string"})
    async with connect(spec, response_validation="off") as client:
        records = [r async for r in client.collection("contacts").list()]
    assert len(records) == 24


async def test_write_only_fields_are_not_expected_in_records() -> None:
    # A required write-only field (a password) never comes back: records still fit.
    spec = load_testapi()
    contact = spec.schemas["Contact"]
    contact["properties"]["password"] = {"type": "string", "writeOnly": True}
    contact["required"] = [*contact["required"], "password"]
    async with connect(spec) as client:
        page = await client.collection("contacts").list_page(page_size=3)
    assert [r.id for r in page.records] == ["1", "2", "3"]


async def test_nested_shared_schemas_are_checked() -> None:
    text = (EXAMPLES / "testapi-inline-requests.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "      score: {type: integer, minimum: 0}\n",
        "      score: {$ref: '#/schemas/Score'}\n",
    ).replace("schemas:\n", "schemas:\n  Score: {type: string}\n", 1)
    app = create_test_api(records=1)
    async with connect(load_connector_text(text), app) as client:
        with pytest.raises(
            ResponseSchemaError,
            match="record 1 \\(id 1\\): field 'score': 0 is not of type 'string'",
        ):
            await client.collection("contacts").list_page(page_size=2)
