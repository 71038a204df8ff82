"""Test every operation sends each required parameter's example, and says why it skips one."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import TEST_API_KEY, Live, shoot

pytest.importorskip("playwright")
from playwright.sync_api import expect


def _document(live: Live) -> dict[str, Any]:
    return {
        "name": "Examples",
        "slug": "examples-every-op",
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
            {"operation": "list_items", "path": "/offset/items", "record_selector": "data"},
            {
                "operation": "get_item",
                "path": "/items/{id}",
                "parameters": [
                    {"name": "id", "location": "path", "type": "integer", "required": True}
                ],
            },
            {
                "operation": "echo_query",
                "path": "/echo/query",
                "parameters": [
                    {"name": "q", "location": "query", "type": "string", "required": True},
                    {"name": "mode", "location": "query", "required": True, "enum": ["a", "b"]},
                ],
            },
        ],
    }


def test_every_operation_runs_with_examples_and_says_why_it_skips(
    page_for: Any, live: Live
) -> None:
    with live.client() as admin:
        created = admin.post("/connectors", json={"document": _document(live)})
        assert created.status_code == 201, created.text
        connector_id = created.json()["id"]
    page = page_for("platform")
    page.goto(f"{live.url}/ui/#/connectors/{connector_id}/operations")
    page.get_by_role("button", name=re.compile("get_item")).click()
    example = page.get_by_label("Example of parameter 1")
    example.fill("three")  # not an integer: kept, marked, and Save refuses it
    expect(example).to_have_attribute("aria-invalid", "true")
    example.fill("3")
    page.set_viewport_size({"width": 1280, "height": 1100})  # the screen below the fold
    shoot(page, live, "operation-parameter-values")
    page.set_viewport_size({"width": 1280, "height": 720})
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#status")).to_contain_text("Draft saved.")
    with live.client() as admin:
        document = admin.get(f"/connectors/{connector_id}/draft").json()["document"]
    assert document["operations"][1]["parameters"][0]["example"] == 3

    page.get_by_role("tab", name="Test").click()
    page.get_by_label(re.compile(r"^API key")).fill(TEST_API_KEY)
    page.get_by_role("button", name="Test every operation").click()
    summary = page.get_by_role("region", name="Test summary")
    # get_item runs with its example; echo_query's q has nothing to send (mode has an enum).
    expect(summary.get_by_role("heading")).to_have_text("2 passed, 0 failed, 1 skipped")
    skipped = summary.get_by_role("row", name=re.compile("echo_query"))
    expect(skipped).to_contain_text("needs parameters (q)")
    expect(skipped).to_contain_text("give each an example in the Operations tab")
    shoot(page, live, "test-every-operation")

    # A value typed for the selected operation counts too: nothing is skipped then.
    page.get_by_label("Operation", exact=True).select_option(label="GET echo_query")
    page.get_by_label(re.compile(r"^q \(query\)")).fill("rex")
    page.get_by_role("button", name="Test every operation").click()
    expect(summary.get_by_role("heading")).to_have_text("3 passed, 0 failed, 0 skipped")
