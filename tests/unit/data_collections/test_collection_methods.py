"""Every collection method, every implementation kind, over the in-process test API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectory.collections import Collection, Record
from connectory.errors import (
    AmbiguousMatch,
    CollectionNotFound,
    InputError,
    NotSupported,
    RecordInvalid,
    RecordNotFound,
    UpstreamError,
)
from connectory.testing import create_test_api

from .support import connect, contact_requests, load_inline, load_javascript, load_testapi

SPECS = {"operation": load_testapi, "request": load_inline, "javascript": load_javascript}


@pytest.fixture(params=sorted(SPECS), name="kind")
def _kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_list_pages_with_a_cursor_that_resumes_exactly(kind: str) -> None:
    async with connect(SPECS[kind]()) as client:
        contacts = client.collection("contacts")
        first = await contacts.list_page(page_size=5)
        assert [r.id for r in first.records] == ["1", "2", "3", "4", "5"]
        assert first.cursor is not None
        second = await contacts.list_page(page_size=5, cursor=first.cursor)
        assert [r.id for r in second.records] == ["6", "7", "8", "9", "10"]
        ids = [r.id async for r in contacts.list(page_size=7)]
        assert ids == [str(n) for n in range(1, 25)]


async def test_cursor_resumes_in_another_client_of_the_same_connection(kind: str) -> None:
    app = create_test_api(records=1)
    async with connect(SPECS[kind](), app) as client:
        page = await client.collection("contacts").list_page(page_size=10)
    async with connect(SPECS[kind](), app) as other:
        rest = [
            r.id async for r in other.collection("contacts").list(cursor=page.cursor, page_size=10)
        ]
    assert rest == [str(n) for n in range(11, 25)]


async def test_a_cursor_is_bound_to_its_connection_collection_and_filters(kind: str) -> None:
    app = create_test_api(records=1)
    async with connect(SPECS[kind](), app) as client:
        contacts = client.collection("contacts")
        page = await contacts.list_page(page_size=3)
        with pytest.raises(InputError, match="another listing"):
            await contacts.list_page(page_size=3, cursor=page.cursor, filters={"status": "active"})
        with pytest.raises(InputError, match="not valid"):
            await contacts.list_page(page_size=3, cursor=(page.cursor or "")[:-4] + "abcd")
        with pytest.raises(InputError, match="not valid"):
            await contacts.list_page(cursor="!!not base64!!")
    async with connect(SPECS[kind](), app, connection_key="another-connection") as other:
        with pytest.raises(InputError, match="another listing"):
            await other.collection("contacts").list_page(page_size=3, cursor=page.cursor)


async def test_filters_are_applied_by_the_api(kind: str) -> None:
    async with connect(SPECS[kind]()) as client:
        active = [r async for r in client.collection("contacts").list(filters={"status": "active"})]
        assert len(active) == 12
        assert {r.fields["status"] for r in active} == {"active"}


async def test_an_undeclared_filter_is_not_supported_and_sends_nothing(kind: str) -> None:
    app = create_test_api(records=1)
    async with connect(SPECS[kind](), app) as client:
        with pytest.raises(NotSupported, match="cannot filter by 'score'"):
            await client.collection("contacts").list_page(filters={"score": 10})
    assert contact_requests(app) == 0


async def test_updated_since_finds_what_changed(kind: str) -> None:
    async with connect(SPECS[kind]()) as client:
        contacts = client.collection("contacts")
        before = datetime.now(UTC) - timedelta(seconds=1)
        changed = await contacts.update("4", {"score": 99})
        found = [r async for r in contacts.list(filters={"updated_since": before})]
        assert [r.id for r in found] == ["4"]
        assert found[0].updated_at == changed.updated_at
        assert found[0].updated_at is not None and found[0].updated_at.endswith("Z")
        with pytest.raises(InputError, match="ISO 8601"):
            await contacts.list_page(filters={"updated_since": "yesterday"})


async def test_record_shape(kind: str) -> None:
    async with connect(SPECS[kind]()) as client:
        record = await client.collection("contacts").find_by_id(3)
    assert isinstance(record, Record)
    assert record.id == "3"
    assert record.name == "Grace Hopper"
    assert record.created_at == "2024-03-03T00:00:00Z"
    assert record.updated_at == "2024-03-03T02:00:00Z"
    assert record.fields["email"] == "contact3@acme.example"
    assert set(record.to_dict()) == {"id", "name", "fields", "created_at", "updated_at"}
    assert "raw" in record.to_dict(include_raw=True)


async def test_find_by_id_of_a_missing_record(kind: str) -> None:
    async with connect(SPECS[kind]()) as client:
        with pytest.raises(RecordNotFound, match="no record with id '999'"):
            await client.collection("contacts").find_by_id("999")


async def test_match_found_not_found_and_ambiguous(kind: str) -> None:
    async with connect(SPECS[kind]()) as client:
        contacts = client.collection("contacts")
        found = await contacts.match({"email": "contact3@acme.example"})
        assert found is not None and found.id == "3"
        assert await contacts.match({"email": "nobody@acme.example"}) is None
        await contacts.create({"email": "twin@x.example", "first_name": "One"})
        await contacts.create({"email": "twin@x.example", "first_name": "Two"})
        with pytest.raises(AmbiguousMatch, match="2 records match") as caught:
            await contacts.match({"email": "twin@x.example"})
        assert len(caught.value.ids) == 2
        with pytest.raises(NotSupported, match="cannot match by 'status'"):
            await contacts.match({"status": "active"})


async def test_search_is_done_by_the_api(kind: str) -> None:
    async with connect(SPECS[kind]()) as client:
        found = await client.collection("contacts").search("lovelace")
    assert found and all("Lovelace" in (r.name or "") for r in found)


async def test_create_update_delete(kind: str) -> None:
    async with connect(SPECS[kind]()) as client:
        contacts = client.collection("contacts")
        created = await contacts.create({"email": "new@x.example", "first_name": "New"})
        assert created.fields["email"] == "new@x.example"
        updated = await contacts.update(created.id, {"status": "inactive"})
        assert updated.fields["status"] == "inactive"
        assert updated.fields["first_name"] == "New"  # partial: the rest is kept
        await contacts.delete(created.id)
        with pytest.raises(RecordNotFound):
            await contacts.find_by_id(created.id)
        with pytest.raises(RecordNotFound):
            await contacts.delete(created.id)  # soft-deleted: gone for the API


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"id": 7, "email": "a@b.example"}, "field 'id' is read-only"),
        ({"first_name": "No email"}, "field 'email' is required"),
        ({"email": 42}, "field 'email': 42 is not of type 'string'"),
        ({"email": "a@b.example", "status": "gone"}, "field 'status'"),
        ({"email": "a@b.example", "score": -1}, "field 'score'"),
        ("not an object", "fields must be an object"),
    ],
)
async def test_invalid_creates_send_nothing(kind: str, fields: object, message: str) -> None:
    app = create_test_api(records=1)
    async with connect(SPECS[kind](), app) as client:
        with pytest.raises(RecordInvalid, match=message) as caught:
            await client.collection("contacts").create(fields)  # type: ignore[arg-type]
    assert caught.value.issues
    assert contact_requests(app) == 0


async def test_invalid_update_sends_nothing_and_reports_every_field(kind: str) -> None:
    app = create_test_api(records=1)
    async with connect(SPECS[kind](), app) as client:
        with pytest.raises(RecordInvalid) as caught:
            await client.collection("contacts").update("3", {"created_at": "x", "score": "high"})
    assert {name for name, _ in caught.value.issues} == {"created_at", "score"}
    assert contact_requests(app) == 0


async def test_updating_a_missing_record(kind: str) -> None:
    async with connect(SPECS[kind]()) as client:
        with pytest.raises(RecordNotFound, match="'4242'"):
            await client.collection("contacts").update("4242", {"status": "active"})


async def test_custom_fields_per_account(kind: str) -> None:
    async with connect(SPECS[kind]()) as client:
        acme = await client.collection("contacts").describe()
    assert "cf_tier" in acme["fields_schema"]["properties"]
    assert acme["custom_fields"] == ["cf_tier"]
    options = (
        {"connector_parameters": {"tenant": "globex"}}
        if kind == "operation"
        else {"config": {"tenant": "globex"}}
    )
    async with connect(SPECS[kind](), **options) as client:
        globex = await client.collection("contacts").describe()
    assert globex["custom_fields"] == ["cf_region", "cf_seats"]
    assert "cf_tier" not in globex["fields_schema"]["properties"]


async def test_unsupported_method_and_unknown_collection(kind: str) -> None:
    async with connect(SPECS[kind]()) as client:
        with pytest.raises(CollectionNotFound, match="no collection 'deals'"):
            client.collection("deals")
        if kind == "request":
            legacy = client.collection("legacy_contacts")
            with pytest.raises(NotSupported, match="does not support method 'find_by_id'"):
                await legacy.find_by_id("1")


async def test_page_size_is_refused_when_the_method_does_not_read_it() -> None:
    spec = load_inline()
    list_method = spec.collection("contacts").methods.list  # type: ignore[union-attr]
    assert list_method is not None and list_method.request is not None
    list_method.request.query.pop("limit")
    async with connect(spec) as client:
        with pytest.raises(NotSupported, match="does not take a page size"):
            await client.collection("contacts").list_page(page_size=5)


async def test_a_200_with_an_error_object_is_an_error() -> None:
    app = create_test_api(records=1)
    async with connect(load_inline(), app) as client:
        legacy: Collection = client.collection("legacy_contacts")
        created = await legacy.create({"email": "ok@x.example"})
        assert created.fields["email"] == "ok@x.example"
        with pytest.raises(UpstreamError, match="answered 200 but reported an error: email is not"):
            # Valid for our schema, refused by the API: the error object is the only signal.
            await legacy.create({"email": "no-at-sign"})


async def test_custom_field_values_are_written_and_read() -> None:
    # The inline example sends the fields as the body; custom fields travel with them.
    async with connect(load_inline()) as client:
        contacts = client.collection("contacts")
        created = await contacts.create({"email": "tier@x.example", "cf_tier": "gold"})
        assert (await contacts.find_by_id(created.id)).fields["cf_tier"] == "gold"
        with pytest.raises(RecordInvalid, match="cf_tier"):
            await contacts.create({"email": "tier@x.example", "cf_tier": 3})
