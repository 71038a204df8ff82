"""The Events tab's test: one pull of a poll or collection event, or handle a sample webhook."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from connectory.events.signing import signature_header
from connectory.spec.loader import read_connector_data
from connectory.testing import TestApiCredentials, create_test_api, serve

from .connector_support import create, example_files, example_yaml
from .support import World

ROOT = Path(__file__).resolve().parents[2] / "examples"
WEBHOOKS = ROOT / "events" / "testapi-webhooks.yaml"
CRM = ROOT / "testapi" / "connector.yaml"
CANARY = "CANARY-event-test-5c81e2"
KEY = {"api_key": "test-api-key"}
WHSEC = "whsec_" + base64.b64encode(b"event-test-signing-key-0123456").decode()


async def _connector(api: httpx.AsyncClient, world: World, path: Path, url: str) -> str:
    document: dict[str, Any] = read_connector_data(path)
    document["base_url"] = url
    if path == WEBHOOKS:
        # Optional here, so a sample can be tried without it (its signature then not checked).
        document["auth"]["credential_schema"]["webhook_secret"]["required"] = False
    created = await create(api, world, "a_admin", document)
    return str(created["id"])


async def test_a_poll_pulls_from_the_returned_state_and_an_unchanged_upstream_gives_nothing(
    api: httpx.AsyncClient, world: World
) -> None:
    app = create_test_api(records=5, credentials=TestApiCredentials(api_key=CANARY))
    with serve(app) as url:
        connector_id = await _connector(api, world, WEBHOOKS, url)
        test_url = f"/connectors/{connector_id}/draft/event-test"
        body: dict[str, Any] = {"event": "item_changed_polled", "credentials": {"api_key": CANARY}}
        first = await api.post(test_url, json=body, headers=world.auth("a_admin"))
        assert first.status_code == 200, first.text
        result = first.json()
        # The first poll of a baseline event records where things stand: no past records.
        assert result["kind"] == "pull" and result["events"] == [] and result["error"] is None
        assert result["cursor"] and result["state"]["cursor"] == result["cursor"]
        assert len(result["exchanges"]) == 1
        assert "/changes" in result["exchanges"][0]["request"]["url"]
        assert CANARY not in first.text

        async with httpx.AsyncClient(base_url=url) as upstream:
            touched = await upstream.post("/_admin/touch/3", params={"name": "renamed"})
            assert touched.status_code == 200, touched.text
        again = {**body, "state": result["state"], "seen": result["seen"]}
        second = await api.post(test_url, json=again, headers=world.auth("a_admin"))
        assert second.status_code == 200, second.text
        news = second.json()
        assert [(e["type"], e["payload"]["name"]) for e in news["events"]] == [
            ("item.updated", "renamed")
        ]
        assert news["event_count"] == 1 and news["events"][0]["id"].startswith("3@")
        assert "updated_since=" in news["exchanges"][0]["request"]["url"]

        third = await api.post(
            test_url,
            json={**body, "state": news["state"], "seen": news["seen"]},
            headers=world.auth("a_admin"),
        )
        assert third.status_code == 200, third.text
        # Read again in the overlap, the change is not news twice (the dedup key drops it).
        assert third.json()["events"] == [] and third.json()["cursor"] == news["cursor"]
        assert third.json()["repeated"] == 1


async def test_a_collection_event_sees_exactly_the_created_contact(
    api: httpx.AsyncClient, world: World
) -> None:
    with serve(create_test_api(records=5)) as url:
        connector_id = await _connector(api, world, CRM, url)
        test_url = f"/connectors/{connector_id}/draft/event-test"
        body: dict[str, Any] = {"event": "contact_changed", "credentials": KEY}
        first = await api.post(test_url, json=body, headers=world.auth("a_admin"))
        assert first.status_code == 200, first.text
        assert first.json()["events"] == [] and first.json()["error"] is None
        async with httpx.AsyncClient(base_url=url) as upstream:
            made = await upstream.post(
                "/crm/contacts",
                json={"email": "new@example.com", "first_name": "New"},
                headers={"X-API-Key": "Token test-api-key"},
            )
            assert made.status_code in (200, 201), made.text
        second = await api.post(
            test_url,
            json={**body, "state": first.json()["state"], "seen": first.json()["seen"]},
            headers=world.auth("a_admin"),
        )
        assert second.status_code == 200, second.text
        events = second.json()["events"]
        assert [e["type"] for e in events] == ["contacts.created"]
        assert "new@example.com" in orjson.dumps(events[0]["payload"]).decode()


async def test_a_refused_pull_is_an_answer_with_its_exchange(
    api: httpx.AsyncClient, world: World
) -> None:
    app = create_test_api(records=2, credentials=TestApiCredentials(api_key=CANARY))
    with serve(app) as url:
        connector_id = await _connector(api, world, WEBHOOKS, url)
        refused = await api.post(
            f"/connectors/{connector_id}/draft/event-test",
            json={"event": "item_changed_polled", "credentials": {"api_key": "wrong-key"}},
            headers=world.auth("a_admin"),
        )
        assert refused.status_code == 200, refused.text
        result = refused.json()
        assert result["error"] and result["events"] == [] and result["state"] is None
        assert result["exchanges"] and result["exchanges"][-1]["status_code"] == 401


async def test_a_webhook_sample_is_handled_and_its_signature_reported(
    api: httpx.AsyncClient, world: World
) -> None:
    with serve(create_test_api(records=2)) as url:
        connector_id = await _connector(api, world, WEBHOOKS, url)
        test_url = f"/connectors/{connector_id}/draft/event-test"
        item = {"id": 7, "name": "seven", "updated_at": "2026-12-05T10:00:00Z"}
        event = {"id": "evt_9", "type": "item.updated", "occurred_at": item["updated_at"],
                 "item": item}  # fmt: skip
        raw = orjson.dumps({"events": [event]})
        signed = signature_header([WHSEC], "evt_9", int(time.time()), raw)
        sample = {"headers": {**signed, "Content-Type": "application/json"}, "body": raw.decode()}
        credentials = {"api_key": "test-api-key", "webhook_secret": WHSEC}
        body = {"event": "item_updated", "credentials": credentials, "request": sample}
        handled = await api.post(test_url, json=body, headers=world.auth("a_admin"))
        assert handled.status_code == 200, handled.text
        result = handled.json()
        assert result["kind"] == "handle"
        assert [(e["type"], e["id"]) for e in result["events"]] == [("item.updated", "evt_9")]
        assert result["events"][0]["payload"] == item
        assert result["signature"] == {"valid": True, "message": "the signature matches"}
        assert result["response"]["status_code"] == 200
        assert WHSEC not in handled.text

        # A wrong signature is reported (and what intake would answer), the events still shown.
        tampered = {**sample, "body": raw.decode().replace("seven", "eight")}
        wrong = await api.post(
            test_url, json={**body, "request": tampered}, headers=world.auth("a_admin")
        )
        assert wrong.status_code == 200, wrong.text
        assert wrong.json()["signature"]["valid"] is False
        assert wrong.json()["response"]["status_code"] == 401
        assert wrong.json()["events"][0]["payload"]["name"] == "eight"

        # Without the secret the signature is not checked, and that is said.
        unsigned = await api.post(
            test_url,
            json={"event": "item_updated", "credentials": KEY, "request": {"body": raw.decode()}},
            headers=world.auth("a_admin"),
        )
        assert unsigned.status_code == 200, unsigned.text
        assert unsigned.json()["signature"]["valid"] is None
        assert "webhook_secret" in unsigned.json()["signature"]["message"]

        # A handshake is answered inline, nothing handled.
        challenge = {"method": "GET", "query": {"hub.mode": "subscribe", "hub.challenge": "abc123"}}
        shake = await api.post(
            test_url,
            json={"event": "item_updated", "credentials": KEY, "request": challenge},
            headers=world.auth("a_admin"),
        )
        assert shake.status_code == 200, shake.text
        assert shake.json()["response"] == {
            "status_code": 200, "content_type": "text/plain", "body": "abc123"
        }  # fmt: skip
        assert shake.json()["events"] == []


async def test_client_mistakes_are_clear_4xx(api: httpx.AsyncClient, world: World) -> None:
    with serve(create_test_api(records=2)) as url:
        connector_id = await _connector(api, world, WEBHOOKS, url)
        test_url = f"/connectors/{connector_id}/draft/event-test"
        auth = world.auth("a_admin")
        unknown = await api.post(test_url, json={"event": "nope"}, headers=auth)
        assert unknown.status_code == 404
        assert "item_updated" in unknown.json()["detail"]
        no_sample = await api.post(test_url, json={"event": "item_updated"}, headers=auth)
        assert no_sample.status_code == 422 and "request" in no_sample.json()["detail"]
        sample_on_poll = await api.post(
            test_url,
            json={"event": "item_changed_polled", "request": {"body": "{}"}},
            headers=auth,
        )
        assert sample_on_poll.status_code == 422
        not_json = await api.post(
            test_url,
            json={"event": "item_updated", "credentials": KEY, "request": {"body": "not json"}},
            headers=auth,
        )
        assert not_json.status_code == 422, not_json.text
        assert "sample request cannot be handled" in not_json.json()["detail"]
        bad_shape = await api.post(
            test_url, json={"event": "item_updated", "request": {"body": 5}}, headers=auth
        )
        assert bad_shape.status_code == 422

        # Same roles and tenancy as a draft run: a viewer may not, another enterprise sees nothing.
        viewer = await api.post(
            test_url, json={"event": "item_changed_polled"}, headers=world.auth("a_viewer")
        )
        assert viewer.status_code == 403
        other = await api.post(
            test_url, json={"event": "item_changed_polled"}, headers=world.auth("b_admin")
        )
        assert other.status_code == 404


JS_EVENTS = ROOT / "events" / "testapi-javascript-events"


async def test_javascript_pull_and_handle_run_with_the_test_credentials(
    api: httpx.AsyncClient, world: World
) -> None:
    with serve(create_test_api(records=3)) as url:
        body = {"yaml": example_yaml(JS_EVENTS, url), "files": example_files(JS_EVENTS)}
        created = await api.post("/connectors", json=body, headers=world.auth("a_admin"))
        assert created.status_code == 201, created.text
        test_url = f"/connectors/{created.json()['id']}/draft/event-test"
        credentials = {**KEY, "webhook_secret": WHSEC}
        pull: dict[str, Any] = {"event": "item_changed_pulled", "credentials": credentials}
        first = await api.post(test_url, json=pull, headers=world.auth("a_admin"))
        assert first.status_code == 200, first.text
        assert first.json()["events"] == [] and first.json()["state"]["pulled"] is True
        assert first.json()["exchanges"] and WHSEC not in first.text
        async with httpx.AsyncClient(base_url=url) as upstream:
            assert (await upstream.post("/_admin/touch/2")).status_code == 200
        after = {"state": first.json()["state"], "seen": first.json()["seen"]}
        second = await api.post(test_url, json={**pull, **after}, headers=world.auth("a_admin"))
        assert second.status_code == 200, second.text
        assert [e["payload"]["id"] for e in second.json()["events"]] == [2]
        after = {"state": second.json()["state"], "seen": second.json()["seen"]}
        third = await api.post(test_url, json={**pull, **after}, headers=world.auth("a_admin"))
        assert third.status_code == 200, third.text
        assert third.json()["events"] == []

        raw = orjson.dumps({"events": [{"id": "evt_1", "type": "item.updated", "item": {"id": 1}}]})
        sample = {"headers": {"webhook-id": "msg_1"}, "body": raw.decode()}
        handled = await api.post(
            test_url,
            json={"event": "item_updated", "credentials": credentials, "request": sample},
            headers=world.auth("a_admin"),
        )
        assert handled.status_code == 200, handled.text
        events = handled.json()["events"]
        assert [(e["id"], e["payload"]["via"]) for e in events] == [("evt_1", "javascript")]
        # Unsigned: the signature is reported invalid, the events are still shown.
        assert handled.json()["signature"]["valid"] is False


async def test_a_state_no_pull_could_return_is_422(api: httpx.AsyncClient, world: World) -> None:
    with serve(create_test_api(records=3)) as url:
        connector_id = await _connector(api, world, CRM, url)
        test_url = f"/connectors/{connector_id}/draft/event-test"
        for event, state, part in (
            ("contact_deleted", {"snapshot": "x"}, "snapshot"),
            ("contact_deleted", {"snapshot": {"1": 5}}, "snapshot"),
            ("contact_changed", {"cursor": 7}, "cursor"),
            (
                "contact_changed",
                {"cursor": "2026-01-01T00:00:00Z", "baseline": [1, {}]},
                "baseline",
            ),
        ):
            refused = await api.post(
                test_url,
                json={"event": event, "credentials": KEY, "state": state},
                headers=world.auth("a_admin"),
            )
            assert refused.status_code == 422, (state, refused.text)
            assert f"state.{part} must be" in refused.json()["detail"]


async def test_a_test_credential_echoed_in_a_sample_never_comes_back(
    api: httpx.AsyncClient, world: World
) -> None:
    with serve(create_test_api(records=2)) as url:
        connector_id = await _connector(api, world, WEBHOOKS, url)
        item = {"id": 1, "name": f"leaked {CANARY}"}
        raw = orjson.dumps({"events": [{"id": "evt_1", "type": "item.updated", "item": item}]})
        handled = await api.post(
            f"/connectors/{connector_id}/draft/event-test",
            json={
                "event": "item_updated",
                "credentials": {"api_key": CANARY},
                "request": {"body": raw.decode()},
            },
            headers=world.auth("a_admin"),
        )
        assert handled.status_code == 200, handled.text
        assert handled.json()["event_count"] == 1
        assert CANARY not in handled.text
