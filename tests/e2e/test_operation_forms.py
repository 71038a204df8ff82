"""Forms for what only YAML could set: an operation's own headers and a parameter's enum."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import Live, shoot

pytest.importorskip("playwright")
from playwright.sync_api import expect


def _draft(live: Live, connector_id: str) -> dict[str, Any]:
    with live.client() as admin:
        document: dict[str, Any] = admin.get(f"/connectors/{connector_id}/draft").json()["document"]
        return document


def test_headers_and_allowed_values_are_edited_in_forms_and_sent(page_for: Any, live: Live) -> None:
    document = {
        "name": "Header forms",
        "slug": "header-forms",
        "base_url": live.test_api,
        "operations": [
            {
                "operation": "echo",
                "path": "/echo/headers",
                "parameters": [{"name": "limit", "location": "query", "type": "integer"}],
            }
        ],
    }
    with live.client() as admin:
        created = admin.post("/connectors", json={"document": document})
        assert created.status_code == 201, created.text
        connector_id = created.json()["id"]
    page = page_for("platform")
    page.goto(f"{live.url}/ui/#/connectors/{connector_id}/operations")
    expect(page.locator("table.headers")).to_contain_text("No headers of its own")

    page.get_by_role("button", name="Add header").click()
    page.get_by_label("Name of header 1").fill("X-Api-Version")
    page.get_by_label("Value of header 1").fill("2024-01")
    page.get_by_role("button", name="Add header").click()
    page.get_by_label("Name of header 2").fill("X-Trace")
    page.get_by_label("Value of header 2").fill("{{ config.trace }}")
    # Allowed values are read as the parameter's type: "ten" is refused, 10, 20 are numbers.
    allowed = page.get_by_label("Allowed values of parameter 1")
    allowed.fill("10, ten")
    expect(allowed).to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#status")).to_contain_text("Not saved")
    allowed.fill("10, 20, 20")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#status")).to_contain_text("Draft saved.")
    saved = _draft(live, connector_id)["operations"][0]
    assert saved["headers"] == {"X-Api-Version": "2024-01", "X-Trace": "{{ config.trace }}"}
    assert saved["parameters"][0]["enum"] == [10, 20]
    page.set_viewport_size({"width": 1280, "height": 1500})  # the screen below the fold
    shoot(page, live, "operation-headers")
    page.set_viewport_size({"width": 1280, "height": 720})

    # Changing the type reads the allowed values again: 10, 20 are now the strings "10", "20".
    page.get_by_label("Type of parameter 1").select_option("string")
    expect(page.get_by_label("Allowed values of parameter 1")).to_have_value("10, 20")

    # Remove one header; the other is sent with the operation's requests.
    page.get_by_role("button", name="Remove header X-Trace").click()
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#status")).to_contain_text("Draft saved.")
    saved = _draft(live, connector_id)["operations"][0]
    assert saved["headers"] == {"X-Api-Version": "2024-01"}
    assert saved["parameters"][0]["enum"] == ["10", "20"]

    page.get_by_role("tab", name="Test").click()
    page.get_by_role("button", name="Send", exact=True).click()
    result = page.get_by_role("region", name="Result")
    result.get_by_text("Request as sent (secrets redacted)").click()
    expect(result).to_contain_text(re.compile(r"x-api-version: 2024-01", re.I))
