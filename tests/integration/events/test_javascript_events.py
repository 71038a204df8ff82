"""Events implemented in JavaScript: a webhook's ``handle`` and a custom pull, end to end.

The connector is examples/events/testapi-javascript-events (its methods/events.js).
"""

from __future__ import annotations

import asyncio
from typing import Any

import yaml
from events_support import EXAMPLES, WEBHOOK_SECRET, Harness, poll_every_second, publish

EXAMPLE = EXAMPLES / "testapi-javascript-events"


def javascript_events(base_url: str) -> dict[str, Any]:
    """examples/events/testapi-javascript-events, against this test API, pulling every second."""
    data: dict[str, Any] = yaml.safe_load((EXAMPLE / "connector.yaml").read_text())
    data["base_url"] = base_url
    poll_every_second(data)
    return data


def _events(harness: Harness, subscription: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = harness.client.get(
        "/events", params={"subscription_id": subscription}
    ).json()["items"]
    return items


def _subscribe(harness: Harness, connection: str, event: str) -> str:
    created = harness.client.post(
        "/subscriptions", json={"connection_id": connection, "event": event}
    )
    assert created.status_code == 201, created.text
    subscription: str = created.json()["id"]
    harness.wait_for(
        lambda: harness.subscription(subscription)["status"] == "active", f"{event} active"
    )
    return subscription


def test_a_javascript_handle_and_a_custom_pull(harness: Harness) -> None:
    connector_id = asyncio.run(
        publish(
            harness.settings.database_url,
            javascript_events(harness.test_api),
            {"methods/events.js": (EXAMPLE / "methods" / "events.js").read_text()},
        )
    )
    harness.connectors["js-events"] = connector_id
    connection = harness.connect("js-events", api_key="test-api-key", webhook_secret=WEBHOOK_SECRET)
    pushed = _subscribe(harness, connection, "item_updated")
    pulled = _subscribe(harness, connection, "item_changed_pulled")
    # The first pull only recorded where things stand: no event for the 20 existing records.
    assert _events(harness, pulled) == []
    state = harness.subscription(pulled)
    assert state["last_error"] is None

    harness.touch(3, name="changed by a test")
    (handled,) = harness.wait_for(lambda: _events(harness, pushed), "the handled webhook")
    assert handled["type"] == "item.updated"
    assert handled["data"]["via"] == "javascript" and handled["data"]["id"] == 3
    assert handled["data"]["message"].startswith("evt_")  # the headers reached the method

    (polled,) = harness.wait_for(lambda: _events(harness, pulled), "the pulled change")
    assert polled["type"] == "item.updated"
    assert polled["data"]["id"] == 3 and polled["data"]["name"] == "changed by a test"
    # Later pulls start from the method's own cursor: the same change is not reported again.
    runs = harness.subscription(pulled)["last_activity_at"]
    harness.wait_for(
        lambda: harness.subscription(pulled)["last_activity_at"] != runs, "another pull"
    )
    assert len(_events(harness, pulled)) == 1
