"""Collections on a connection through the REST API: every method, roles, errors, streaming."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from connectory.spec.loader import read_connector_data

from .crm_support import API_KEY, EXAMPLE, connection, contact_writes, upstream, upstream_app
from .support import World

__all__ = ["connection", "upstream", "upstream_app"]  # fixtures, used by name


async def test_collections_and_spec(api: httpx.AsyncClient, world: World, connection: str) -> None:
    viewer = world.auth("a_viewer")
    listed = await api.get(f"/connections/{connection}/collections", headers=viewer)
    assert listed.status_code == 200
    assert listed.json()[0]["key"] == "contacts"
    assert "create" in listed.json()[0]["methods"]
    spec = await api.get(f"/connections/{connection}/collections/contacts", headers=viewer)
    assert spec.status_code == 200, spec.text
    body = spec.json()
    assert "cf_tier" in body["fields_schema"]["properties"]
    assert "id" in body["read_only"]
    missing = await api.get(f"/connections/{connection}/collections/deals", headers=viewer)
    assert missing.status_code == 404


async def test_viewer_reads(api: httpx.AsyncClient, world: World, connection: str) -> None:
    viewer = world.auth("a_viewer")
    url = f"/connections/{connection}/collections/contacts"
    page = await api.get(f"{url}/records?page_size=5&filter.status=active", headers=viewer)
    assert page.status_code == 200, page.text
    first = page.json()
    assert [r["fields"]["status"] for r in first["records"]] == ["active"] * 5
    following = await api.get(
        f"{url}/records",
        params={"page_size": 5, "filter.status": "active", "cursor": first["cursor"]},
        headers=viewer,
    )
    assert following.status_code == 200, following.text
    assert {r["id"] for r in following.json()["records"]}.isdisjoint(
        {r["id"] for r in first["records"]}
    )
    one = await api.get(f"{url}/records/3", headers=viewer)
    assert one.json()["name"] == "Grace Hopper"
    assert API_KEY not in one.text
    matched = await api.post(
        f"{url}/match", json={"fields": {"email": "contact3@acme.example"}}, headers=viewer
    )
    assert matched.json()["record"]["id"] == "3"
    none = await api.post(f"{url}/match", json={"fields": {"email": "x@y.z"}}, headers=viewer)
    assert none.json() == {"record": None}
    ambiguous = await api.post(
        f"{url}/match", json={"fields": {"company": "Hooli"}}, headers=viewer
    )
    assert ambiguous.status_code == 409
    assert ambiguous.json()["code"] == "ambiguous_match"
    found = await api.get(f"{url}/records", params={"q": "lovelace"}, headers=viewer)
    assert found.json()["records"] and found.json()["cursor"] is None


async def test_all_streams_json_lines(
    api: httpx.AsyncClient, world: World, connection: str
) -> None:
    response = await api.get(
        f"/connections/{connection}/collections/contacts/records?all=true&page_size=7",
        headers=world.auth("a_viewer"),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    ids = [orjson.loads(line)["id"] for line in response.content.splitlines()]
    assert len(ids) >= 24 and len(ids) == len(set(ids))


async def test_admin_writes_viewer_may_not(
    api: httpx.AsyncClient, world: World, connection: str, upstream_app: Starlette
) -> None:
    url = f"/connections/{connection}/collections/contacts/records"
    before = contact_writes(upstream_app)
    denied = await api.post(
        url, json={"fields": {"email": "v@x.example"}}, headers=world.auth("a_viewer")
    )
    assert denied.status_code == 403
    assert contact_writes(upstream_app) == before
    admin = world.auth("a_admin")
    created = await api.post(url, json={"fields": {"email": "n@x.example"}}, headers=admin)
    assert created.status_code == 201, created.text
    record_id = created.json()["id"]
    updated = await api.patch(
        f"{url}/{record_id}", json={"fields": {"status": "inactive"}}, headers=admin
    )
    assert updated.json()["fields"]["status"] == "inactive"
    assert (
        await api.delete(f"{url}/{record_id}", headers=world.auth("a_viewer"))
    ).status_code == 403
    assert (await api.delete(f"{url}/{record_id}", headers=admin)).status_code == 204
    assert (await api.get(f"{url}/{record_id}", headers=admin)).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("post", "records", {"fields": {"id": 1, "email": "a@b.example"}}, 422, "invalid_record"),
        ("post", "records", {"fields": {"first_name": "x"}}, 422, "invalid_record"),
        ("post", "records", {"fields": {"email": 5}}, 422, "invalid_record"),
        ("post", "records", {"fields": "nope"}, 422, "invalid_request"),
        ("patch", "records/4242", {"fields": {"status": "active"}}, 404, "record_not_found"),
        ("get", "records?filter.score=3", None, 400, "not_supported"),
        ("get", "records?cursor=garbage", None, 422, "invalid_parameters"),
        ("get", "records?filter.updated_since=yesterday", None, 422, "invalid_parameters"),
        ("post", "match", {"fields": {"status": "active"}}, 400, "not_supported"),
    ],
)
async def test_bad_input(
    api: httpx.AsyncClient,
    world: World,
    connection: str,
    upstream_app: Starlette,
    method: str,
    path: str,
    body: Any,
    status: int,
    code: str,
) -> None:
    before = contact_writes(upstream_app)
    url = f"/connections/{connection}/collections/contacts/{path}"
    kwargs: dict[str, Any] = {"headers": world.auth("a_admin")}
    if body is not None:
        kwargs["json"] = body
    response = await getattr(api, method)(url, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    if method == "post" and path == "records":
        assert contact_writes(upstream_app) == before  # nothing was sent upstream
        if code == "invalid_record":
            assert response.json()["issues"]


async def test_viewers_run_only_safe_operations(
    api: httpx.AsyncClient, world: World, connection: str
) -> None:
    viewer = world.auth("a_viewer")
    url = f"/connections/{connection}/operations"
    post = await api.post(
        f"{url}/create_contact", json={"params": {"email": "v@x.example"}}, headers=viewer
    )
    assert post.status_code == 403
    assert "safe" in post.json()["detail"]
    stream = await api.post(f"{url}/create_contact?all_pages=true", headers=viewer)
    assert stream.status_code == 403
    assert (
        await api.post(f"{url}/get_contact", json={"params": {"id": 3}}, headers=viewer)
    ).status_code == 200
    admin = await api.post(
        f"{url}/create_contact",
        json={"params": {"email": "adm@x.example"}},
        headers=world.auth("a_admin"),
    )
    assert admin.status_code == 200


async def test_other_enterprises_see_nothing(
    api: httpx.AsyncClient, world: World, connection: str
) -> None:
    response = await api.get(
        f"/connections/{connection}/collections/contacts/records", headers=world.auth("b_admin")
    )
    assert response.status_code == 404


async def test_remote_python_api_mirrors_the_local_one(
    server: Any, world: World, connection: str
) -> None:
    from connectory.errors import (
        AmbiguousMatch,
        NotSupported,
        PermissionDenied,
        RecordInvalid,
        RecordNotFound,
    )
    from connectory.remote import Server as RemoteServer

    transport = httpx.ASGITransport(app=server.app)
    async with RemoteServer(
        "http://server", world.tokens["a_admin"], transport=transport
    ) as remote:
        contacts = remote.connection(connection).collection("contacts")
        page = await contacts.list_page(page_size=4)
        assert [r.id for r in page.records] == ["1", "2", "3", "4"]
        rest = await contacts.list_page(page_size=4, cursor=page.cursor)
        assert [r.id for r in rest.records] == ["5", "6", "7", "8"]
        ids = [r.id async for r in contacts.list(filters={"status": "inactive"})]
        assert len(ids) >= 12
        assert (await contacts.find_by_id(3)).name == "Grace Hopper"
        assert (await contacts.match({"email": "contact3@acme.example"})) is not None
        with pytest.raises(AmbiguousMatch):
            await contacts.match({"company": "Hooli"})
        assert await contacts.search("turing")
        created = await contacts.create({"email": "remote@x.example"})
        assert (await contacts.update(created.id, {"score": 5})).fields["score"] == 5
        await contacts.delete(created.id)
        with pytest.raises(RecordNotFound):
            await contacts.find_by_id(created.id)
        with pytest.raises(RecordInvalid) as caught:
            await contacts.create({"id": 3})
        assert {name for name, _ in caught.value.issues} == {"id", "email"}
        with pytest.raises(NotSupported):
            await contacts.list_page(filters={"score": 1})
    async with RemoteServer(
        "http://server", world.tokens["a_viewer"], transport=transport
    ) as remote:
        with pytest.raises(PermissionDenied):
            await (
                remote.connection(connection)
                .collection("contacts")
                .create({"email": "v@x.example"})
            )


async def test_draft_collection_run_shows_records_and_calls(
    api: httpx.AsyncClient, world: World, upstream: str
) -> None:
    document: dict[str, Any] = read_connector_data(EXAMPLE)
    document["base_url"] = upstream
    document["slug"] = "draft-collections"
    auth = world.auth("a_admin")
    created = await api.post("/connectors", json={"document": document}, headers=auth)
    assert created.status_code == 201, created.text
    url = f"/connectors/{created.json()['id']}/draft/collections/run"
    secret = "not-the-key-3141"
    base = {"collection": "contacts", "credentials": {"api_key": API_KEY}}
    listed = await api.post(url, json={**base, "method": "list", "page_size": 2}, headers=auth)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert [r["id"] for r in body["records"]] == ["1", "2"] and body["cursor"]
    assert "raw" in body["records"][0]
    assert any(call["url"].endswith("/crm/custom-fields") for call in body["calls"])
    assert any(
        "/crm/contacts" in call["url"] and call["status_code"] == 200 for call in body["calls"]
    )
    described = await api.post(url, json={**base, "method": "describe"}, headers=auth)
    assert "cf_tier" in described.json()["spec"]["fields_schema"]["properties"]
    invalid = await api.post(
        url, json={**base, "method": "create", "fields": {"id": 1}}, headers=auth
    )
    assert invalid.json()["error_code"] == "invalid_record"
    assert not any(call["method"] == "POST" for call in invalid.json()["calls"])
    refused = await api.post(
        url,
        json={
            "collection": "contacts",
            "method": "find_by_id",
            "id": "1",
            "credentials": {"api_key": secret},
        },
        headers=auth,
    )
    assert refused.json()["error_code"] == "upstream_auth_failed"
    assert secret not in refused.text
    viewer = await api.post(url, json={**base, "method": "list"}, headers=world.auth("a_viewer"))
    assert viewer.status_code in (403, 404)
