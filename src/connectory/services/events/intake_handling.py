"""Handling received webhooks in the background: ``handle`` runs, events are stored.

:func:`process_due_intake` claims stored requests (:func:`~.intake.claim_intake`, round robin
across intake URLs) and :func:`handle_batch` turns them into events in one transaction, each
request in a savepoint. JavaScript handles run before that transaction (they may call the API).
Each handled request is a ``webhook_intake`` entry of its connection's call log, recorded once
the batch is committed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import ConnectoryError, EventError
from connectory.events.handling import (
    ReceivedEvent,
    WebhookInput,
    events_from_method,
    events_from_webhook,
    method_input,
)
from connectory.observability.calls import ConnectionCalls
from connectory.services.events.call_logs import BackgroundCalls, intake_request_line
from connectory.services.events.context import EventsContext
from connectory.services.events.intake import claim_intake
from connectory.services.events.records import (
    EndpointTargets,
    hold_write_lock,
    store_events,
    store_events_many,
)
from connectory.spec.code import CodeRefSpec
from connectory.store.event_models import EventSubscription, IntakeRequest
from connectory.store.models import Connection, ConnectorVersion, utcnow

logger = logging.getLogger("connectory.events.intake")

#: A received webhook whose handling fails this often (not its content: e.g. the database)
#: is marked failed.
MAX_INTAKE_ATTEMPTS = 5


async def process_due_intake(context: EventsContext, batch: int = 200, rounds: int = 50) -> int:
    """Handle received webhooks until none is due; return how many events were stored."""
    stored = 0
    for _ in range(rounds):
        async with context.sessions() as session:
            claimed = await claim_intake(
                session, context.now(), batch, context.settings.work_lease_seconds
            )
            await session.commit()
        if not claimed:
            break
        count = await handle_batch(context, claimed)
        stored += count
        if count:
            await context.wake("deliveries")  # deliver while the next batch is handled
    return stored


async def handle_batch(context: EventsContext, request_ids: list[str]) -> int:
    """Run ``handle`` on claimed webhooks and store their events, in one transaction.

    Each request is handled in a savepoint: one whose content is wrong (``EventError``:
    not JSON, no selector...) is marked failed with the reason; one that fails otherwise is
    left for another try once its claim expires (marked failed after
    :data:`MAX_INTAKE_ATTEMPTS`); neither undoes the others.
    """
    started, claimed_at = time.perf_counter(), context.now()
    count = 0
    activity: dict[str, tuple[datetime, bool]] = {}
    logs = BackgroundCalls(context)
    entries: list[_Entry] = []
    # Each enterprise's endpoints, read once per batch (not once per event).
    endpoints: EndpointTargets = {}
    done: list[str] = []
    # JavaScript handles run first, outside the write transaction (they may take a while and
    # call the API, whose token refresh writes: not under the batch's write lock).
    ran = await _run_javascript_handles(context, request_ids)
    async with context.sessions() as session:
        await hold_write_lock(session)
        requests = list(
            await session.scalars(
                select(IntakeRequest)
                .where(IntakeRequest.id.in_(request_ids), IntakeRequest.status == "pending")
                .order_by(IntakeRequest.received_at)
            )
        )
        subscriptions = await _subscriptions_of(session, requests)
        # The common case at once: see _store_together. The others, one savepoint each.
        together = await _store_together(context, session, requests, subscriptions, ran, endpoints)
        for request in requests:
            # Read before the savepoint: a failed savepoint expires what it loaded.
            request_id, attempts = request.id, request.attempts
            context.task_started("intake", request.next_run_at, claimed_at)
            seen = _Seen.of(request) if logs.enabled else None
            # (connection id, event key) of each subscription the webhook was handled for.
            touched: list[tuple[str, str]] = []
            found = (
                subscriptions.get(request.subscription_id)
                if request.subscription_id is not None
                else None
            )
            if found is not None:
                touched.append((found[0].connection_id, found[0].event_key))
            began, began_at = time.perf_counter(), utcnow()
            failure: BaseException | None = None
            try:
                if request_id in together and request.subscription_id is not None:
                    stored = together[request_id]
                    _note(activity, request.subscription_id, request.received_at, stored)
                    count += stored
                else:
                    async with session.begin_nested():
                        if request.subscription_id is not None:
                            stored = await _handle_for_subscription(
                                context, session, request, found, ran, endpoints
                            )
                            _note(activity, request.subscription_id, request.received_at, stored)
                        else:
                            stored = await _handle_global(
                                context, session, request, activity, touched, endpoints
                            )
                        count += stored
            except ConnectoryError as error:
                failure = error
                await _finish(session, request_id, "failed", str(error)[:2000])
            except Exception as error:
                failure = error
                logger.exception("handling received webhook %s failed", request_id)
                if attempts >= MAX_INTAKE_ATTEMPTS:
                    await _finish(
                        session, request_id, "failed", "handling failed repeatedly (see the log)"
                    )
            else:
                done.append(request_id)  # marked done together, below
            if seen is not None:
                elapsed = time.perf_counter() - began
                for connection_id, event_key in touched:
                    entry = await seen.entry(
                        logs, connection_id, event_key, began_at, elapsed, failure
                    )
                    if entry is not None:
                        entries.append(entry)
        await _finish_done(session, done)
        # Subscription rows are updated last, in id order: two batches touching the same
        # subscriptions then wait for each other instead of deadlocking.
        await _note_activity(session, activity, context.now())
        await session.commit()
    for entry in entries:  # after the commit: what they say happened is stored
        entry.record()
    logger.debug(
        "handled %d webhooks in %.1f ms", len(request_ids), (time.perf_counter() - started) * 1e3
    )
    return count


@dataclass
class _Entry:
    """A call log entry of a handled webhook, recorded once the batch is committed."""

    calls: ConnectionCalls
    operation: str
    started_at: datetime
    duration: float
    request: str | None
    failure: BaseException | None

    def record(self) -> None:
        unexpected = self.failure is not None and not isinstance(self.failure, ConnectoryError)
        self.calls.record(
            "webhook_intake",
            self.operation,
            started_at=self.started_at,
            duration=self.duration,
            request=self.request,
            # An unexpected error's text may say anything: its class only (details: the log).
            error=None if unexpected else self.failure,
            error_class=type(self.failure).__name__ if unexpected else None,
            error_message="handling failed (see the server log)" if unexpected else None,
        )


@dataclass
class _Seen:
    """What a received webhook's call log entry shows of it (read before handling)."""

    method: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @classmethod
    def of(cls, request: IntakeRequest) -> _Seen:
        return cls(request.method, dict(request.query), dict(request.headers), request.body)

    async def entry(
        self,
        logs: BackgroundCalls,
        connection_id: str,
        event_key: str,
        started_at: datetime,
        duration: float,
        failure: BaseException | None,
    ) -> _Entry | None:
        calls = await logs.of_client(connection_id)
        if calls is None:
            return None
        request = None
        if logs.may_excerpt(connection_id):
            line = intake_request_line(self.query)
            request = calls.describe_request(self.method, line, self.headers, self.body)
        return _Entry(calls, event_key, started_at, duration, request, failure)


async def _note_activity(
    session: AsyncSession, activity: dict[str, tuple[datetime, bool]], now: datetime
) -> None:
    """Each touched subscription's activity times: one executemany per kind of change."""
    table = cast(Table, EventSubscription.__table__)
    with_events: list[dict[str, Any]] = []
    without: list[dict[str, Any]] = []
    for subscription_id in sorted(activity):
        received, had_events = activity[subscription_id]
        (with_events if had_events else without).append(
            {"key": subscription_id, "received": received}
        )
    if with_events:
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("key"))
            .values(last_activity_at=bindparam("received"), last_event_at=now),
            with_events,
        )
    if without:
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("key"))
            .values(last_activity_at=bindparam("received")),
            without,
        )


def _note(
    activity: dict[str, tuple[datetime, bool]], subscription_id: str, at: datetime, stored: int
) -> None:
    before = activity.get(subscription_id)
    latest = at if before is None or at > before[0] else before[0]
    activity[subscription_id] = (latest, bool(stored) or (before is not None and before[1]))


async def _finish_done(session: AsyncSession, request_ids: list[str]) -> None:
    """Mark handled requests done in one statement (their bodies dropped: events hold them)."""
    if not request_ids:
        return
    await session.execute(
        update(IntakeRequest)
        .where(IntakeRequest.id.in_(request_ids))
        .values(status="done", error="", lease_until=None, body=b"")
        .execution_options(synchronize_session=False)
    )


async def _finish(session: AsyncSession, request_id: str, status: str, error: str) -> None:
    values: dict[str, Any] = {"status": status, "error": error, "lease_until": None}
    if status == "done":
        values["body"] = b""  # handled: the events hold what matters
    await session.execute(
        update(IntakeRequest)
        .where(IntakeRequest.id == request_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def _subscriptions_of(
    session: AsyncSession, requests: list[IntakeRequest]
) -> dict[str, tuple[EventSubscription, str]]:
    """The subscriptions of *requests* with their connection's version id, in one query."""
    ids = {r.subscription_id for r in requests if r.subscription_id is not None}
    if not ids:
        return {}
    rows = await session.execute(
        select(EventSubscription, Connection.version_id)
        .join(Connection, Connection.id == EventSubscription.connection_id)
        .where(EventSubscription.id.in_(ids))
    )
    return {subscription.id: (subscription, version_id) for subscription, version_id in rows}


async def _store_together(
    context: EventsContext,
    session: AsyncSession,
    requests: list[IntakeRequest],
    subscriptions: dict[str, tuple[EventSubscription, str]],
    ran: _Ran,
    endpoints: EndpointTargets,
) -> dict[str, int]:
    """Store the events of the batch's subscription webhooks in one savepoint; count by request.

    Two statements for the batch instead of a savepoint and two statements per request.
    Left out (handled alone, in their own savepoint, where a failure is recorded): global
    webhooks, requests whose events cannot be found (bad content, a failed handle), a
    handle declared after the pre-run. If the store fails, every request is handled alone.

    Only the requests received before the batch's first global webhook are taken: a global
    webhook is handled alone, in the loop, so one received earlier than a subscription's
    webhook must be stored first (its events get the earlier seq, in the order of receipt).
    """
    handled: dict[str, int] = {}
    ids: list[str] = []
    items: list[tuple[EventSubscription, list[ReceivedEvent]]] = []
    #: Subscriptions with a request left to be handled alone: their later requests are too,
    #: so that each subscription's events are stored in the order they were received.
    held: set[str] = set()
    for request in requests:  # in the order received
        if request.subscription_id is None:
            break  # a global webhook: it and everything after it are handled in the loop
        if request.subscription_id in held:
            continue
        if request.id in ran and ran[request.id][1] is not None:
            held.add(request.subscription_id)  # its handle failed: recorded when handled alone
            continue
        try:
            found = await _received_for_subscription(
                context, session, request, subscriptions.get(request.subscription_id), ran, False
            )
        except SQLAlchemyError:
            # This session's own failure, outside any savepoint: on PostgreSQL it aborted the
            # whole transaction, so nothing more of the batch can run in it.
            raise
        except Exception:  # handled alone below, where its failure is recorded
            found = _LATER
        if found is None:
            handled[request.id] = 0  # nothing to store (gone, or no such event)
        elif isinstance(found, _Later):
            held.add(request.subscription_id)
        else:
            ids.append(request.id)
            items.append(found)
    if not items:
        return handled
    try:
        async with session.begin_nested():
            counts = await store_events_many(session, items, context.now(), endpoints)
    except Exception as error:
        logger.warning(
            "storing %d webhooks' events together failed (%s); storing them one by one",
            len(items),
            type(error).__name__,
        )
        return handled
    handled.update(zip(ids, counts, strict=True))
    return handled


class _Later:
    """What _received_for_subscription gives back for a handle it may not run now."""


_LATER = _Later()


async def _received_for_subscription(
    context: EventsContext,
    session: AsyncSession,
    request: IntakeRequest,
    found: tuple[EventSubscription, str] | None,
    ran: _Ran,
    may_run: bool = True,
) -> tuple[EventSubscription, list[ReceivedEvent]] | _Later | None:
    """The events a subscription's webhook holds; None when there is nothing to store.

    With *may_run* False, a JavaScript handle the pre-run did not run is not run: _LATER.
    """
    if found is None:
        return None
    subscription, version_id = found
    if subscription.deleted_at is not None:
        return None
    spec = await context.spec_by_version_id(session, version_id)
    event = spec.event(subscription.event_key) if spec is not None else None
    if event is None or event.webhook is None:
        return None
    handle = event.webhook.handle
    given = _input_of(request, subscription)
    if handle.method is not None:
        if request.id in ran:
            result, error = ran[request.id]
            if error is not None:
                raise error
        elif not may_run:
            return _LATER
        else:  # the method was declared after the pre-run looked (a version change): now
            result = await _run_handle_method(context, session, subscription, handle.method, given)
        received = events_from_method(result, event.key, request.message_id)
    else:
        received = events_from_webhook(handle, event.key, given)
    return subscription, received


async def _handle_for_subscription(
    context: EventsContext,
    session: AsyncSession,
    request: IntakeRequest,
    found: tuple[EventSubscription, str] | None,
    ran: _Ran,
    endpoints: EndpointTargets,
) -> int:
    received = await _received_for_subscription(context, session, request, found, ran)
    if received is None or isinstance(received, _Later):
        return 0
    subscription, items = received
    stored = await store_events(session, subscription, items, context.now(), endpoints)
    return len(stored)


def _input_of(request: IntakeRequest, subscription: EventSubscription) -> WebhookInput:
    return WebhookInput(
        request.body,
        dict(request.headers),
        dict(request.query),
        subscription.state.get("values", {}),
        request.message_id,
    )


#: What each JavaScript handle of a batch returned, or the error it raised, by request id.
_Ran = dict[str, tuple[Any, BaseException | None]]


async def _run_javascript_handles(context: EventsContext, request_ids: list[str]) -> _Ran:
    """Run the JavaScript ``handle`` of each claimed webhook that has one (read-only session).

    Only the subscriptions are read for every request; bodies only for the scripted ones.
    """
    ran: _Ran = {}
    async with context.sessions() as session:
        rows = (
            await session.execute(
                select(IntakeRequest.id, EventSubscription, Connection.version_id)
                .join(EventSubscription, EventSubscription.id == IntakeRequest.subscription_id)
                .join(Connection, Connection.id == EventSubscription.connection_id)
                .where(IntakeRequest.id.in_(request_ids), IntakeRequest.status == "pending")
            )
        ).all()
        scripted: list[tuple[str, EventSubscription, CodeRefSpec]] = []
        for request_id, subscription, version_id in rows:
            spec = await context.spec_by_version_id(session, version_id)
            event = spec.event(subscription.event_key) if spec is not None else None
            if event is not None and event.webhook is not None and event.webhook.handle.method:
                scripted.append((request_id, subscription, event.webhook.handle.method))
        if not scripted:
            return ran
        requests = {
            request.id: request
            for request in await session.scalars(
                select(IntakeRequest).where(IntakeRequest.id.in_([r for r, _, _ in scripted]))
            )
        }
        for request_id, subscription, method in scripted:
            request = requests.get(request_id)
            if request is None:
                continue
            try:
                result = await _run_handle_method(
                    context, session, subscription, method, _input_of(request, subscription)
                )
            except Exception as error:  # re-raised where the request is handled (and marked)
                ran[request_id] = (None, error)
            else:
                ran[request_id] = (result, None)
    return ran


async def _run_handle_method(
    context: EventsContext,
    session: AsyncSession,
    subscription: EventSubscription,
    method: CodeRefSpec,
    given: WebhookInput,
) -> Any:
    """A JavaScript ``handle``, run with the subscription's connection's client."""
    from connectory.services.events.subscriptions import load_details  # imports this module

    details = await load_details(session, subscription.connection_id)
    if details is None:
        raise EventError("the subscription's connection no longer exists")
    async with await context.runtimes.acquire(session, details) as client:
        return await client.run_method(
            method, parameters=subscription.parameters, input=method_input(given)
        )


async def _handle_global(
    context: EventsContext,
    session: AsyncSession,
    request: IntakeRequest,
    activity: dict[str, tuple[datetime, bool]],
    touched: list[tuple[str, str]],
    endpoints: EndpointTargets,
) -> int:
    # Each published version with live subscriptions runs its own handle and routes its events
    # to its own subscriptions by selector.
    rows = (
        await session.execute(
            select(EventSubscription, ConnectorVersion)
            .join(Connection, Connection.id == EventSubscription.connection_id)
            .join(ConnectorVersion, ConnectorVersion.id == Connection.version_id)
            .where(
                EventSubscription.connector_id == request.connector_id,
                EventSubscription.kind == "global_webhook",
                EventSubscription.status == "active",
                EventSubscription.deleted_at.is_(None),
                Connection.deleted_at.is_(None),
            )
        )
    ).all()
    by_version: dict[str, tuple[ConnectorVersion, list[EventSubscription]]] = {}
    for subscription, version in rows:
        by_version.setdefault(version.id, (version, []))[1].append(subscription)
    count = 0
    for version, subscriptions in by_version.values():
        spec = context.spec_of(version)
        for key in {s.event_key for s in subscriptions}:
            event = spec.event(key)
            if event is None or event.global_webhook is None:
                continue
            received = events_from_webhook(
                event.global_webhook.handle,
                event.key,
                WebhookInput(
                    request.body, dict(request.headers), dict(request.query), {}, request.message_id
                ),
            )
            for subscription in subscriptions:
                if subscription.event_key != key:
                    continue
                mine = [item for item in received if item.selector == subscription.selector]
                if mine:
                    touched.append((subscription.connection_id, subscription.event_key))
                    stored = len(
                        await store_events(session, subscription, mine, context.now(), endpoints)
                    )
                    count += stored
                    _note(activity, subscription.id, request.received_at, stored)
    return count
