"""Collection events on the test API's contacts: pull-latest (created, updated) and a full scan
(deleted), through the collection's own list method."""

from __future__ import annotations

from typing import Any

import httpx
from events_support import Harness

HEADERS = {"X-API-Key": "Token test-api-key", "X-Tenant": "acme"}


def _subscribe(harness: Harness, connection: str, event: str) -> dict[str, Any]:
    created = harness.client.post(
        "/subscriptions", json={"connection_id": connection, "event": event}
    )
    assert created.status_code == 201, created.text
    subscription: dict[str, Any] = created.json()
    harness.wait_for(
        lambda: harness.subscription(subscription["id"])["status"] == "active", "active"
    )
    return subscription


def test_contacts_created_updated_and_deleted_become_events(harness: Harness) -> None:
    connection = harness.connect("testapi", api_key="test-api-key")
    changed = _subscribe(harness, connection, "contact_changed")
    deleted = _subscribe(harness, connection, "contact_deleted")
    # The first pull and the first scan only record where things stand: no event for the
    # contacts that already exist.
    assert harness.client.get("/events").json()["items"] == []

    api = httpx.Client(base_url=harness.test_api, headers=HEADERS)
    contacts = api.get("/crm/contacts", params={"limit": 100}).json()["data"]
    new = api.post(
        "/crm/contacts",
        json={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.test"},
    )
    assert new.status_code in (200, 201), new.text
    new_id = new.json()["id"]
    assert api.patch(f"/crm/contacts/{contacts[0]['id']}", json={"score": 99}).status_code == 200
    assert api.delete(f"/crm/contacts/{contacts[1]['id']}").status_code in (200, 204)

    def seen() -> dict[str, set[str]]:
        items = harness.client.get("/events", params={"limit": 1000}).json()["items"]
        kinds: dict[str, set[str]] = {}
        for item in items:
            kinds.setdefault(item["type"], set()).add(str(item["data"]["id"]))
        return kinds

    harness.wait_for(
        lambda: {"contacts.created", "contacts.updated", "contacts.deleted"} <= set(seen()),
        "the three kinds of change",
    )
    kinds = seen()
    assert kinds["contacts.created"] == {str(new_id)}
    assert str(contacts[0]["id"]) in kinds["contacts.updated"]
    assert kinds["contacts.deleted"] == {str(contacts[1]["id"])}
    # Later pulls re-read their overlap window: nothing is reported twice.
    before = harness.client.get("/events", params={"limit": 1000}).json()["items"]
    activity = harness.subscription(changed["id"])["last_activity_at"]
    harness.wait_for(
        lambda: harness.subscription(changed["id"])["last_activity_at"] != activity, "a pull"
    )
    after = harness.client.get("/events", params={"limit": 1000}).json()["items"]
    assert len(after) == len(before)
    assert harness.subscription(deleted["id"])["status"] == "active"
