"""Turning a received webhook into events, as the connector's ``handle`` declares."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from connectory.errors import EventError, TemplateError
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
                dedup_key=dedup[:300],
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
