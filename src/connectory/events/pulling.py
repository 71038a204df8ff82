"""Pulling changes: what one poll of a ``poll`` or collection event finds, and the state after.

Pure of storage: the caller stores the events and the new state together, in one transaction
(``connectory.services.events``, where the events table's unique dedup key drops what an
overlap reads again), or shows them (a recorded test case, :mod:`connectory.events.testing`).

* **poll**, custom pull: a JavaScript method reads what it needs and returns the events and
  the state to keep (``values``), which it gets back next time.
* **poll**: the list operation with ``since`` = cursor minus the overlap; an event per record,
  keyed ``id@updated``; the new cursor is the newest change time seen. A ``baseline`` event's
  first poll only records where things stand (past records are not news).
* **collection, pull_latest**: the collection's ``list`` with ``updated_since`` = cursor minus
  the overlap; ``created`` when a record's ``created_at`` is not before the window, else
  ``updated``.
* **collection, full_scan**: every record, compared with the previous scan kept in the state
  (``id -> updated_at``, or a hash of the fields): new ids ``created``, changed ones
  ``updated``, missing ones ``deleted``. More than ``max_records`` is an error.

The first run of a collection event only records where things stand. Records the next run's
overlap reads again are remembered (``baseline``) so they are not announced as news then.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from connectory.collections.collection import Collection
from connectory.errors import EventError, TemplateError
from connectory.events.handling import (
    DEDUP_KEY_LENGTH,
    ReceivedEvent,
    events_from_method,
    parse_time,
)
from connectory.events.stored_keys import fitted_key
from connectory.runtime.client import ConnectorClient
from connectory.runtime.records import Selector, select
from connectory.spec.events import CollectionEventSpec, EventSpec
from connectory.templating import compile_template

#: Dedup keys of the previous run's overlap window kept in the state, at most.
MAX_BASELINE = 1000


@dataclass
class Pulled:
    """What one pull found that is news, and the subscription state to keep after it."""

    events: list[ReceivedEvent]
    state: dict[str, Any]


def iso(moment: datetime) -> str:
    """*moment* in ISO 8601 with a ``Z``."""
    return moment.isoformat().replace("+00:00", "Z")


async def pull_poll(
    client: ConnectorClient,
    event: EventSpec,
    state: dict[str, Any],
    variables: dict[str, Any],
) -> Pulled:
    """One poll of a ``poll`` event.

    Args:
        client: The connection's client (requests go through its runtime).
        event: The event (its ``poll`` block).
        state: The subscription's state (``cursor``, ``baseline``).
        variables: What the poll's ``input`` templates see besides ``since``:
            ``parameters``, ``config``, ``credentials``, ``connector_parameters``.

    Raises:
        EventError: an input template cannot be rendered, a record lacks its id or change time.
    """
    poll = event.poll
    assert poll is not None
    if poll.method is not None:
        return await _pull_with_method(client, event, state, variables)
    assert poll.operation is not None
    cursor_text = state.get("cursor")
    cursor = parse_time(cursor_text) if isinstance(cursor_text, str) else None
    since = cursor - timedelta(seconds=poll.overlap_seconds) if cursor is not None else None
    values = {**variables, "since": iso(since) if since is not None else ""}
    params: dict[str, Any] = {}
    for name, source in poll.input.items():
        try:
            params[name] = compile_template(source).render(values)
        except TemplateError as error:
            raise EventError(f"poll input {name!r}: {error}") from None
    if poll.since_parameter is not None and since is not None:
        params[poll.since_parameter] = iso(since)
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
                dedup_key=f"{record_id}@{iso(updated)}",
                payload=record if isinstance(record, dict) else {"value": record},
                occurred_at=updated,
            )
        )
    newest = max((item.occurred_at for item in found if item.occurred_at), default=cursor)
    if cursor is not None and newest is not None and newest < cursor:
        newest = cursor
    after = dict(state)
    if newest is not None:
        after["cursor"] = iso(newest)
    if cursor is None and poll.first_poll == "baseline":
        after["baseline"] = _overlap_keys(found, newest, poll.overlap_seconds)
        return Pulled([], after)
    baseline = set(after.get("baseline", []))
    return Pulled([item for item in found if item.dedup_key not in baseline], after)


async def _pull_with_method(
    client: ConnectorClient,
    event: EventSpec,
    state: dict[str, Any],
    variables: dict[str, Any],
) -> Pulled:
    """A custom pull: the method reads the API itself and keeps its own state (``values``)."""
    poll = event.poll
    assert poll is not None and poll.method is not None
    # First: never pulled, and no state of its own yet (a test case may give one).
    first = not state.get("pulled") and not state.get("values")
    result = await client.run_method(
        poll.method,
        parameters=variables.get("parameters") or {},
        input={"state": state.get("values") or {}, "first": first},
        pace=True,  # a poll is a read: the rate limit makes it wait, not fail
    )
    if result is not None and not isinstance(result, dict):
        raise EventError("the pull method must return {events: [...], state: {...}}")
    returned = (result or {}).get("state")
    if returned is not None and not isinstance(returned, dict):
        raise EventError("the pull method's state must be an object")
    found = events_from_method(result or {}, poll.type or event.key, what="pull")
    after = {
        **state,
        "values": returned if returned is not None else state.get("values") or {},
        "pulled": True,
    }
    return Pulled(found, after)


def choose_via(spec: CollectionEventSpec, list_filters: list[str]) -> str:
    """``pull_latest`` when asked, or by default when ``list`` filters by ``updated_since``."""
    if spec.via is not None:
        return spec.via
    if "deleted" in spec.changes:
        return "full_scan"
    return "pull_latest" if "updated_since" in list_filters else "full_scan"


async def pull_collection(
    client: ConnectorClient,
    event: EventSpec,
    state: dict[str, Any],
    variables: dict[str, Any],
) -> Pulled:
    """One pull (or scan) of a collection event.

    Args:
        client: The connection's client.
        event: The event (its ``collection`` block).
        state: The subscription's state (``cursor`` or ``snapshot``, ``baseline``).
        variables: What the ``parameters`` templates see: ``parameters``, ``config``.

    Raises:
        EventError: no ``list`` method, a parameter template fails, a record lacks
            ``updated_at`` (pull_latest), or more than ``max_records`` records (full_scan).
    """
    spec = event.collection
    assert spec is not None
    parameters = _collection_parameters(spec, variables)
    collection = client.collection(spec.collection)
    method = collection.spec.method("list")
    if method is None:
        raise EventError(f"collection {spec.collection!r} has no list method to pull from")
    if choose_via(spec, list(method.filters)) == "pull_latest":
        found, pulled = await _pull_latest(spec, state, collection, parameters)
    else:
        found, pulled = await _full_scan(spec, state, collection, parameters)
    first = state.get("cursor") is None and state.get("snapshot") is None
    if first:
        # The first run records where things stand.
        cursor = parse_time(pulled.get("cursor") or "")
        pulled["baseline"] = _overlap_keys(found, cursor, spec.overlap_seconds)
        return Pulled([], {**state, **pulled})
    after = {**state, **pulled}
    baseline = set(after.get("baseline", []))
    wanted = [
        item
        for item in found
        if item.type.rsplit(".", 1)[1] in spec.changes and item.dedup_key not in baseline
    ]
    return Pulled(wanted, after)


def _overlap_keys(
    found: list[ReceivedEvent], newest: datetime | None, overlap_seconds: int
) -> list[str]:
    """Dedup keys of what the next run's overlap reads again (not news then either)."""
    if newest is None:
        return []
    window = newest - timedelta(seconds=overlap_seconds)
    return [
        item.dedup_key
        for item in found
        if item.occurred_at is not None and item.occurred_at >= window
    ][:MAX_BASELINE]


def _collection_parameters(spec: CollectionEventSpec, variables: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, source in spec.parameters.items():
        try:
            values[name] = compile_template(source).render(variables)
        except TemplateError as error:
            raise EventError(f"collection parameter {name!r}: {error}") from None
    return values


async def _pull_latest(
    spec: CollectionEventSpec,
    state: dict[str, Any],
    collection: Collection,
    parameters: dict[str, Any],
) -> tuple[list[ReceivedEvent], dict[str, Any]]:
    cursor_text = state.get("cursor")
    cursor = parse_time(cursor_text) if isinstance(cursor_text, str) else None
    since = cursor - timedelta(seconds=spec.overlap_seconds) if cursor is not None else None
    filters = {"updated_since": iso(since)} if since is not None else None
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
            else "updated"
        )
        found.append(_event(spec, record, kind, f"{record.id}@{iso(updated)}", updated))
    pulled: dict[str, Any] = {"cursor": iso(newest)} if newest is not None else {"cursor": ""}
    return found, pulled


async def _full_scan(
    spec: CollectionEventSpec,
    state: dict[str, Any],
    collection: Collection,
    parameters: dict[str, Any],
) -> tuple[list[ReceivedEvent], dict[str, Any]]:
    before: dict[str, str] = state.get("snapshot") or {}
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
        dedup_key=fitted_key(key, DEDUP_KEY_LENGTH),
        payload=record.to_dict(),
        occurred_at=at,
    )
