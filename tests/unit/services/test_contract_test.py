"""``connectory contract-test``: requests and responses checked with openapi-core."""

from __future__ import annotations

from typing import Any

import httpx

from connectory.openapi import import_openapi
from connectory.services.contract_test import run_contract_test
from connectory.spec import ConnectorSpec

ITEM = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
}


def _description() -> dict[str, Any]:
    def ok(schema: Any) -> dict[str, Any]:
        return {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}

    return {
        "openapi": "3.0.3",
        "info": {"title": "Items", "version": "1"},
        "servers": [{"url": "https://api.example.com/v1"}],
        "paths": {
            "/items": {
                "get": {
                    "operationId": "listItems",
                    "parameters": [
                        {
                            "name": "format",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "enum": ["json"]},
                            "example": "json",
                        }
                    ],
                    "responses": ok({"type": "array", "items": ITEM}),
                },
                "post": {
                    "operationId": "createItem",
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": ITEM, "example": {"id": 1, "name": "a"}}
                        }
                    },
                    "responses": ok(ITEM),
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
                    "responses": ok(ITEM),
                }
            },
            "/search": {
                "get": {
                    "operationId": "search",
                    "parameters": [
                        {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": ok(ITEM),
                }
            },
        },
    }


def _handler(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v1/items/7":
        return httpx.Response(200, json={"id": 7, "name": "seven"})
    if request.url.path == "/v1/items" and request.method == "GET":
        return httpx.Response(200, json=[{"id": "not a number"}])  # breaks the description
    if request.url.path == "/v1/items":
        return httpx.Response(200, json={"id": 1, "name": "a"})
    return httpx.Response(404)


async def test_live_responses_and_requests_are_checked_against_the_description() -> None:
    description = _description()
    spec = ConnectorSpec.model_validate(import_openapi(description).connector)
    report = await run_contract_test(spec, description, transport=httpx.MockTransport(_handler))
    by_name = {check.operation: check for check in report.checks}
    assert by_name["get_item"].outcome == "passed"
    assert by_name["get_item"].status == 200
    listed = by_name["list_items"]
    assert listed.outcome == "failed" and listed.response_errors
    assert not listed.request_errors  # the connector sent what the description asks
    assert by_name["create_item"].outcome == "skipped"  # a write, not asked for
    assert "no example for required parameter(s) q" in (by_name["search"].reason or "")
    assert report.counts() == {"passed": 1, "failed": 1, "skipped": 2}


async def test_writes_are_called_only_when_asked_and_requests_are_checked() -> None:
    description = _description()
    connector = import_openapi(description).connector
    # A connector that drifted from the description: it sends format=xml.
    for operation in connector["operations"]:
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "format":
                parameter["enum"] = ["json", "xml"]
    spec = ConnectorSpec.model_validate(connector)
    wrong = {**description}
    wrong["paths"] = {**description["paths"]}
    wrong["paths"]["/items"] = {
        **description["paths"]["/items"],
        "get": {
            **description["paths"]["/items"]["get"],
            "parameters": [
                {**description["paths"]["/items"]["get"]["parameters"][0], "example": "xml"}
            ],
        },
    }
    report = await run_contract_test(
        spec, wrong, include_writes=True, transport=httpx.MockTransport(_handler)
    )
    by_name = {check.operation: check for check in report.checks}
    assert by_name["create_item"].outcome == "passed"
    assert by_name["list_items"].request_errors  # xml is not one of the description's values
