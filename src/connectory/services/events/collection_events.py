"""Collection events: ``<collection>.created``, ``.updated`` and ``.deleted`` from a collection.

What one pull or scan finds is :func:`connectory.events.pulling.pull_collection` (pull_latest
with a cursor and an overlap window, or full_scan against the previous snapshot, for small
collections); this module stores the events with the new state, in one transaction.
The first run of either only records where things stand: past records are not news.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from connectory.events.pulling import choose_via, pull_collection
from connectory.services.connections import ConnectionDetails
from connectory.services.events.context import EventsContext
from connectory.services.events.records import store_events
from connectory.spec.events import EventSpec
from connectory.store.event_models import EventSubscription

__all__ = ["choose_via", "poll_collection"]


async def poll_collection(
    context: EventsContext,
    session: AsyncSession,
    details: ConnectionDetails,
    event: EventSpec,
    subscription: EventSubscription,
) -> int:
    """One pull or scan; store the events and the new state (the caller commits)."""
    async with await context.runtimes.acquire(session, details) as client:
        # One call log entry per pull or scan (kind "poll"), its list requests as attempts.
        with client.calls.track("poll", event.key, first_reply_only=True):
            variables = {
                "parameters": subscription.parameters,
                "config": details.connection.config,
            }
            pulled = await pull_collection(client, event, subscription.state, variables)
    subscription.state = pulled.state
    if not pulled.events:
        return 0
    return len(await store_events(session, subscription, pulled.events, context.now()))
