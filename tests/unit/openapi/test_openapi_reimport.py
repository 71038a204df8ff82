"""Re-import: the document owns the operations, the connector keeps what people added."""

from __future__ import annotations

from typing import Any

from openapi_docs import document, get, json_body, run

from connectory.openapi import accept_pagination, plan_reimport
from connectory.services.versioning import diff_versions

ITEMS = {"type": "array", "items": {"type": "object"}}


def _v1() -> dict[str, Any]:
    return document(
        {
            "/items": {
                "get": get(
                    {"200": json_body(ITEMS)},
                    operationId="listItems",
                    parameters=[{"name": "page", "in": "query", "schema": {"type": "integer"}}],
                )
            },
            "/items/{id}": {
                "get": get(operationId="getItem"),
                "delete": get(operationId="deleteItem"),
            },
        }
    )


def _v2() -> dict[str, Any]:
    doc = _v1()
    del doc["paths"]["/items/{id}"]["delete"]
    doc["paths"]["/items/{id}"]["get"]["parameters"] = [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
        {"name": "expand", "in": "query", "required": True, "schema": {"type": "string"}},
    ]
    doc["paths"]["/users"] = {"get": get(operationId="listUsers")}
    doc["servers"] = [{"url": "https://v2.example.com"}]
    return doc


def _existing() -> dict[str, Any]:
    first = run(_v1())
    connector = accept_pagination(first.connector, first.suggestions)
    connector["name"] = "My Items"
    connector["operations"][1]["resilience"] = {"timeout": 5}
    connector["test_operation"] = "delete_item"
    return connector


def test_the_diff_shows_added_removed_and_changed_operations() -> None:
    existing = _existing()
    plan = plan_reimport(existing, run(_v2()).connector)
    diff = diff_versions(existing, plan.document)
    assert diff.operations.added == ["list_users"]
    assert diff.operations.removed == ["delete_item"]
    assert diff.operations.changed == ["get_item"]


def test_people_s_edits_are_kept() -> None:
    plan = plan_reimport(_existing(), run(_v2()).connector)
    document = plan.document
    assert document["name"] == "My Items"
    assert document["base_url"] == "https://api.example.com/v1"
    items, item, _ = document["operations"]
    assert items["pagination"]["type"] == "page_number"
    assert "parameters" not in items  # the paginator's parameter stays removed
    assert item["resilience"] == {"timeout": 5}
    assert "test_operation" not in document


def test_differences_that_are_kept_are_reported() -> None:
    plan = plan_reimport(_existing(), run(_v2()).connector)
    messages = [note.message for note in plan.notes]
    assert any("test_operation 'delete_item'" in m for m in messages)
    assert any("https://v2.example.com" in m for m in messages)


def test_the_same_document_changes_nothing() -> None:
    first = run(_v1()).connector
    plan = plan_reimport(first, run(_v1()).connector)
    assert not diff_versions(first, plan.document).changed
    assert plan.notes == []
