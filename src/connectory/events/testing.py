"""Test cases of events, for ``connectory test`` (see docs/recorded-tests.md).

Two kinds, told apart by the event the case names:

* **handle** (webhook and global webhook events): the case's request as a provider sent it
  (``payload``, ``headers``, ``query``; a string payload is the raw body, anything else is
  sent as JSON) goes through the event's ``handle``; the result is the events it yields. The
  signature is not checked (a case holds no secret); nothing is sent anywhere, so such a case
  needs no recording.
* **JavaScript handle** (a webhook event whose ``handle`` is a method): the same request, run
  through the connection's client (its ``ctx.apiClient`` calls are recorded like a pull's).
* **pull** (poll and collection events, custom pulls included): one poll with the case's
  ``state`` (``cursor``, a full scan's ``snapshot``, a custom pull's ``values``; empty: the
  first poll) through the connection's client, whose requests a recording answers; the
  result is the events that are news and the state after.

The result is data for :func:`connectory.cases.run.check_expectations`::

    {"events": [{"type", "id", "occurred_at", "selector", "payload"}...],
     "cursor": "2026-...Z", "state": {...}}          # cursor and state: pulls only
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from connectory.errors import InputError
from connectory.events.handling import (
    ReceivedEvent,
    WebhookInput,
    events_from_method,
    events_from_webhook,
    method_input,
)
from connectory.events.pulling import iso, pull_collection, pull_poll
from connectory.runtime.client import ConnectorClient
from connectory.spec.connector import ConnectorSpec
from connectory.spec.events import EventSpec, SignatureSpec


def find_event(spec: ConnectorSpec, event_key: str | None) -> EventSpec:
    """The connector's event *event_key*.

    Raises:
        InputError: the connector has no such event (the message lists its events).
    """
    event = spec.event(event_key or "")
    if event is None:
        known = ", ".join(e.key for e in spec.events) or "none"
        raise InputError(f"the connector has no event '{event_key}'; its events: {known}")
    return event


def needs_client(spec: ConnectorSpec, event_key: str | None) -> bool:
    """Whether a case of this event needs a client: a pull or a JavaScript ``handle``.

    Otherwise the declarative ``handle`` runs on the case's request alone.
    """
    event = spec.event(event_key or "")
    if event is None:
        return False
    javascript = event.webhook is not None and event.webhook.handle.method is not None
    return javascript or event.poll is not None or event.collection is not None


def handle_event_case(
    spec: ConnectorSpec,
    event_key: str | None,
    payload: Any,
    headers: Mapping[str, str] | None = None,
    *,
    query: Mapping[str, str] | None = None,
    state: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run a webhook event's ``handle`` on a sample request; return the events it yields.

    Raises:
        InputError: no such event, or the event is not received by webhook.
        EventError: what ``handle`` says is wrong with the request (not JSON, no selector).
    """
    event = find_event(spec, event_key)
    if event.webhook is not None:
        handle = event.webhook.handle
    elif event.global_webhook is not None:
        handle = event.global_webhook.handle
    else:
        raise InputError(
            f"event '{event.key}' is a {event.type} event: its case needs no payload; give "
            "state: (its cursor) and record the pull instead"
        )
    if handle.method is not None:
        raise InputError(
            f"event '{event.key}' has a JavaScript handle: its case runs with a client "
            "(run_event_case), recorded like a pull"
        )
    given = _received(event, spec, payload, headers, query, state)
    return {"events": [_view(item) for item in events_from_webhook(handle, event.key, given)]}


def _received(
    event: EventSpec,
    spec: ConnectorSpec,
    payload: Any,
    headers: Mapping[str, str] | None,
    query: Mapping[str, str] | None,
    state: Mapping[str, Any] | None,
) -> WebhookInput:
    """The case's request as intake would hand it to ``handle``."""
    verification = event.webhook.verification if event.webhook is not None else None
    if verification is None and spec.webhooks is not None:
        verification = spec.webhooks.verification
    received = {name.lower(): str(value) for name, value in (headers or {}).items()}
    return WebhookInput(
        _body(payload),
        received,
        {str(k): str(v) for k, v in (query or {}).items()},
        dict(state or {}),
        _message_id(verification, received),
    )


async def run_event_case(
    client: ConnectorClient,
    event_key: str | None,
    payload: Any,
    headers: Mapping[str, str] | None = None,
    *,
    query: Mapping[str, str] | None = None,
    state: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run an event case with *client*: a pull through it, or ``handle`` on the payload.

    Args:
        client: The connection's client (replaying or recording its requests).
        event_key: The event's key.
        payload: The received body (handle cases).
        headers: The received headers (handle cases).
        query: The received query (handle cases).
        state: The subscription's state: ``handle``'s ``state`` variable, or a pull's
            ``cursor`` / ``snapshot`` / ``baseline``.
        parameters: The subscription's parameters (pulls' templates).

    Raises:
        InputError: no such event.
        EventError: what the event's declaration says is wrong with the answer or request.
        ConnectoryError: whatever the pull's calls raise.
    """
    event = find_event(client.spec, event_key)
    if event.webhook is not None and event.webhook.handle.method is not None:
        given = _received(event, client.spec, payload, headers, query, state)
        returned = await client.run_method(
            event.webhook.handle.method,
            parameters=dict(parameters or {}),
            input=method_input(given),
        )
        found = events_from_method(returned, event.key, given.message_id)
        return {"events": [_view(item) for item in found]}
    if event.poll is None and event.collection is None:
        return handle_event_case(client.spec, event_key, payload, headers, query=query, state=state)
    variables: dict[str, Any] = {**client.variables, "parameters": dict(parameters or {})}
    before = dict(state or {})
    if event.poll is not None:
        pulled = await pull_poll(client, event, before, variables)
    else:
        pulled = await pull_collection(client, event, before, variables)
    result: dict[str, Any] = {
        "events": [_view(item) for item in pulled.events],
        "state": pulled.state,
    }
    if "cursor" in pulled.state:
        result["cursor"] = pulled.state["cursor"]
    return result


def _body(payload: Any) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, str):
        return payload.encode()
    return orjson.dumps(payload)


def _message_id(verification: SignatureSpec | None, headers: Mapping[str, str]) -> str | None:
    if verification is None or verification.id_header is None:
        return None
    return headers.get(verification.id_header.lower()) or None


def _view(item: ReceivedEvent) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "type": item.type,
        "id": item.dedup_key,
        "occurred_at": iso(item.occurred_at) if item.occurred_at is not None else None,
        "payload": item.payload,
    }
    if item.selector is not None:
        shown["selector"] = item.selector
    return shown
