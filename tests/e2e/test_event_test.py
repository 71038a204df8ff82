"""The Events tab tests an event before publishing: pull, create a record, pull again."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from connectory.spec.loader import read_connector_data

from .conftest import REPO, TEST_API_KEY, Live, check_a11y, shoot

pytest.importorskip("playwright")
from playwright.sync_api import expect

#: A tenant of the test API of this journey's own, so other tests' contacts are not news here.
TENANT = "evtest-e2e"


def _create(live: Live) -> str:
    document: dict[str, Any] = read_connector_data(REPO / "examples" / "testapi" / "connector.yaml")
    document.update(name="Event test", slug="event-test-e2e", base_url=live.test_api)
    document["parameters"]["tenant"]["default"] = TENANT
    with live.client() as admin:
        created = admin.post("/connectors", json={"document": document})
        assert created.status_code == 201, created.text
        return str(created.json()["id"])


def test_pull_now_then_a_created_contact_is_exactly_one_new_event(
    page_for: Any, live: Live
) -> None:
    connector_id = _create(live)
    page = page_for("platform")
    page.goto(f"{live.url}/ui/#/connectors/{connector_id}/events")
    page.get_by_label(re.compile(r"^API Key")).fill(TEST_API_KEY)
    test = page.get_by_role("region", name="Test contact_changed")
    test.get_by_role("button", name="Pull again").wait_for()
    expect(test.get_by_role("button", name="Pull again")).to_be_disabled()

    # The first pull only records where things stand.
    test.get_by_role("button", name="Pull now").click()
    expect(test.get_by_text("no new events", exact=True)).to_be_visible()
    expect(test.get_by_text("a first pull only records where things stand")).to_be_visible()

    with httpx.Client(base_url=live.test_api, timeout=10) as upstream:
        made = upstream.post(
            "/crm/contacts",
            json={"email": "grace@example.com", "first_name": "Grace"},
            headers={"X-API-Key": f"Token {TEST_API_KEY}", "X-Tenant": TENANT},
        )
        assert made.status_code == 201, made.text

    test.get_by_role("button", name="Pull again").click()
    table = test.get_by_role("table")
    expect(table.get_by_role("caption")).to_have_text("1 event(s)")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr td").first).to_have_text("contacts.created")
    table.locator("summary", has_text="Payload").click()
    expect(table.locator("pre")).to_contain_text("grace@example.com")
    test.get_by_text(re.compile(r"^Requests \(\d+\)$")).click()
    expect(test.get_by_role("listitem").filter(has_text="/crm/contacts?").first).to_contain_text(
        re.compile(r"GET http://127\.0\.0\.1:\d+/crm/contacts\?.*updated_since=")
    )
    # Tall enough for the event's card and its result under the credentials.
    page.set_viewport_size({"width": 1280, "height": 1500})
    shoot(page, live, "builder-event-test")
    page.set_viewport_size({"width": 1280, "height": 720})

    # Nothing changed since: the overlap reads the contact again, but it is not news twice.
    test.get_by_role("button", name="Pull again").click()
    expect(test.get_by_text("no new events", exact=True)).to_be_visible()
    expect(test.get_by_text("1 read again, already emitted")).to_be_visible()
    expect(test.get_by_role("table")).to_have_count(0)


def test_handle_a_sample_webhook_shows_its_events_and_signature(page_for: Any, live: Live) -> None:
    document: dict[str, Any] = read_connector_data(
        REPO / "examples" / "events" / "testapi-webhooks.yaml"
    )
    document.update(name="Webhook test", slug="webhook-test-e2e", base_url=live.test_api)
    with live.client() as admin:
        created = admin.post("/connectors", json={"document": document})
        assert created.status_code == 201, created.text
        connector_id = created.json()["id"]
    page = page_for("platform")
    page.goto(f"{live.url}/ui/#/connectors/{connector_id}/events")
    page.get_by_label(re.compile(r"^API Key")).fill(TEST_API_KEY)
    page.get_by_label(re.compile(r"^Webhook signing secret")).fill("whsec_" + "a" * 32)
    test = page.get_by_role("region", name="Test item_updated")
    test.get_by_label("Sample headers (item_updated)").fill("webhook-id msg_1")
    test.get_by_role("button", name="Handle").click()
    expect(test.get_by_text('Header line 1 is not "Name: value".')).to_be_visible()

    test.get_by_label("Sample headers (item_updated)").fill(
        "Content-Type: application/json\nwebhook-id: msg_1\nwebhook-timestamp: 1\n"
        "webhook-signature: v1,bm90IHRoZSBzaWduYXR1cmU="
    )
    test.get_by_label("Sample body (item_updated)").fill(
        '{"events": [{"id": "evt_1", "type": "item.updated", "item": {"id": 1, "name": "one"}}]}'
    )
    test.get_by_role("button", name="Handle").click()
    table = test.get_by_role("table")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr td").nth(1)).to_have_text("evt_1")
    # Reported, not required: the stale timestamp is said, and what intake would answer.
    expect(test.get_by_text("invalid", exact=True)).to_be_visible()
    expect(test).to_contain_text("Intake would answer HTTP 401")
    check_a11y(page, "builder-event-handle")
