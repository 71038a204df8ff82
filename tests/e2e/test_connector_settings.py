"""Connector parameters and headers in the Overview tab: edited in tables, saved into the
draft, and the server's problems marked at their fields. Every screen passes axe-core."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from .conftest import Live, check_a11y, shoot


def _draft(live: Live) -> str:
    document = {
        "name": "Settings Form",
        "slug": "settings-form",
        "base_url": live.test_api,
        "operations": [{"name": "list_items", "method": "GET", "path": "/items"}],
    }
    with live.client() as admin:
        created = admin.post("/connectors", json={"document": document})
        assert created.status_code == 201, created.text
        return str(created.json()["id"])


def test_parameters_and_headers_are_edited_in_the_overview(page_for: Any, live: Live) -> None:
    connector_id = _draft(live)
    page = page_for("platform")
    page.goto(f"{live.url}/ui/#/connectors/{connector_id}/overview")
    expect(page.get_by_text("No connector parameters.")).to_be_visible()
    check_a11y(page, "Overview, no parameters or headers")

    page.get_by_role("button", name="Add connector parameter").click()
    name = page.get_by_label("Parameter name 1")
    name.fill("tenant")
    name.press("Tab")
    page.get_by_label("Label of tenant").fill("Tenant id")
    page.get_by_label("Help of tenant").fill("The tenant all calls go to.")
    page.get_by_role("button", name="Add connector parameter").click()
    secret = page.get_by_label("Parameter name 2")
    secret.fill("partner_secret")
    secret.press("Tab")
    page.get_by_label("Type of partner_secret").select_option("password")
    page.get_by_label("Sensitive of partner_secret").check()
    page.get_by_label("Required of partner_secret").uncheck()
    page.get_by_label("Default of partner_secret").fill("s3cr3t-default")

    page.get_by_role("button", name="Add header").click()
    header = page.get_by_label("Header name 1")
    header.fill("X-Tenant")
    header.press("Tab")
    # A template that reads a parameter that is not declared: the server says so, at the field.
    page.get_by_label("Value of X-Tenant").fill("{{ connector_parameters.tenant_id }}")
    page.get_by_role("button", name="Validate").click()
    value = page.get_by_label("Value of X-Tenant")
    expect(value).to_have_attribute("aria-invalid", "true")
    error = page.locator('[data-error-for="headers.X-Tenant"]')
    expect(error).to_contain_text("tenant_id")
    shoot(page, live, "connector-settings")

    value.fill("{{ connector_parameters.tenant }}")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#status")).to_have_text("Draft saved.")
    with live.client() as admin:
        draft = admin.get(f"/connectors/{connector_id}/draft").json()
    document = draft["document"]
    assert document["headers"] == {"X-Tenant": "{{ connector_parameters.tenant }}"}
    assert document["parameters"]["tenant"]["label"] == "Tenant id"
    assert document["parameters"]["tenant"]["help"] == "The tenant all calls go to."
    assert document["parameters"]["partner_secret"]["sensitive"] is True
    assert document["parameters"]["partner_secret"]["required"] is False
    # The sensitive default never comes back: the placeholder stands for it.
    assert document["parameters"]["partner_secret"]["default"] == "********"
    assert "s3cr3t-default" not in str(draft)

    # After the save the tables show what is stored; renaming a header keeps its value.
    expect(page.get_by_label("Default of partner_secret")).to_have_value("********")
    # A name that is no header name is refused, and the row keeps its name.
    page.get_by_label("Header name 1").fill("X Tenant:")
    page.get_by_label("Header name 1").press("Tab")
    expect(page.locator("#status")).to_contain_text('"X Tenant:" is not a header name')
    expect(page.get_by_label("Header name 1")).to_have_value("X-Tenant")
    page.get_by_label("Header name 1").fill("X-Tenant-Id")
    page.get_by_label("Header name 1").press("Tab")
    expect(page.get_by_label("Value of X-Tenant-Id")).to_have_value(
        "{{ connector_parameters.tenant }}"
    )
    page.get_by_role("button", name="Remove partner_secret").click()
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#status")).to_have_text("Draft saved.")
    with live.client() as admin:
        document = admin.get(f"/connectors/{connector_id}/draft").json()["document"]
    assert list(document["parameters"]) == ["tenant"]
    assert document["headers"] == {"X-Tenant-Id": "{{ connector_parameters.tenant }}"}
    check_a11y(page, "Overview with parameters and headers")
