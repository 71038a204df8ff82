"""A webhook whose subscribe and unsubscribe are JavaScript methods (issue 12's runner)."""

from __future__ import annotations

import asyncio
from typing import Any

from events_support import EXAMPLES, WEBHOOK_SECRET, Harness, document, publish

HOOKS_JS = """
export async function subscribe(ctx) {
  const hook = await ctx.apiClient.post('/webhooks', {
    url: ctx.input.webhook_url, secret: ctx.credentials.webhook_secret, ttl: 3600,
  });
  return { state: { webhook_id: hook.id }, expires_at: hook.expires_at };
}

export async function unsubscribe(ctx) {
  await ctx.apiClient.delete(`/webhooks/${ctx.input.state.webhook_id}`);
}
"""


def _javascript_connector(base_url: str) -> dict[str, Any]:
    data = document("testapi-webhooks.yaml", base_url, None)
    data["slug"] = "testapi-webhooks-js"
    data["name"] = "Test API Webhooks (JavaScript)"
    hook = data["events"][0]["webhook"]
    hook["subscribe"] = {
        "method": {
            "file": "methods/hooks.js",
            "export": "subscribe",
            "credentials": ["webhook_secret"],
        }
    }
    hook["unsubscribe"] = {"method": "methods/hooks.js#unsubscribe"}
    del hook["refresh"]
    return data


def test_javascript_subscribe_and_unsubscribe(harness: Harness) -> None:
    assert EXAMPLES.is_dir()
    connector_id = asyncio.run(
        publish(
            harness.settings.database_url,
            _javascript_connector(harness.test_api),
            {"methods/hooks.js": HOOKS_JS},
        )
    )
    harness.connectors["js"] = connector_id
    connection = harness.connect("js", api_key="test-api-key", webhook_secret=WEBHOOK_SECRET)
    created = harness.client.post(
        "/subscriptions", json={"connection_id": connection, "event": "item_updated"}
    ).json()
    harness.wait_for(
        lambda: harness.subscription(created["id"])["status"] == "active", "subscribed by JS"
    )
    [registration] = harness.registrations()
    subscription = harness.subscription(created["id"])
    assert registration["url"] == subscription["intake_url"]
    assert subscription["expires_at"] is not None
    harness.touch(4)
    events = harness.wait_for(lambda: harness.client.get("/events").json()["items"], "event")
    assert events[0]["data"]["id"] == 4
    assert harness.client.delete(f"/subscriptions/{created['id']}").status_code == 204
    harness.wait_for(lambda: harness.registrations() == [], "unsubscribed by JS")
