"""Polling: the latest records of a list operation, newest changes since a stored cursor.

Each poll reads records changed since ``cursor - overlap`` (changes in the same second as the
previous poll are read again, not skipped) and stores an event per record whose
``id@updated`` was not stored before (the events table's unique dedup key drops the
re-read ones). The new cursor is the newest change time seen, saved in the same transaction
as the events: a poll killed half-way leaves the old cursor and no events, and is redone.
What a poll finds is :func:`connectory.events.pulling.pull_poll`; this module stores it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from connectory.events.pulling import pull_poll
from connectory.services.connections import ConnectionDetails
from connectory.services.events.context import EventsContext
from connectory.services.events.records import store_events
from connectory.services.events.webhook_calls import secret_variables
from connectory.spec.events import EventSpec
from connectory.store.event_models import EventSubscription


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
            variables: dict[str, Any] = {
                "parameters": subscription.parameters,
                "config": details.connection.config,
                **await secret_variables(context, session, details),
            }
            pulled = await pull_poll(client, event, subscription.state, variables)
    subscription.state = pulled.state
    if not pulled.events:
        return 0
    return len(await store_events(session, subscription, pulled.events, context.now()))
