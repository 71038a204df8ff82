"""``POST /connectors/import-openapi`` and ``POST /connectors/{id}/reimport-openapi``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectory.testing import serve

from .support import World

ITEMS = {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}


def _document(*, extra_path: bool = False, title: str = "Items API") -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/items": {
            "get": {
                "operationId": "listItems",
                "tags": ["items"],
                "parameters": [{"name": "page", "in": "query", "schema": {"type": "integer"}}],
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": ITEMS}}}
                },
            },
            "post": {
                "operationId": "createItem",
                "tags": ["items"],
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Item"}}
                    }
                },
                "responses": {"201": {"description": "created"}},
            },
        },
        "/users": {
            "get": {
                "operationId": "listUsers",
                "tags": ["users"],
                "parameters": [{"name": "sid", "in": "cookie", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok"}},
            }
        },
    }
    if extra_path:
        del paths["/users"]
        paths["/orders"] = {"get": {"operationId": "listOrders", "responses": {}}}
        paths["/items"]["get"]["parameters"].append(
            {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}
        )
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "1"},
        "servers": [{"url": "https://api.example.com"}],
        "paths": paths,
        "components": {
            "schemas": {
                "Item": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "id": {"type": "integer", "readOnly": True},
                    },
                }
            },
            "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}},
        },
        "security": [{"key": []}],
    }


def _raw(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


@pytest.fixture(scope="module")
def spec_server() -> Iterator[str]:
    """A tiny server on 127.0.0.1 that hands out OpenAPI documents."""

    async def openapi(request: Request) -> Response:
        return Response(_raw(_document()), media_type="application/json")

    async def relative(request: Request) -> Response:
        document = {**_document(), "servers": [{"url": "/v2"}]}
        return Response(_raw(document), media_type="application/json")

    async def huge(request: Request) -> Response:
        return Response(b" " * (51 * 1024 * 1024), media_type="application/json")

    routes = [
        Route("/openapi.json", openapi),
        Route("/relative.json", relative),
        Route("/huge.json", huge),
    ]
    with serve(Starlette(routes=routes)) as url:
        yield url


async def _import(
    api: httpx.AsyncClient, world: World, user: str, body: bytes, **params: Any
) -> httpx.Response:
    return await api.post(
        "/connectors/import-openapi",
        content=body,
        params=params,
        headers={**world.auth(user), "Content-Type": "application/json"},
    )


async def test_upload_creates_a_connector_draft(api: httpx.AsyncClient, world: World) -> None:
    response = await _import(api, world, "platform", _raw(_document()))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["dry_run"] is False and body["ok"] is True
    assert body["operations"] == 3
    assert body["openapi_version"] == "3.0"
    assert body["auth_scheme"] == "key"
    assert body["draft"]["is_draft"] is True
    assert [w["pointer"] for w in body["warnings"]] == ["/paths/~1users/get/parameters/0"]
    assert body["suggestions"][0]["operation"] == "list_items"
    connector = await api.get(f"/connectors/{body['connector_id']}", headers=world.auth("platform"))
    assert connector.json()["slug"] == "items-api"
    draft = await api.get(
        f"/connectors/{body['connector_id']}/draft", headers=world.auth("platform")
    )
    names = [op["name"] for op in draft.json()["document"]["operations"]]
    assert names == ["list_items", "create_item", "list_users"]


async def test_yaml_with_filters_and_accepted_pagination(
    api: httpx.AsyncClient, world: World
) -> None:
    yaml_text = (
        "openapi: 3.0.3\ninfo: {title: Yaml API, version: '1'}\n"
        "servers: [{url: 'https://api.example.com'}]\npaths:\n"
        "  /items:\n    get:\n      tags: [items]\n      parameters:\n"
        "        - {name: page, in: query, schema: {type: integer}}\n"
        "      responses:\n        '200':\n          description: ok\n          content:\n"
        "            application/json: {schema: {type: array, items: {type: object}}}\n"
        "  /users:\n    get: {tags: [users], responses: {'200': {description: ok}}}\n"
    )
    response = await api.post(
        "/connectors/import-openapi",
        content=yaml_text.encode(),
        params={"tags": "items", "accept_pagination": "true"},
        headers={**world.auth("a_admin"), "Content-Type": "application/yaml"},
    )
    assert response.status_code == 201, response.text
    (operation,) = response.json()["document"]["operations"]
    assert operation["pagination"]["type"] == "page_number"


async def test_pagination_accepted_for_named_operations_only(
    api: httpx.AsyncClient, world: World
) -> None:
    document = _document()
    users = document["paths"]["/users"]["get"]
    users["parameters"].append({"name": "page", "in": "query", "schema": {"type": "integer"}})
    users["responses"]["200"]["content"] = {"application/json": {"schema": ITEMS}}
    review = await _import(api, world, "platform", _raw(document), dry_run="true")
    suggested = {s["operation"] for s in review.json()["suggestions"]}
    assert {"list_items", "list_users"} <= suggested
    response = await _import(
        api, world, "platform", _raw(document), accept_pagination_for="list_items"
    )
    assert response.status_code == 201, response.text
    operations = {op["name"]: op for op in response.json()["document"]["operations"]}
    assert operations["list_items"]["pagination"]["type"] == "page_number"
    assert "pagination" not in operations["list_users"]

    refused = await _import(
        api, world, "platform", _raw(document), accept_pagination_for="create_item"
    )
    assert refused.status_code == 422
    assert refused.json()["issues"][0]["loc"] == ["query", "accept_pagination_for"]
    assert "suggested for: list_items" in refused.json()["detail"]


async def test_a_dry_run_stores_nothing(api: httpx.AsyncClient, world: World) -> None:
    response = await _import(api, world, "platform", _raw(_document()), dry_run="true")
    assert response.status_code == 200
    assert response.json()["connector_id"] is None
    assert response.json()["document"]["name"] == "Items API"
    index = await api.get("/connectors", params={"q": "items"}, headers=world.auth("platform"))
    assert index.json()["total"] == 0


async def test_from_a_url_through_the_egress_guard(
    api: httpx.AsyncClient, world: World, spec_server: str
) -> None:
    # The API tests' settings allowlist 127.0.0.1, where the spec server runs.
    body = json.dumps({"url": f"{spec_server}/relative.json"}).encode()
    response = await _import(api, world, "platform", body)
    assert response.status_code == 201, response.text
    assert response.json()["document"]["base_url"] == f"{spec_server}/v2"


async def test_urls_that_may_not_or_cannot_be_read(
    api: httpx.AsyncClient, world: World, spec_server: str
) -> None:
    internal = json.dumps({"url": "http://10.255.255.1/openapi.json"}).encode()
    refused = await _import(api, world, "platform", internal)
    assert refused.status_code == 502
    assert refused.json()["code"] == "egress_denied"
    too_big = await _import(
        api, world, "platform", json.dumps({"url": f"{spec_server}/huge.json"}).encode()
    )
    assert too_big.status_code == 422
    assert "limited to 50 MiB" in too_big.text
    missing = await _import(
        api, world, "platform", json.dumps({"url": f"{spec_server}/nope"}).encode()
    )
    assert missing.status_code == 422
    assert "answered 404" in missing.json()["detail"]
    not_http = await _import(
        api, world, "platform", json.dumps({"url": "file:///etc/passwd"}).encode()
    )
    assert not_http.status_code == 422


BOMB = (
    "openapi: 3.0.0\n"
    + "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10))
)
HOSTILE = {
    "unresolvable ref": (
        _raw({**_document(), "paths": {"/a": {"get": {"responses": {"200": {"$ref": "#/nope"}}}}}}),
        "/paths/~1a/get/responses/200/$ref",
    ),
    "circular ref": (
        _raw(
            {
                **_document(),
                "paths": {
                    "/a": {
                        "get": {
                            "parameters": [{"$ref": "#/components/parameters/A"}],
                            "responses": {},
                        }
                    }
                },
                "components": {"parameters": {"A": {"$ref": "#/components/parameters/A"}}},
            }
        ),
        "/paths/~1a/get/parameters/0",
    ),
    "non-UTF-8": (b"openapi: 3.0.0\ninfo: {title: caf\xe9}\n", ""),
    "alias bomb": (BOMB.encode(), ""),
    "deep nesting": (b'{"openapi": "3.0.0", "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", ""),
    "not openapi": (b'{"hello": "world"}', ""),
    "empty": (b"   ", ""),
}


async def test_hostile_documents_are_a_422_with_pointers(
    api: httpx.AsyncClient, world: World
) -> None:
    for name, (body, pointer) in HOSTILE.items():
        response = await _import(api, world, "platform", body)
        assert response.status_code == 422, (name, response.text)
        if pointer:
            assert response.json()["problems"][0]["path"] == pointer, name
    oversized = await _import(api, world, "platform", b" " * (3 * 1024 * 1024))
    assert oversized.status_code == 413


async def test_only_connector_builders_may_import(api: httpx.AsyncClient, world: World) -> None:
    for user in ("a_viewer", "a_plain_admin", "b_viewer"):
        response = await _import(api, world, user, _raw(_document()))
        assert response.status_code == 403, user
    anonymous = await api.post("/connectors/import-openapi", content=_raw(_document()))
    assert anonymous.status_code == 401
    created = await _import(api, world, "a_admin", _raw(_document()))
    assert created.status_code == 201
    clash = await _import(api, world, "a_admin", _raw(_document()))
    assert clash.status_code == 409


async def test_reimport_shows_the_diff_and_applies_it_when_asked(
    api: httpx.AsyncClient, world: World
) -> None:
    created = await _import(api, world, "a_admin", _raw(_document()))
    connector_id = created.json()["connector_id"]
    url = f"/connectors/{connector_id}/reimport-openapi"
    headers = {**world.auth("a_admin"), "Content-Type": "application/json"}
    newer = _raw(_document(extra_path=True, title="Renamed"))
    preview = await api.post(url, content=newer, params={"dry_run": "true"}, headers=headers)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["operations"] == {
        "added": ["list_orders"],
        "removed": ["list_users"],
        "changed": ["list_items"],
    }
    assert body["compared_with"] == "draft" and body["draft"] is None
    assert body["document"]["name"] == "Items API"  # the connector keeps its own name
    draft = await api.get(f"/connectors/{connector_id}/draft", headers=world.auth("a_admin"))
    assert len(draft.json()["document"]["operations"]) == 3
    applied = await api.post(url, content=newer, headers=headers)
    assert applied.status_code == 200
    assert applied.json()["draft"]["is_draft"] is True
    draft = await api.get(f"/connectors/{connector_id}/draft", headers=world.auth("a_admin"))
    names = [op["name"] for op in draft.json()["document"]["operations"]]
    assert names == ["list_items", "create_item", "list_orders"]
    again = await api.post(url, content=newer, params={"dry_run": "true"}, headers=headers)
    assert again.json()["changed"] is False


async def test_reimport_is_limited_to_editors(api: httpx.AsyncClient, world: World) -> None:
    created = await _import(api, world, "a_admin", _raw(_document()))
    url = f"/connectors/{created.json()['connector_id']}/reimport-openapi"
    for user, status in (("b_admin", 404), ("a_viewer", 403), ("a_plain_admin", 403)):
        response = await api.post(url, content=_raw(_document()), headers=world.auth(user))
        assert response.status_code == status, (user, response.text)
    unknown = await api.post(
        "/connectors/0123456789abcdef0123456789abcdef/reimport-openapi",
        content=_raw(_document()),
        headers=world.auth("platform"),
    )
    assert unknown.status_code == 404


async def test_unknown_filters_are_a_422(api: httpx.AsyncClient, world: World) -> None:
    response = await _import(api, world, "platform", _raw(_document()), tags="item")
    assert response.status_code == 422
    assert "did you mean 'items'" in response.text
    response = await _import(
        api,
        world,
        "platform",
        _raw(_document()),
        accept_pagination="true",
        operation_ids="listUsers",
    )
    assert response.status_code == 201


async def test_the_description_is_kept_served_exported_and_its_drift_shown(
    api: httpx.AsyncClient, world: World
) -> None:
    original = _raw(_document())
    created = await _import(api, world, "a_admin", original)
    connector_id = created.json()["connector_id"]
    auth = world.auth("a_admin")
    served = await api.get(f"/connectors/{connector_id}/openapi", headers=auth)
    assert served.status_code == 200, served.text
    assert served.content == original  # byte for byte, as imported
    assert served.headers["content-type"].startswith("application/json")
    export = await api.get(
        f"/connectors/{connector_id}/export",
        params={"version": "draft", "include_openapi": "true"},
        headers=auth,
    )
    assert json.loads(export.json()["openapi"]["content"]) == json.loads(original)
    plain = await api.get(
        f"/connectors/{connector_id}/export", params={"version": "draft"}, headers=auth
    )
    assert "openapi" not in plain.json()  # only on request
    # Another enterprise cannot read it: the connector is not theirs.
    foreign = await api.get(f"/connectors/{connector_id}/openapi", headers=world.auth("b_admin"))
    assert foreign.status_code == 404
    newer = _raw(_document(extra_path=True, title="Renamed"))
    url = f"/connectors/{connector_id}/reimport-openapi"
    headers = {**auth, "Content-Type": "application/json"}
    preview = await api.post(url, content=newer, params={"dry_run": "true"}, headers=headers)
    drift = preview.json()["drift"]
    assert "operations added (1): GET /orders" in drift
    assert "operations removed (1): GET /users" in drift
    assert "operations changed (1): GET /items" in drift
    applied = await api.post(url, content=newer, headers=headers)
    assert applied.status_code == 200
    served = await api.get(f"/connectors/{connector_id}/openapi", headers=auth)
    assert served.content == newer  # the re-imported description replaces the old one
    # An export carrying the description brings it along when imported again.
    again = await api.post(
        "/connectors/import",
        content=export.content,
        headers={**world.auth("b_admin"), "Content-Type": "application/json"},
    )
    assert again.status_code in (200, 201), again.text
    new_id = again.json()["connector_id"]
    kept = await api.get(f"/connectors/{new_id}/openapi", headers=world.auth("b_admin"))
    assert kept.content == original
