"""``connectory contract-test --connection ID``: the contract test through a server's connection.

A real upstream on loopback requires an API key; the connector is imported from the upstream's
description (which the server keeps), published, and connected with the key. The CLI talks to
a real server on loopback: the server calls the upstream with the stored key, validates the
traffic against the kept description, and answers a redacted report.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from click.testing import Result
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from typer.testing import CliRunner

from connectory.api import create_app
from connectory.cli.app import app as cli
from connectory.settings import Settings
from connectory.testing import serve

from .connector_support import publish
from .support import World, insert_published_connector

#: The connection's key: long enough for the redactor to search for it inside any text.
KEY = "contract-key-7f3a9c41d2"


def _upstream() -> Starlette:
    def authorised(request: Request) -> bool:
        return request.headers.get("x-api-key") == KEY

    async def items(request: Request) -> JSONResponse:
        if not authorised(request):
            return JSONResponse({"error": "bad key"}, 401)
        if request.method == "POST":
            return JSONResponse(await request.json(), 201)
        return JSONResponse([{"id": 1, "name": "one"}])

    async def item(request: Request) -> JSONResponse:
        if not authorised(request):
            return JSONResponse({"error": "bad key"}, 401)
        return JSONResponse({"id": int(request.path_params["id"]), "name": "seven"})

    async def broken(request: Request) -> JSONResponse:
        if not authorised(request):
            return JSONResponse({"error": "bad key"}, 401)
        # Breaks the description (id is an integer), and echoes the key it was sent: the
        # validator's message quotes the value, which must not reach the report.
        return JSONResponse({"id": request.headers["x-api-key"], "name": "x"})

    return Starlette(
        routes=[
            Route("/items", items, methods=["GET", "POST"]),
            Route("/items/{id:int}", item),
            Route("/broken", broken),
        ]
    )


def _description(server: str, broken_id: str = "integer") -> dict[str, Any]:
    item = {
        "type": "object",
        "required": ["id", "name"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
    }

    def ok(schema: Any, code: str = "200") -> dict[str, Any]:
        return {code: {"description": "ok", "content": {"application/json": {"schema": schema}}}}

    return {
        "openapi": "3.0.3",
        "info": {"title": "Contract Items", "version": "1"},
        "servers": [{"url": server}],
        "security": [{"key": []}],
        "components": {
            "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}
        },
        "paths": {
            "/items": {
                "get": {
                    "operationId": "listItems",
                    "parameters": [
                        {
                            "name": "format",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["json"]},
                            "example": "json",
                        }
                    ],
                    "responses": ok({"type": "array", "items": item}),
                },
                "post": {
                    "operationId": "createItem",
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": item, "example": {"id": 2, "name": "b"}}
                        }
                    },
                    "responses": ok(item, "201"),
                },
            },
            "/items/{id}": {
                "get": {
                    "operationId": "getItem",
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                            "example": 7,
                        }
                    ],
                    "responses": ok(item),
                }
            },
            "/broken": {
                "get": {
                    "operationId": "getBroken",
                    "responses": ok(
                        {**item, "properties": {**item["properties"], "id": {"type": broken_id}}}
                    ),
                }
            },
        },
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve(_upstream()) as url:
        yield url


async def _connection(api: httpx.AsyncClient, world: World, upstream: str, key: str) -> str:
    imported = await api.post(
        "/connectors/import-openapi",
        content=json.dumps(_description(upstream)).encode(),
        headers={**world.auth("a_admin"), "Content-Type": "application/json"},
    )
    assert imported.status_code == 201, imported.text
    connector_id = imported.json()["connector_id"]
    await publish(api, world, "a_admin", connector_id, changelog="first")
    created = await api.post(
        "/connections",
        json={"connector_id": connector_id, "name": "C", "credentials": {"api_key": key}},
        headers=world.auth("a_admin"),
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _invoke(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(cli, args, env=env)


async def test_the_cli_runs_it_on_the_server_with_the_connections_key(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: str, tmp_path: Path
) -> None:
    connection_id = await _connection(api, world, upstream, KEY)
    with serve(create_app(settings)) as url:
        env = {"CONNECTORY_URL": url, "CONNECTORY_TOKEN": world.tokens["a_viewer"]}
        args = ["contract-test", "--connection", connection_id]
        kept = await asyncio.to_thread(_invoke, [*args, "--format", "json"], env)
        assert kept.exit_code == 1, kept.output  # getBroken fails
        report = orjson.loads(kept.stdout)
        outcomes = {check["operation"]: check for check in report["operations"]}
        assert report["counts"] == {"passed": 2, "failed": 1, "skipped": 1}
        # The upstream answers 401 without the stored key: 200s prove the server used it.
        assert outcomes["list_items"]["status"] == 200
        assert outcomes["get_item"]["outcome"] == "passed"
        assert outcomes["create_item"]["reason"] == "POST is not safe; add --include-writes"
        broken = outcomes["get_broken"]
        assert broken["outcome"] == "failed" and broken["response_errors"]
        assert "is not of type 'integer'" in " ".join(broken["response_errors"])
        assert KEY not in kept.output  # the echoed key is redacted from the messages

        # A description of one's own instead of the kept one: here /broken returns text ids.
        fixed = tmp_path / "fixed.json"
        fixed.write_text(json.dumps(_description(upstream, broken_id="string")))
        own = await asyncio.to_thread(_invoke, [*args, "--description", str(fixed)], env)
        assert own.exit_code == 0, own.output
        assert "3 passed, 0 failed, 1 skipped" in own.output
        assert str(fixed) in own.output

        # Viewers read: writes are for admins, who get the POST checked too.
        viewer_writes = await asyncio.to_thread(_invoke, [*args, "--include-writes"], env)
        assert viewer_writes.exit_code != 0
        assert "viewers may run only safe operations" in viewer_writes.output
        admin = {**env, "CONNECTORY_TOKEN": world.tokens["a_admin"]}
        writes = await asyncio.to_thread(
            _invoke, [*args, "--include-writes", "--description", str(fixed)], admin
        )
        assert writes.exit_code == 0, writes.output
        assert "4 passed, 0 failed, 0 skipped" in writes.output

        # Local-only options are refused with --connection, not ignored.
        mixed = await asyncio.to_thread(_invoke, [*args, "--base-url", upstream], env)
        assert mixed.exit_code != 0 and "drop --base-url" in mixed.output
        other = {**env, "CONNECTORY_TOKEN": world.tokens["b_admin"]}
        foreign = await asyncio.to_thread(_invoke, args, other)
        assert foreign.exit_code != 0 and "not found" in foreign.output.lower()


async def test_a_wrong_stored_key_fails_every_call(
    api: httpx.AsyncClient, world: World, upstream: str
) -> None:
    connection_id = await _connection(api, world, upstream, "not-the-key-at-all")
    response = await api.post(
        f"/connections/{connection_id}/contract-test", json={}, headers=world.auth("a_admin")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["description_source"] == "kept"
    assert body["counts"] == {"passed": 0, "failed": 3, "skipped": 1}
    assert {check.get("status") for check in body["operations"]} == {401, None}


async def test_without_a_kept_description_the_answer_says_what_to_send(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: str
) -> None:
    document = {
        "name": "Plain",
        "slug": "plain",
        "base_url": upstream,
        "operations": [{"name": "list_items", "method": "GET", "path": "/items"}],
    }
    connector_id = await insert_published_connector(settings.database_url, document)
    created = await api.post(
        "/connections",
        json={"connector_id": connector_id, "name": "P"},
        headers=world.auth("a_admin"),
    )
    connection_id = created.json()["id"]
    url = f"/connections/{connection_id}/contract-test"
    missing = await api.post(url, json={}, headers=world.auth("a_admin"))
    assert missing.status_code == 404, missing.text
    assert "--description FILE" in missing.text
    swagger = {"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {}}
    refused = await api.post(
        url, json={"description": json.dumps(swagger)}, headers=world.auth("a_admin")
    )
    assert refused.status_code == 422 and "convert the Swagger 2.0" in refused.text
    unreadable = await api.post(
        url, json={"description": "{not json"}, headers=world.auth("a_admin")
    )
    assert unreadable.status_code == 422, unreadable.text
