"""OpenAPI import proposes collections for CRUD-shaped resources; accepted like pagination."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from connectory.errors import InvalidRequest
from connectory.services.openapi_import import DocumentSource, ImportOptions, import_document
from connectory.spec import check_connector_data

CONTACT = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "readOnly": True},
        "name": {"type": "string"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}


def _operation(operation_id: str, response: dict[str, Any] | None = None) -> dict[str, Any]:
    body = {"content": {"application/json": {"schema": response}}} if response else {}
    return {"operationId": operation_id, "responses": {"200": {"description": "ok", **body}}}


DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "CRM", "version": "1"},
    "servers": [{"url": "https://crm.example.com"}],
    "paths": {
        "/contacts": {
            "get": _operation("listContacts", {"type": "array", "items": CONTACT}),
            "post": _operation("createContact", CONTACT),
        },
        "/contacts/{contactId}": {
            "parameters": [
                {"name": "contactId", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": _operation("getContact", CONTACT),
            "patch": _operation("updateContact", CONTACT),
            "delete": _operation("deleteContact"),
        },
        # Not CRUD-shaped: no list.
        "/reports/{id}": {
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": _operation("getReport"),
        },
    },
}


def run_import(options: ImportOptions) -> Any:
    source = DocumentSource(content=orjson.dumps(DOCUMENT), name="crm.json")
    return asyncio.run(import_document(source, options))


def test_crud_resources_are_suggested_not_applied() -> None:
    result = run_import(ImportOptions())
    assert [s.key for s in result.collection_suggestions] == ["contacts"]
    suggestion = result.collection_suggestions[0]
    assert "create, delete, find_by_id, list, update" in suggestion.reason
    collection = suggestion.collection
    assert collection["record"]["id"] == "{{ item.id }}"
    assert collection["record"]["name"] == "{{ item.name }}"
    assert collection["record"]["updated_at"] == "{{ item.updated_at }}"
    assert set(collection["methods"]) == {"list", "find_by_id", "create", "update", "delete"}
    assert "collections" not in result.connector


@pytest.mark.parametrize(
    "options",
    [ImportOptions(accept_collections=True), ImportOptions(accept_collections=["contacts"])],
)
def test_accepted_collections_are_valid(options: ImportOptions) -> None:
    result = run_import(options)
    [collection] = result.connector["collections"]
    assert collection["key"] == "contacts"
    report = check_connector_data(result.connector)
    assert report.ok, report.errors
    assert report.spec is not None and report.spec.collection("contacts") is not None


def test_an_unknown_key_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="no collection is suggested as deals"):
        run_import(ImportOptions(accept_collections=["deals"]))
