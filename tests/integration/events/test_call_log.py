"""Background work in the connection's call log: polls, received webhooks handled, deliveries.

Each is an entry of ``GET /connections/{id}/calls`` with its kind, outcome, duration and
excerpts, redacted like every other entry: the connection's credentials, the webhook signing
secret, the endpoint's secret and the intake URL's token never show.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import standardwebhooks
from events_support import WEBHOOK_SECRET, Harness


def _calls(harness: Harness, connection: str, kind: str) -> list[dict[str, Any]]:
    response = harness.client.get(
        f"/connections/{connection}/calls", params={"kind": kind, "excerpts": "true"}
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _subscribe(harness: Harness, connection: str, event: str) -> dict[str, Any]:
    response = harness.client.post(
        "/subscriptions", json={"connection_id": connection, "event": event, "parameters": {}}
    )
    assert response.status_code == 201, response.text
    subscription: dict[str, Any] = response.json()
    return subscription


def _active(harness: Harness, subscription: dict[str, Any]) -> dict[str, Any]:
    harness.wait_for(
        lambda: harness.subscription(subscription["id"])["status"] == "active",
        "the subscription to become active",
    )
    return harness.subscription(subscription["id"])


def _no_secrets(entry: dict[str, Any], *secrets: str) -> None:
    shown = orjson.dumps(entry).decode()
    for secret in secrets:
        assert secret not in shown


def test_handled_webhooks_and_deliveries_are_entries(harness: Harness) -> None:
    endpoint = harness.client.post("/webhook-endpoints", json={"url": harness.receiver.url})
    assert endpoint.status_code == 201, endpoint.text
    endpoint_secret = endpoint.json()["secret"]
    harness.receiver.statuses = [500, 200]  # the first try fails, the retry succeeds
    connection = harness.connect("webhooks", api_key="test-api-key", webhook_secret=WEBHOOK_SECRET)
    subscription = _active(harness, _subscribe(harness, connection, "item_updated"))
    token = subscription["intake_url"].rsplit("/", 1)[1]

    harness.touch(3, name="renamed")
    harness.wait_for(lambda: len(harness.receiver.requests) >= 2, "the delivery and its retry")

    (intake,) = harness.wait_for(
        lambda: _calls(harness, connection, "webhook_intake"), "the handled webhook's entry"
    )
    assert intake["operation"] == "item_updated" and intake["status"] == "ok"
    assert intake["duration_ms"] >= 0 and intake["error_class"] is None
    excerpt = intake["request_excerpt"]
    assert excerpt.startswith("POST /hooks/[REDACTED]")
    assert "webhook-signature: [REDACTED]" in excerpt  # by name: a signature
    assert '"renamed"' in excerpt  # the body's head
    _no_secrets(intake, token, WEBHOOK_SECRET, WEBHOOK_SECRET.removeprefix("whsec_"))

    def both_tries() -> list[dict[str, Any]] | None:
        entries = _calls(harness, connection, "webhook_delivery")
        return entries if len(entries) >= 2 else None

    deliveries = harness.wait_for(both_tries, "both tries' entries")
    assert len(deliveries) == 2
    # Newest first: the retry that succeeded, then the try the endpoint refused.
    assert [d["status"] for d in deliveries] == ["ok", "error"]
    assert [d["status_code"] for d in deliveries] == [200, 500]
    assert deliveries[1]["error_class"] == "UpstreamError"
    assert "answered 500" in deliveries[1]["error_message"]
    for entry in deliveries:
        assert entry["operation"] == "item.updated" and entry["attempts"] == 1
        assert entry["request_excerpt"].startswith(f"POST {harness.receiver.url}")
        assert "webhook-signature: [REDACTED]" in entry["request_excerpt"]
        assert entry["response_excerpt"].startswith(str(entry["status_code"]))
        _no_secrets(entry, endpoint_secret, endpoint_secret.removeprefix("whsec_"))


def test_a_webhook_that_cannot_be_handled_is_an_error_entry(harness: Harness) -> None:
    connection = harness.connect("webhooks", api_key="test-api-key", webhook_secret=WEBHOOK_SECRET)
    subscription = _active(harness, _subscribe(harness, connection, "item_updated"))
    body = b"this is not JSON"
    stamp = int(time.time())
    signature = standardwebhooks.Webhook(WEBHOOK_SECRET).sign(
        "msg_bad", datetime.fromtimestamp(stamp, UTC), body
    )
    accepted = httpx.post(
        subscription["intake_url"],
        content=body,
        headers={
            "webhook-id": "msg_bad",
            "webhook-timestamp": str(stamp),
            "webhook-signature": signature,
        },
    )
    assert accepted.status_code == 200, accepted.text  # stored first, handled later
    (entry,) = harness.wait_for(
        lambda: _calls(harness, connection, "webhook_intake"), "the failed handling's entry"
    )
    assert entry["status"] == "error" and entry["error_class"] == "EventError"
    assert entry["error_message"]
    assert "this is not JSON" in entry["request_excerpt"]
    _no_secrets(entry, WEBHOOK_SECRET)


def test_polls_are_entries_with_their_outcome(harness: Harness) -> None:
    connection = harness.connect("webhooks", api_key="test-api-key", webhook_secret=WEBHOOK_SECRET)
    _active(harness, _subscribe(harness, connection, "item_changed_polled"))
    polls = harness.wait_for(lambda: _calls(harness, connection, "poll"), "a poll's entry")
    entry = polls[-1]  # the first poll
    assert entry["operation"] == "item_changed_polled" and entry["status"] == "ok"
    assert entry["status_code"] == 200 and entry["attempts"] >= 1
    assert entry["request_excerpt"].startswith("GET ") and "/changes" in entry["request_excerpt"]
    assert "X-API-Key: [REDACTED]" in entry["request_excerpt"]
    _no_secrets(entry, "test-api-key", WEBHOOK_SECRET)

    # Wrong credentials: the poll fails, and its entry says how.
    refused = harness.connect("webhooks", api_key="not-the-key", webhook_secret=WEBHOOK_SECRET)
    subscription = _subscribe(harness, refused, "item_changed_polled")
    harness.wait_for(
        lambda: harness.subscription(subscription["id"])["status"] == "failing",
        "the subscription to fail",
    )
    (failed,) = harness.wait_for(lambda: _calls(harness, refused, "poll"), "the failed poll")
    assert failed["status"] == "error" and failed["status_code"] == 401
    assert failed["error_class"] is not None and failed["error_message"]
    _no_secrets(failed, "not-the-key", WEBHOOK_SECRET)
