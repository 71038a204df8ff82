"""Polling: the latest records of a list operation, newest changes since a stored cursor.

Each poll reads records changed since ``cursor - overlap`` (changes in the same second as the
previous poll are read again, not skipped) and stores an event per record whose
``id@updated`` was not stored before (the events table's unique dedup key drops the
re-read ones). The new cursor is the newest change time seen, saved in the same transaction
as the events: a poll killed half-way leaves the old cursor and no events, and is redone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import EventError, TemplateError
from connectory.events.handling import ReceivedEvent, parse_time
from connectory.runtime import ConnectorClient
from connectory.runtime.records import Selector, select
from connectory.services.connections import ConnectionDetails
from connectory.services.events.context import EventsContext
from connectory.services.events.records import store_events
from connectory.services.events.webhook_calls import secret_variables
from connectory.spec.events import EventSpec
from connectory.store.event_models import EventSubscription
from connectory.templating import compile_template


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def poll_subscription(
    context: EventsContext,
    session: AsyncSession,
    details: ConnectionDetails,
    event: EventSpec,
    subscription: EventSubscription,
) -> int:
    """Poll once; store new events and the new cursor (the caller commits); return the count.

    The first poll of a ``baseline`` event only sets the cursor: past records are not news.
    """
    async with await context.runtimes.acquire(session, details) as client:
        # One call log entry per poll (kind "poll"): its requests count as its attempts.
        with client.calls.track("poll", event.key, first_reply_only=True):
            found, cursor = await _read_changes(
                context, session, client, details, event, subscription
            )
    return await _store_changes(context, session, event, subscription, found, cursor)


async def _read_changes(
    context: EventsContext,
    session: AsyncSession,
    client: ConnectorClient,
    details: ConnectionDetails,
    event: EventSpec,
    subscription: EventSubscription,
) -> tuple[list[ReceivedEvent], datetime | None]:
    poll = event.poll
    assert poll is not None
    cursor_text = subscription.state.get("cursor")
    cursor = parse_time(cursor_text) if isinstance(cursor_text, str) else None
    since = cursor - timedelta(seconds=poll.overlap_seconds) if cursor is not None else None
    variables: dict[str, Any] = {
        "parameters": subscription.parameters,
        "config": details.connection.config,
        "since": _iso(since) if since is not None else "",
        **await secret_variables(context, session, details),
    }
    params: dict[str, Any] = {}
    for name, source in poll.input.items():
        try:
            params[name] = compile_template(source).render(variables)
        except TemplateError as error:
            raise EventError(f"poll input {name!r}: {error}") from None
    if poll.since_parameter is not None and since is not None:
        params[poll.since_parameter] = _iso(since)
    id_selector = Selector.parse(poll.id_field)
    updated_selector = Selector.parse(poll.updated_field)
    found: list[ReceivedEvent] = []
    async for record in client.iter_records(poll.operation, params, max_pages=poll.max_pages):
        record_id = select(record, id_selector)
        updated_text = select(record, updated_selector)
        updated = parse_time(str(updated_text)) if updated_text is not None else None
        if record_id is None or updated is None:
            raise EventError(
                f"a polled record has no {poll.id_field} or no readable {poll.updated_field}"
            )
        if since is not None and updated < since:
            continue
        found.append(
            ReceivedEvent(
                type=poll.type or event.key,
                dedup_key=f"{record_id}@{_iso(updated)}",
                payload=record if isinstance(record, dict) else {"value": record},
                occurred_at=updated,
            )
        )
    return found, cursor


async def _store_changes(
    context: EventsContext,
    session: AsyncSession,
    event: EventSpec,
    subscription: EventSubscription,
    found: list[ReceivedEvent],
    cursor: datetime | None,
) -> int:
    poll = event.poll
    assert poll is not None
    newest = max((item.occurred_at for item in found if item.occurred_at), default=cursor)
    if cursor is not None and newest is not None and newest < cursor:
        newest = cursor
    first = cursor is None
    if newest is not None:
        subscription.state = {**subscription.state, "cursor": _iso(newest)}
    if first and poll.first_poll == "baseline":
        # Past records are not news: remember only those the next poll's overlap re-reads.
        window = newest - timedelta(seconds=poll.overlap_seconds) if newest else None
        subscription.state = {
            **subscription.state,
            "baseline": [
                item.dedup_key
                for item in found
                if window is not None
                and item.occurred_at is not None
                and item.occurred_at >= window
            ][:1000],
        }
        return 0
    baseline = set(subscription.state.get("baseline", []))
    fresh = [item for item in found if item.dedup_key not in baseline]
    stored = await store_events(session, subscription, fresh, context.now())
    return len(stored)
