"""Turning a received webhook into events, as the connector's ``handle`` declares.

A declarative ``handle`` is :func:`events_from_webhook`. A JavaScript one runs through the
connection's client with :func:`method_input` as its ``ctx.input``, and what it returns (as
what a custom pull returns) becomes events with :func:`events_from_method`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from connectory.errors import EventError, TemplateError
from connectory.events.stored_keys import fitted_key
from connectory.runtime.records import Selector, select
from connectory.spec.events import HandleSpec
from connectory.templating import compile_template


@dataclass
class WebhookInput:
    """What ``handle`` sees of a received request."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None


@dataclass
class ReceivedEvent:
    """One event found in a webhook, before it is stored."""

    type: str
    dedup_key: str
    payload: dict[str, Any]
    occurred_at: datetime | None = None
    selector: str | None = None


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 time or Unix seconds as an aware datetime; None when empty or unreadable."""
    if not text:
        return None
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def events_from_webhook(
    spec: HandleSpec, default_type: str, received: WebhookInput
) -> list[ReceivedEvent]:
    """Apply *spec* to a received request.

    Raises:
        EventError: the body is not JSON, or a template cannot be rendered for an item.
    """
    try:
        body = orjson.loads(received.body) if received.body else None
    except orjson.JSONDecodeError as error:
        raise EventError(f"the webhook body is not JSON: {error}") from None
    found = select(body, Selector.parse(spec.items))
    items = found if isinstance(found, list) else ([] if found is None else [found])
    payload_selector = Selector.parse(spec.payload)
    events: list[ReceivedEvent] = []
    for index, item in enumerate(items):
        variables = {
            "item": item,
            "body": body,
            "headers": received.headers,
            "query": received.query,
            "state": received.state,
        }
        # A field an item lacks falls back to its default; only the routing selector of a
        # global webhook is required (without it the event could go to no one, or anyone).
        kind = _render_optional(spec.type, variables) or default_type
        if spec.only_types is not None and kind not in spec.only_types:
            continue
        dedup = _render_optional(spec.id, variables)
        occurred = parse_time(_render_optional(spec.occurred_at, variables))
        try:
            selector = _render(spec.selector, variables)
        except TemplateError as error:
            raise EventError(f"event {index} of the webhook has no selector: {error}") from None
        if not dedup:
            dedup = (
                f"{received.message_id}:{index}"
                if received.message_id
                else hashlib.sha256(orjson.dumps(item, option=orjson.OPT_SORT_KEYS)).hexdigest()
            )
        payload = select(item, payload_selector)
        events.append(
            ReceivedEvent(
                type=kind,
                dedup_key=fitted_key(dedup, DEDUP_KEY_LENGTH),
                payload=payload if isinstance(payload, dict) else {"value": payload},
                occurred_at=occurred,
                selector=selector or None,
            )
        )
    return events


def _render_optional(source: str | None, variables: dict[str, Any]) -> str | None:
    try:
        return _render(source, variables)
    except TemplateError:
        return None


def _render(source: str | None, variables: dict[str, Any]) -> str | None:
    if source is None:
        return None
    return compile_template(source).render(variables)


#: Most events one method call may return.
#: The events table's ``dedup_key`` column length (``store.event_models.DEDUP_KEY_LENGTH``):
#: longer keys are fitted to it by digest, never cut (a cut key makes false duplicates).
DEDUP_KEY_LENGTH = 300
MAX_METHOD_EVENTS = 10_000


def method_input(received: WebhookInput) -> dict[str, Any]:
    """``ctx.input`` of a JavaScript ``handle``: the request as received, the body parsed."""
    text = received.body.decode("utf-8", "replace")
    try:
        body = orjson.loads(received.body) if received.body else None
    except orjson.JSONDecodeError:
        body = None  # the method has raw_body: a form or XML body is its to read
    return {
        "body": body,
        "raw_body": text,
        "headers": received.headers,
        "query": received.query,
        "state": received.state,
    }


def events_from_method(
    result: Any, default_type: str, message_id: str | None = None, what: str = "handle"
) -> list[ReceivedEvent]:
    """The events a JavaScript ``handle`` or custom pull returned.

    *result* is a list of events or ``{events: [...]}``; each event is ``{type, id,
    occurred_at, payload, selector}``, every field optional (the type defaults to the event's
    key, the id to the message id and the event's index, else a hash of the event).

    Raises:
        EventError: the value is not events (what it should be is in the message).
    """
    items = result.get("events") if isinstance(result, dict) else result
    if items is None:
        return []
    if not isinstance(items, list):
        raise EventError(
            f"the {what} method must return a list of events or {{events: [...]}}, not "
            f"{type(items).__name__}"
        )
    if len(items) > MAX_METHOD_EVENTS:
        raise EventError(f"the {what} method returned more than {MAX_METHOD_EVENTS} events")
    events: list[ReceivedEvent] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise EventError(f"event {index} of the {what} method is not an object")
        kind = item.get("type") or default_type
        dedup = item.get("id")
        if dedup is None or dedup == "":
            dedup = (
                f"{message_id}:{index}"
                if message_id
                else hashlib.sha256(orjson.dumps(item, option=orjson.OPT_SORT_KEYS)).hexdigest()
            )
        payload = item.get("payload", {})
        occurred = item.get("occurred_at")
        selector = item.get("selector")
        events.append(
            ReceivedEvent(
                type=str(kind)[:200],
                dedup_key=fitted_key(str(dedup), DEDUP_KEY_LENGTH),
                payload=payload if isinstance(payload, dict) else {"value": payload},
                occurred_at=parse_time(str(occurred)) if occurred not in (None, "") else None,
                selector=str(selector) if selector not in (None, "") else None,
            )
        )
    return events
