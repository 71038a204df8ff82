"""Collection events: ``<collection>.created``, ``.updated`` and ``.deleted`` from a collection.

* **pull_latest**: ``list`` with ``updated_since`` = cursor minus the overlap; a record is an
  event once per ``id@updated_at`` (the events table's dedup key drops what the overlap reads
  again); ``created`` when its ``created_at`` is not before the window, else ``updated``. The
  cursor is saved with the events, in one transaction.
* **full_scan**: every record, compared with the previous scan kept on the subscription
  (``id -> updated_at``, or a hash of the fields when the collection has no ``updated_at``):
  new ids are ``created``, changed ones ``updated``, missing ones ``deleted``. For small
  collections: more than ``max_records`` records is an error, not a silent truncation.

The first run of either only records where things stand: past records are not news.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import EventError, TemplateError
from connectory.events.handling import ReceivedEvent, parse_time
from connectory.services.connections import ConnectionDetails
from connectory.services.events.context import EventsContext
from connectory.services.events.records import store_events
from connectory.spec.events import CollectionEventSpec, EventSpec
from connectory.store.event_models import EventSubscription
from connectory.templating import compile_template


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def choose_via(spec: CollectionEventSpec, list_filters: list[str]) -> str:
    """``pull_latest`` when asked, or by default when ``list`` filters by ``updated_since``."""
    if spec.via is not None:
        return spec.via
    if "deleted" in spec.changes:
        return "full_scan"
    return "pull_latest" if "updated_since" in list_filters else "full_scan"


async def poll_collection(
    context: EventsContext,
    session: AsyncSession,
    details: ConnectionDetails,
    event: EventSpec,
    subscription: EventSubscription,
) -> int:
    """One pull or scan; store the events and the new state (the caller commits)."""
    spec = event.collection
    assert spec is not None
    async with await context.runtimes.acquire(session, details) as client:
        # One call log entry per pull or scan (kind "poll"), its list requests as attempts.
        with client.calls.track("poll", event.key, first_reply_only=True):
            parameters = _parameters(spec, subscription, details)
            collection = client.collection(spec.collection)
            method = collection.spec.method("list")
            if method is None:
                raise EventError(f"collection {spec.collection!r} has no list method to pull from")
            via = choose_via(spec, list(method.filters))
            if via == "pull_latest":
                found, state = await _pull_latest(spec, subscription, collection, parameters)
            else:
                found, state = await _full_scan(spec, subscription, collection, parameters)
    first = subscription.state.get("cursor") is None and subscription.state.get("snapshot") is None
    if first:
        # The first run records where things stand; the records the next pull's overlap
        # reads again are remembered, so they are not announced as news then.
        cursor = parse_time(state.get("cursor") or "")
        window = cursor - timedelta(seconds=spec.overlap_seconds) if cursor else None
        state["baseline"] = [
            item.dedup_key
            for item in found
            if window is not None and item.occurred_at is not None and item.occurred_at >= window
        ][:1000]
        subscription.state = {**subscription.state, **state}
        return 0
    subscription.state = {**subscription.state, **state}
    baseline = set(subscription.state.get("baseline", []))
    wanted = [
        item
        for item in found
        if item.type.rsplit(".", 1)[1] in spec.changes and item.dedup_key not in baseline
    ]
    return len(await store_events(session, subscription, wanted, context.now()))


def _parameters(
    spec: CollectionEventSpec, subscription: EventSubscription, details: ConnectionDetails
) -> dict[str, Any]:
    variables = {"parameters": subscription.parameters, "config": details.connection.config}
    values: dict[str, Any] = {}
    for name, source in spec.parameters.items():
        try:
            values[name] = compile_template(source).render(variables)
        except TemplateError as error:
            raise EventError(f"collection parameter {name!r}: {error}") from None
    return values


async def _pull_latest(
    spec: CollectionEventSpec,
    subscription: EventSubscription,
    collection: Any,
    parameters: dict[str, Any],
) -> tuple[list[ReceivedEvent], dict[str, Any]]:
    cursor_text = subscription.state.get("cursor")
    cursor = parse_time(cursor_text) if isinstance(cursor_text, str) else None
    since = cursor - timedelta(seconds=spec.overlap_seconds) if cursor is not None else None
    filters = {"updated_since": _iso(since)} if since is not None else None
    newest = cursor
    found: list[ReceivedEvent] = []
    async for record in collection.list(filters=filters, parameters=parameters or None):
        updated = parse_time(record.updated_at)
        if updated is None:
            raise EventError(
                f"a {spec.collection} record has no readable updated_at; use via: full_scan"
            )
        if since is not None and updated < since:
            continue  # the API ignored the filter for this one: nothing new
        newest = updated if newest is None or updated > newest else newest
        created = parse_time(record.created_at)
        kind = (
            "created"
            if created is not None and since is not None and created >= since
            else ("updated")
        )
        found.append(_event(spec, record, kind, f"{record.id}@{_iso(updated)}", updated))
    state: dict[str, Any] = {"cursor": _iso(newest)} if newest is not None else {"cursor": ""}
    return found, state


async def _full_scan(
    spec: CollectionEventSpec,
    subscription: EventSubscription,
    collection: Any,
    parameters: dict[str, Any],
) -> tuple[list[ReceivedEvent], dict[str, Any]]:
    before: dict[str, str] = subscription.state.get("snapshot") or {}
    now: dict[str, str] = {}
    found: list[ReceivedEvent] = []
    async for record in collection.list(parameters=parameters or None):
        if len(now) >= spec.max_records:
            raise EventError(
                f"{spec.collection} has more than {spec.max_records} records: a full scan is "
                "for small collections; use pull_latest (a list with updated_since) instead"
            )
        version = record.updated_at or _digest(record.fields)
        now[record.id] = version
        if record.id not in before:
            found.append(_event(spec, record, "created", f"{record.id}@{version}:c", None))
        elif before[record.id] != version:
            found.append(_event(spec, record, "updated", f"{record.id}@{version}", None))
    for record_id, version in before.items():
        if record_id not in now:
            found.append(
                ReceivedEvent(
                    type=f"{spec.collection}.deleted",
                    dedup_key=f"{record_id}@{version}:d",
                    payload={"id": record_id},
                )
            )
    return found, {"snapshot": now}


def _digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def _event(
    spec: CollectionEventSpec, record: Any, kind: str, key: str, at: datetime | None
) -> ReceivedEvent:
    return ReceivedEvent(
        type=f"{spec.collection}.{kind}",
        dedup_key=key[:300],
        payload=record.to_dict(),
        occurred_at=at,
    )
