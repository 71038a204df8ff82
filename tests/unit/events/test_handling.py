"""Turning a webhook body into events, as a connector's ``handle`` declares."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectory.errors import EventError
from connectory.events import WebhookInput, events_from_webhook
from connectory.spec.events import HandleSpec


def test_items_types_ids_times_and_payloads() -> None:
    spec = HandleSpec(
        items="data.events",
        type="{{ item.kind }}",
        id="{{ item.uid }}",
        occurred_at="{{ item.at }}",
        payload="object",
    )
    body = (
        b'{"data": {"events": [{"kind": "a.b", "uid": "u1", "at": "2026-01-02T03:04:05Z", '
        b'"object": {"x": 1}}]}}'
    )
    [event] = events_from_webhook(spec, "default", WebhookInput(body))
    assert event.type == "a.b" and event.dedup_key == "u1" and event.payload == {"x": 1}
    assert event.occurred_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_missing_fields_fall_back_and_dedup_keys_are_stable() -> None:
    spec = HandleSpec(type="{{ item.kind }}", id="{{ item.uid }}")
    first = events_from_webhook(spec, "thing.changed", WebhookInput(b'{"n": 1}'))
    again = events_from_webhook(spec, "thing.changed", WebhookInput(b'{"n": 1}'))
    assert first[0].type == "thing.changed"
    assert first[0].dedup_key == again[0].dedup_key  # a hash of the item
    with_id = events_from_webhook(spec, "t", WebhookInput(b'{"n": 1}', message_id="m7"))
    assert with_id[0].dedup_key == "m7:0"


def test_only_types_filters_and_a_scalar_payload_is_wrapped() -> None:
    spec = HandleSpec(items="$", type="{{ item.t }}", payload="v", only_types=["keep"])
    body = b'[{"t": "keep", "v": 3}, {"t": "drop", "v": 4}]'
    events = events_from_webhook(spec, "x", WebhookInput(body))
    assert [(e.type, e.payload) for e in events] == [("keep", {"value": 3})]


def test_a_body_that_is_not_json_is_an_event_error() -> None:
    with pytest.raises(EventError, match="not JSON"):
        events_from_webhook(HandleSpec(), "x", WebhookInput(b"<xml/>"))


def test_a_global_webhook_without_its_selector_value_is_an_error() -> None:
    spec = HandleSpec(selector="{{ item.account }}")
    with pytest.raises(EventError, match="selector"):
        events_from_webhook(spec, "x", WebhookInput(b'{"no": "account"}'))


def test_what_a_method_returns_becomes_events() -> None:
    from connectory.events.handling import events_from_method

    found = events_from_method(
        {"events": [{"type": "a.b", "id": 7, "occurred_at": "1700000000", "payload": [1]}, {}]},
        "fallback",
        "msg_1",
    )
    assert [(e.type, e.dedup_key, e.payload) for e in found] == [
        ("a.b", "7", {"value": [1]}),
        ("fallback", "msg_1:1", {}),
    ]
    assert found[0].occurred_at is not None and found[0].occurred_at.year == 2023
    assert events_from_method(None, "x") == [] and events_from_method({"state": {}}, "x") == []
    with pytest.raises(EventError, match="must return a list of events"):
        events_from_method({"events": "nope"}, "x")
    with pytest.raises(EventError, match="event 0 of the pull method is not an object"):
        events_from_method([1], "x", what="pull")
