"""A collection implemented in JavaScript, through the REST API: stored with its code, checked
on save, read and written on a connection, tried in the Data tab, failures with file and line.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from connectory.testing import create_test_api, serve

from .connector_support import EXAMPLES, example_files, example_yaml, publish
from .support import World

EXAMPLE = EXAMPLES / "testapi-javascript-collections"
API_KEY = "test-api-key"


@pytest.fixture(scope="module")
def upstream_app() -> Starlette:
    return create_test_api(records=1)


@pytest.fixture(scope="module")
def upstream(upstream_app: Starlette) -> Iterator[str]:
    with serve(upstream_app) as url:
        yield url


async def create_connector(
    api: httpx.AsyncClient, world: World, base_url: str, files: dict[str, str] | None = None
) -> str:
    body = {"yaml": example_yaml(EXAMPLE, base_url), "files": files or example_files(EXAMPLE)}
    response = await api.post("/connectors", json=body, headers=world.auth("a_admin"))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def connect(api: httpx.AsyncClient, world: World, connector_id: str) -> str:
    await publish(api, world, "a_admin", connector_id)
    created = await api.post(
        "/connections",
        json={"connector_id": connector_id, "name": "CRM", "credentials": {"api_key": API_KEY}},
        headers=world.auth("a_admin"),
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_every_method_on_a_connection(
    api: httpx.AsyncClient, world: World, upstream: str
) -> None:
    connection = await connect(api, world, await create_connector(api, world, upstream))
    url = f"/connections/{connection}/collections/contacts"
    viewer, admin = world.auth("a_viewer"), world.auth("a_admin")

    spec = (await api.get(url, headers=viewer)).json()
    assert spec["methods"]["list"]["kind"] == "javascript"
    assert spec["methods"]["list"]["page_size"] is True
    assert "cf_tier" in spec["fields_schema"]["properties"]

    first = await api.get(f"{url}/records?page_size=5&filter.status=active", headers=viewer)
    assert first.status_code == 200, first.text
    assert [r["fields"]["status"] for r in first.json()["records"]] == ["active"] * 5
    following = await api.get(
        f"{url}/records",
        params={"page_size": 5, "filter.status": "active", "cursor": first.json()["cursor"]},
        headers=viewer,
    )
    assert following.status_code == 200, following.text
    assert {r["id"] for r in following.json()["records"]}.isdisjoint(
        {r["id"] for r in first.json()["records"]}
    )
    streamed = await api.get(f"{url}/records?all=true&page_size=7", headers=viewer)
    ids = [orjson.loads(line)["id"] for line in streamed.content.splitlines()]
    assert len(ids) >= 24 and len(ids) == len(set(ids))

    one = await api.get(f"{url}/records/3", headers=viewer)
    assert one.json()["name"] == "Grace Hopper"
    assert API_KEY not in one.text
    missing = await api.get(f"{url}/records/999", headers=viewer)
    assert missing.status_code == 404 and missing.json()["code"] == "record_not_found"
    matched = await api.post(
        f"{url}/match", json={"fields": {"email": "contact3@acme.example"}}, headers=viewer
    )
    assert matched.json()["record"]["id"] == "3"
    found = await api.get(f"{url}/records", params={"q": "lovelace"}, headers=viewer)
    assert found.json()["records"] and found.json()["cursor"] is None

    denied = await api.post(f"{url}/records", json={"fields": {"email": "v@x.ex"}}, headers=viewer)
    assert denied.status_code == 403
    invalid = await api.post(f"{url}/records", json={"fields": {"email": 5}}, headers=admin)
    assert invalid.status_code == 422 and invalid.json()["code"] == "invalid_record"
    fields = {"email": "js@x.example", "cf_tier": "gold"}
    created = await api.post(f"{url}/records", json={"fields": fields}, headers=admin)
    assert created.status_code == 201, created.text
    record_id = created.json()["id"]
    assert created.json()["fields"]["cf_tier"] == "gold"
    updated = await api.patch(
        f"{url}/records/{record_id}", json={"fields": {"status": "inactive"}}, headers=admin
    )
    assert updated.json()["fields"]["status"] == "inactive"
    assert (await api.delete(f"{url}/records/{record_id}", headers=admin)).status_code == 204
    gone = await api.delete(f"{url}/records/{record_id}", headers=admin)
    assert gone.status_code == 404 and gone.json()["code"] == "record_not_found"


async def test_a_method_that_throws_is_a_422_naming_file_and_line(
    api: httpx.AsyncClient, world: World, upstream: str
) -> None:
    files = example_files(EXAMPLE)
    files["methods/contacts.js"] = files["methods/contacts.js"].replace(
        "export async function search(ctx) {\n",
        "export async function search(ctx) {\n  throw new Error('search is down');\n",
    )
    connection = await connect(api, world, await create_connector(api, world, upstream, files))
    response = await api.get(
        f"/connections/{connection}/collections/contacts/records",
        params={"q": "ada"},
        headers=world.auth("a_viewer"),
    )
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["code"] == "script_error"
    line = files["methods/contacts.js"].splitlines().index("  throw new Error('search is down');")
    assert (error["script"]["file"], error["script"]["line"]) == ("methods/contacts.js", line + 1)


async def test_a_missing_export_is_refused_on_save(api: httpx.AsyncClient, world: World) -> None:
    text = example_yaml(EXAMPLE, "https://api.example.com").replace(
        "methods/contacts.js#search", "methods/contacts.js#serch"
    )
    body = {"yaml": text, "files": example_files(EXAMPLE)}
    response = await api.post("/connectors", json=body, headers=world.auth("a_admin"))
    assert response.status_code == 422
    [problem] = [p for p in response.json()["problems"] if p["severity"] == "error"]
    assert problem["file"] == "methods/contacts.js"
    assert "collections[0].methods.search.code calls export 'serch'" in problem["message"]


async def test_the_data_tab_runs_a_javascript_method_and_shows_its_calls(
    api: httpx.AsyncClient, world: World, upstream: str
) -> None:
    connector_id = await create_connector(api, world, upstream)
    run = {
        "collection": "contacts",
        "method": "list",
        "page_size": 3,
        "credentials": {"api_key": API_KEY},
    }
    response = await api.post(
        f"/connectors/{connector_id}/draft/collections/run",
        json=run,
        headers=world.auth("a_admin"),
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["error"] is None, result
    assert [r["id"] for r in result["records"]] == ["1", "2", "3"]
    assert result["cursor"]
    # The custom fields (the record shape depends on them), then the method's own request.
    assert [(c["method"], c["url"].split("?")[0]) for c in result["calls"]] == [
        ("GET", f"{upstream}/crm/custom-fields"),
        ("GET", f"{upstream}/crm/contacts"),
    ]
    assert API_KEY not in response.text
