"""The builder's Data tab and a connection's record browser, in a real browser."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from playwright.sync_api import expect

from .conftest import REPO, Live, shoot


@pytest.fixture(scope="module")
def crm(live: Live) -> dict[str, str]:
    """The test API's connector with its contacts collection, published, and Ada's connection."""
    document: dict[str, Any] = yaml.safe_load(
        (REPO / "examples/testapi/connector.yaml").read_text()
    )
    document.update(name="CRM Contacts", slug="crm-contacts", base_url=live.test_api)
    with live.client() as admin:
        created = admin.post("/connectors", json={"document": document})
        assert created.status_code == 201, created.text
        connector_id = created.json()["id"]
        published = admin.post(f"/connectors/{connector_id}/publish", json={})
        assert published.status_code in (200, 201), published.text
    with live.client("ada") as ada:
        connection = ada.post(
            "/connections",
            json={
                "connector_id": connector_id,
                "name": "CRM",
                "credentials": {"api_key": "test-api-key"},
            },
        )
        assert connection.status_code == 201, connection.text
    return {"connector": connector_id, "connection": connection.json()["id"]}


def test_data_tab_defines_and_tests_a_collection(
    page_for: Any, live: Live, crm: dict[str, str]
) -> None:
    page = page_for("platform")
    page.goto(f"{live.url}/ui/#/connectors/{crm['connector']}/data")
    expect(page.get_by_label("Operation of list")).to_have_value("list_contacts")
    expect(page.get_by_label("Fields schema (JSON)")).to_contain_text("#/schemas/Contact")
    page.get_by_label("API Key").fill("test-api-key")
    page.get_by_label("Method", exact=True).select_option("list")
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_text("Calls made")).to_be_visible()
    expect(page.locator("table.records")).to_contain_text("Grace Hopper")
    expect(page.locator("td.url").first).to_contain_text("/crm/")
    shoot(page, live, "data-tab")
    assert "test-api-key" not in page.locator(".test-out").inner_text()


def test_record_browser_lists_edits_and_creates(
    page_for: Any, live: Live, crm: dict[str, str]
) -> None:
    page = page_for("ada")
    page.goto(f"{live.url}/ui/#/connections/{crm['connection']}")
    expect(page.get_by_role("heading", name="Records")).to_be_visible()
    page.get_by_role("link", name="Contacts", exact=True).click()
    expect(page.locator("table.records")).to_contain_text("Ada Lovelace")
    page.get_by_role("button", name="Next page").click()
    expect(page.locator("table.records")).to_contain_text("Donald")
    page.get_by_role("button", name="Previous page").click()
    # Ids are the test API's own: a tenant another test touched first took the low ones.
    row = page.locator("table.records tbody tr").filter(has_text="Grace Hopper")
    grace = row.locator("td").first.inner_text().strip()
    row.get_by_role("button", name=grace, exact=True).click()
    record = page.get_by_role("region", name="Record")
    expect(record.get_by_role("heading")).to_have_text("Grace Hopper")
    record.get_by_label("score").fill("77")
    record.get_by_role("button", name="Save changes").click()
    expect(page.locator("#status")).to_contain_text(f"Record {grace} saved")
    shoot(page, live, "records")
    # A create with a read-only-free but invalid value is refused field by field.
    page.get_by_text("New record").click()
    page.get_by_label("Email").last.fill("new@ui.example")
    page.get_by_label("score").last.fill("-5")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#status")).to_contain_text("score")
    page.get_by_label("score").last.fill("5")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#status")).to_contain_text("created")

    viewer = page_for("viewer")
    viewer.goto(f"{live.url}/ui/#/connections/{crm['connection']}/records/contacts")
    expect(viewer.locator("table.records")).to_contain_text("Ada Lovelace")
    expect(viewer.get_by_text("New record")).to_have_count(0)


def test_the_connection_page_shows_its_calls_and_health_history(
    page_for: Any, live: Live, crm: dict[str, str]
) -> None:
    page = page_for("ada")
    page.goto(f"{live.url}/ui/#/connections/{crm['connection']}")
    page.get_by_label("Operation").select_option(label="GET get_item")
    page.get_by_label("id").fill("4")
    page.get_by_role("button", name="Run").click()
    expect(page.locator("#status")).to_contain_text("get_item")
    page.get_by_role("button", name="Refresh").click()
    calls = page.locator("table.calls")
    expect(calls).to_contain_text("get_item")
    calls.locator("tr", has_text="get_item").first.get_by_role("button", name="Details").click()
    details = page.get_by_role("region", name="Call details")
    expect(details).to_contain_text("X-API-Key: [REDACTED]")
    expect(details).not_to_contain_text("test-api-key")
    page.get_by_label("Status", exact=True).select_option("error")
    expect(calls).not_to_contain_text("get_item")
    # Follow: a call made elsewhere shows up without reloading.
    page.get_by_label("Status", exact=True).select_option("")
    page.get_by_label("Follow new calls").check()
    with live.client("ada") as ada:
        path = f"/connections/{crm['connection']}/operations/get_status"
        ada.post(path, json={"params": {"code": 404}})
    expect(calls).to_contain_text("get_status")
    page.reload()  # the history was read when the page opened, before the first call
    expect(page.locator("table.health-history")).to_contain_text("unknown → healthy")
    section = page.locator("section", has=page.get_by_role("heading", name="Calls"))
    section.get_by_role("button", name="Details").first.click()
    section.screenshot(path=str(live.shots / "calls.png"))


def test_data_tab_names_the_javascript_method_of_each_method(page_for: Any, live: Live) -> None:
    # examples/testapi-javascript-collections, published at start-up with the other examples.
    with live.client() as admin:
        listed = admin.get("/connectors", params={"q": "testapi-javascript-collections"}).json()
    [connector] = [c for c in listed["items"] if c["slug"] == "testapi-javascript-collections"]
    page = page_for("platform")
    page.goto(f"{live.url}/ui/#/connectors/{connector['id']}/data")
    expect(page.get_by_role("row", name=re.compile("^list"))).to_contain_text(
        "JavaScript method methods/contacts.js#list"
    )
    expect(page.get_by_role("row", name=re.compile("^delete"))).to_contain_text(
        "methods/contacts.js#remove"
    )
