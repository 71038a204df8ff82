"""Webhook events end to end against the test API as a real, signing sender."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from typing import Any

import httpx
import orjson
import standardwebhooks
from events_support import WEBHOOK_SECRET, Harness
from sqlalchemy import update

from connectory.store import WebhookEndpoint, create_engine, create_sessionmaker


def _endpoint(harness: Harness, **extra: Any) -> dict[str, Any]:
    response = harness.client.post(
        "/webhook-endpoints", json={"url": harness.receiver.url, **extra}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["secret"].startswith("whsec_")
    return body


def _subscribe(harness: Harness, connection: str, event: str, **parameters: Any) -> dict[str, Any]:
    response = harness.client.post(
        "/subscriptions",
        json={"connection_id": connection, "event": event, "parameters": parameters},
    )
    assert response.status_code == 201, response.text
    subscription: dict[str, Any] = response.json()
    harness.wait_for(
        lambda: harness.subscription(subscription["id"])["status"] == "active",
        "the subscription to become active",
    )
    return harness.subscription(subscription["id"])


def _webhook_connection(harness: Harness) -> str:
    return harness.connect("webhooks", api_key="test-api-key", webhook_secret=WEBHOOK_SECRET)


def test_a_record_change_arrives_signed_at_the_endpoint(harness: Harness) -> None:
    endpoint = _endpoint(harness)
    connection = _webhook_connection(harness)
    subscription = _subscribe(harness, connection, "item_updated")
    # subscribe registered the intake URL with the provider, after its handshake.
    registrations = harness.registrations()
    assert [r["url"] for r in registrations] == [subscription["intake_url"]]
    assert subscription["expires_at"] is not None

    assert harness.touch(3, name="renamed")["notified"] == 1
    harness.wait_for(lambda: harness.receiver.requests, "the delivery")
    delivered = harness.receiver.requests[0]
    # Verified with the standardwebhooks package, independently of Connectory's signing code.
    payload = standardwebhooks.Webhook(endpoint["secret"]).verify(delivered.body, delivered.headers)
    assert payload["type"] == "item.updated"
    assert payload["data"]["id"] == 3 and payload["data"]["name"] == "renamed"
    assert payload["subscription_id"] == subscription["id"]
    assert payload["connection_id"] == connection
    assert delivered.headers["webhook-id"] == payload["id"]

    events = harness.client.get("/events", params={"after": 0}).json()
    assert [e["id"] for e in events["items"]] == [payload["id"]]
    assert events["next_after"] == events["items"][0]["seq"]
    deliveries = harness.client.get("/deliveries").json()
    harness.wait_for(
        lambda: harness.client.get("/deliveries").json()[0]["status"] == "succeeded",
        "the delivery to be recorded",
    )
    assert deliveries[0]["event_id"] == payload["id"]
    status = harness.subscription(subscription["id"])
    assert status["last_activity_at"] is not None and status["lag_seconds"] is not None


def test_a_replayed_notification_is_stored_once(harness: Harness) -> None:
    connection = _webhook_connection(harness)
    subscription = _subscribe(harness, connection, "item_updated")
    body = orjson.dumps({"events": [{"id": "evt_x", "type": "item.updated", "item": {"id": 1}}]})
    stamp = int(time.time())
    signature = standardwebhooks.Webhook(WEBHOOK_SECRET).sign("msg_1", _moment(stamp), body)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature,
    }
    first = httpx.post(subscription["intake_url"], content=body, headers=headers)
    again = httpx.post(subscription["intake_url"], content=body, headers=headers)
    assert first.status_code == 200 and first.json() == {"received": True}
    assert again.status_code == 200 and again.json()["duplicate"] is True
    harness.wait_for(lambda: harness.client.get("/events").json()["items"], "the event")
    assert len(harness.client.get("/events").json()["items"]) == 1


def _moment(stamp: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(stamp, UTC)


def test_intake_refuses_forged_stale_unknown_and_oversized(harness: Harness) -> None:
    connection = _webhook_connection(harness)
    subscription = _subscribe(harness, connection, "item_updated")
    url = subscription["intake_url"]
    body = b'{"events": []}'
    stamp = int(time.time())
    forged = standardwebhooks.Webhook("whsec_" + base64.b64encode(b"x" * 24).decode()).sign(
        "m1", _moment(stamp), body
    )
    headers = {"webhook-id": "m1", "webhook-timestamp": str(stamp), "webhook-signature": forged}
    answer = httpx.post(url, content=body, headers=headers)
    assert answer.status_code == 401 and answer.json()["code"] == "webhook_rejected"
    old = stamp - 3600
    stale = standardwebhooks.Webhook(WEBHOOK_SECRET).sign("m2", _moment(old), body)
    answer = httpx.post(
        url,
        content=body,
        headers={"webhook-id": "m2", "webhook-timestamp": str(old), "webhook-signature": stale},
    )
    assert answer.status_code == 401 and "timestamp" in answer.json()["detail"]
    assert httpx.post(url, content=body).status_code == 401  # unsigned
    assert httpx.post(url + "x", content=body).status_code == 404
    assert httpx.post(f"{harness.url}/hooks/short", content=body).status_code == 404
    huge = b"x" * (harness.settings.max_intake_bytes + 1)
    assert httpx.post(url, content=huge, headers=headers).status_code == 413
    assert harness.client.get("/events").json()["items"] == []
    # The secret never shows in an answer.
    assert WEBHOOK_SECRET not in harness.client.get(f"/subscriptions/{subscription['id']}").text


def test_a_failing_endpoint_dead_letters_then_replays(harness: Harness) -> None:
    harness.receiver.statuses = [500]
    _endpoint(harness)
    connection = _webhook_connection(harness)
    _subscribe(harness, connection, "item_updated")
    harness.touch(5)
    dead = harness.wait_for(
        lambda: harness.client.get("/deliveries", params={"status": "dead"}).json(),
        "the dead letter",
    )
    attempts = harness.client.get(f"/deliveries/{dead[0]['id']}").json()["attempt_log"]
    assert [a["status_code"] for a in attempts] == [500, 500, 500]  # delivery_max_attempts
    assert len(harness.receiver.requests) == 3
    # The server's in-process worker counts it where /metrics shows it: once, by connector.
    dead_letters = f'connectory_dead_letters_total{{connector="{harness.connectors["webhooks"]}"}}'
    exposition = harness.client.get("/metrics").text.splitlines()
    assert f"{dead_letters} 1.0" in exposition
    assert any(line.startswith("connectory_event_queue_depth{") for line in exposition)
    harness.receiver.statuses = [200]
    replayed = harness.client.post(f"/deliveries/{dead[0]['id']}/replay")
    assert replayed.status_code == 200, replayed.text
    harness.wait_for(
        lambda: harness.client.get(f"/deliveries/{dead[0]['id']}").json()["status"] == "succeeded",
        "the replay to succeed",
    )
    assert len(harness.receiver.requests) == 4


def test_deliveries_keep_order_per_subscription_through_failures(harness: Harness) -> None:
    harness.receiver.statuses = [500, 500, 200]  # the first event fails twice, then all pass
    _endpoint(harness)
    connection = _webhook_connection(harness)
    _subscribe(harness, connection, "item_updated")
    for record in (1, 2, 3):
        harness.touch(record, name=f"n{record}")
    try:
        harness.wait_for(
            lambda: (
                [d["status"] for d in harness.client.get("/deliveries").json()] == ["succeeded"] * 3
            ),
            "three deliveries",
        )
    except AssertionError:
        sent = [orjson.loads(body)["data"]["id"] for body in harness.receiver.ok_bodies()]
        deliveries = harness.client.get("/deliveries").json()
        raise AssertionError(f"deliveries: {deliveries}; sent: {sent}") from None
    ids = [orjson.loads(body)["data"]["id"] for body in harness.receiver.ok_bodies()]
    assert ids == [1, 1, 1, 2, 3]  # retries of 1 come before 2 is ever sent


def test_rotated_secret_signs_with_both_for_the_overlap(harness: Harness) -> None:
    endpoint = _endpoint(harness)
    rotated = harness.client.post(f"/webhook-endpoints/{endpoint['id']}/rotate-secret").json()
    assert rotated["secret"] != endpoint["secret"]
    assert rotated["previous_secret_expires_at"] is not None
    shown = harness.client.get(f"/webhook-endpoints/{endpoint['id']}").json()
    assert shown["secret"] is None  # write-only
    test = harness.client.post(f"/webhook-endpoints/{endpoint['id']}/test")
    assert test.status_code == 202, test.text
    harness.wait_for(lambda: harness.receiver.requests, "the test event")
    delivered = harness.receiver.requests[0]
    assert len(delivered.headers["webhook-signature"].split(" ")) == 2
    for secret in (endpoint["secret"], rotated["secret"]):
        payload = standardwebhooks.Webhook(secret).verify(delivered.body, delivered.headers)
        assert payload["type"] == "connectory.test"


def test_unsubscribe_and_connection_deletion_remove_the_registration(harness: Harness) -> None:
    connection = _webhook_connection(harness)
    first = _subscribe(harness, connection, "item_updated")
    assert len(harness.registrations()) == 1
    assert harness.client.delete(f"/subscriptions/{first['id']}").status_code == 204
    harness.wait_for(lambda: harness.registrations() == [], "the provider to forget it")
    # The row goes once the background unsubscribe has committed, just after the provider
    # answered it: on a loaded machine the test can look in between.
    harness.wait_for(
        lambda: harness.client.get(f"/subscriptions/{first['id']}").status_code == 404,
        "the subscription to be gone",
    )
    _subscribe(harness, connection, "item_updated")
    assert len(harness.registrations()) == 1
    assert harness.client.delete(f"/connections/{connection}").status_code == 204
    harness.wait_for(lambda: harness.registrations() == [], "the provider to forget the second")


def test_a_subscription_is_refreshed_before_it_expires(harness: Harness) -> None:
    connection = _webhook_connection(harness)
    # ttl 601 s with refresh_before_seconds 600: due for refresh one second after subscribing.
    subscription = _subscribe(harness, connection, "item_updated", ttl=601)
    first_expiry = subscription["expires_at"]
    harness.wait_for(
        lambda: harness.subscription(subscription["id"])["expires_at"] != first_expiry,
        "the refresh",
    )
    assert harness.subscription(subscription["id"])["status"] == "active"


def test_the_handshake_is_answered_inline(harness: Harness) -> None:
    connection = _webhook_connection(harness)
    subscription = _subscribe(harness, connection, "item_updated")
    answer = httpx.get(
        subscription["intake_url"], params={"hub.mode": "subscribe", "hub.challenge": "abc123"}
    )
    assert answer.status_code == 200 and answer.text == "abc123"
    assert httpx.get(subscription["intake_url"]).status_code == 422


def test_subscribing_to_an_unknown_event_or_foreign_connection_is_refused(
    harness: Harness,
) -> None:
    connection = _webhook_connection(harness)
    response = harness.client.post(
        "/subscriptions", json={"connection_id": connection, "event": "nope"}
    )
    assert response.status_code == 422 and "item_updated" in response.json()["detail"]
    response = harness.client.post(
        "/subscriptions", json={"connection_id": "0" * 32, "event": "item_updated"}
    )
    assert response.status_code == 404


def test_polling_reports_each_change_once(harness: Harness) -> None:
    _endpoint(harness)
    connection = _webhook_connection(harness)
    subscription = _subscribe(harness, connection, "item_changed_polled")
    harness.touch(7, name="polled")
    events = harness.wait_for(
        lambda: harness.client.get("/events", params={"type": "item.updated"}).json()["items"],
        "the polled change",
    )
    assert [e["data"]["id"] for e in events] == [7]
    assert events[0]["subscription_id"] == subscription["id"]
    # Later polls re-read the overlap window: the same change is not reported twice.
    runs = harness.subscription(subscription["id"])["last_activity_at"]
    harness.wait_for(
        lambda: harness.subscription(subscription["id"])["last_activity_at"] != runs,
        "another poll",
    )
    assert len(harness.client.get("/events").json()["items"]) == 1


def test_global_webhook_routes_by_account(harness: Harness) -> None:
    signing = "whsec_" + base64.b64encode(hashlib.sha256(b"global").digest()[:24]).decode()
    parameters = harness.client.put(
        f"/connectors/{harness.connectors['global']}/parameters",
        json={"values": {"signing_secret": signing}},
    )
    assert parameters.status_code in (200, 403), parameters.text
    if parameters.status_code == 403:
        _set_parameters_directly(harness, harness.connectors["global"], signing)
    connection = harness.connect("global", api_key="test-api-key")
    subscription = _subscribe(harness, connection, "account_item_updated")
    assert subscription["selector"] == "acct-1"
    url = subscription["intake_url"]
    assert url is not None and "/hooks/" in url
    httpx.post(
        f"{harness.test_api}/_admin/global-webhook", json={"url": url, "secret": signing}
    ).raise_for_status()
    harness.touch(9)
    events = harness.wait_for(
        lambda: harness.client.get("/events").json()["items"], "the routed event"
    )
    assert events[0]["subscription_id"] == subscription["id"]
    assert events[0]["data"]["id"] == 9
    assert hmac.compare_digest(events[0]["type"], "item.updated")


def _set_parameters_directly(harness: Harness, connector_id: str, signing: str) -> None:
    import asyncio

    from connectory.services.connection_runtime import CONNECTOR_PARAMETERS_OWNER
    from connectory.services.secret_store import SecretBox, write_secrets
    from connectory.services.server_runtime import load_key_ring
    from connectory.store import create_engine, create_sessionmaker

    async def write() -> None:
        engine = create_engine(harness.settings.database_url)
        box = SecretBox(lambda: load_key_ring(harness.settings))
        async with create_sessionmaker(engine)() as session:
            await write_secrets(
                session, box, CONNECTOR_PARAMETERS_OWNER, connector_id, {"signing_secret": signing}
            )
            await session.commit()
        await engine.dispose()

    asyncio.run(write())


def test_a_url_with_a_port_out_of_range_is_refused_when_set(harness: Harness) -> None:
    bad = "http://example.com:99999/hook"  # the schema's pattern allows five digits
    created = harness.client.post("/webhook-endpoints", json={"url": bad})
    assert created.status_code == 422, created.text
    assert "not a valid URL" in created.json()["detail"]
    endpoint = _endpoint(harness)
    changed = harness.client.patch(f"/webhook-endpoints/{endpoint['id']}", json={"url": bad})
    assert changed.status_code == 422, changed.text
    assert harness.client.get(f"/webhook-endpoints/{endpoint['id']}").json()["url"] == (
        harness.receiver.url
    )


def test_an_unparseable_stored_url_dead_letters_without_stopping_other_deliveries(
    harness: Harness,
) -> None:
    broken = _endpoint(harness)
    working = _endpoint(harness)
    # Stored past the API (as before it checked ports): yarl cannot parse it at the send.
    asyncio.run(_set_url(harness, broken["id"], "http://example.com:99999/hook"))
    connection = _webhook_connection(harness)
    _subscribe(harness, connection, "item_updated")
    harness.touch(4)

    def deliveries(endpoint: dict[str, Any]) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = harness.client.get(
            "/deliveries", params={"endpoint_id": endpoint["id"]}
        ).json()
        return listed

    harness.wait_for(
        lambda: [d["status"] for d in deliveries(broken)] == ["dead"], "the dead letter"
    )
    harness.wait_for(
        lambda: [d["status"] for d in deliveries(working)] == ["succeeded"],
        "the other endpoint's delivery to be recorded",
    )
    dead = deliveries(broken)[0]
    attempts = harness.client.get(f"/deliveries/{dead['id']}").json()["attempt_log"]
    assert len(attempts) == 3  # delivery_max_attempts: retried with backoff, then dead
    assert all(a["error"].startswith("InvalidURL: ") for a in attempts)
    assert len(harness.receiver.requests) == 1  # sent once, its outcome recorded


async def _set_url(harness: Harness, endpoint_id: str, url: str) -> None:
    engine = create_engine(harness.settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            await session.execute(
                update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(url=url)
            )
            await session.commit()
    finally:
        await engine.dispose()
