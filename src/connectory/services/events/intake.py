"""Receiving webhooks: check, store raw, answer; handle in the background.

``accept_webhook`` is what the public intake endpoints run. It answers 2xx only after the raw
request is committed, and does nothing slow: the connector's ``handle`` runs later, in
``process_due_intake`` on a worker. Checks, in order: the URL's token; a declared handshake
(answered inline, unsigned); the declared signature over the raw bytes (and its timestamp);
then a repeated message id is acknowledged without being stored twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Integer, String, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import (
    ConnectoryError,
    EventError,
    InvalidRequest,
    NotFound,
    TemplateError,
    WebhookRejected,
)
from connectory.events.handling import (
    WebhookInput,
    events_from_method,
    events_from_webhook,
    method_input,
)
from connectory.events.verification import answer_challenge, verify_signature
from connectory.observability.calls import ConnectionCalls
from connectory.services.connection_runtime import CONNECTOR_PARAMETERS_OWNER
from connectory.services.connections import CREDENTIALS_OWNER
from connectory.services.events.call_logs import BackgroundCalls, intake_request_line
from connectory.services.events.context import EventsContext
from connectory.services.events.records import dialect_of, hold_write_lock, store_events
from connectory.services.secret_store import read_secrets
from connectory.spec.code import CodeRefSpec
from connectory.spec.connector import ConnectorSpec
from connectory.spec.events import ChallengeSpec, SignatureSpec
from connectory.store.event_models import ConnectorIntakeRoute, EventSubscription, IntakeRequest
from connectory.store.models import Connection, Connector, ConnectorVersion, new_id, utcnow
from connectory.templating import compile_template

logger = logging.getLogger("connectory.events.intake")

#: A received webhook whose handling fails this often (not its content: e.g. the database)
#: is marked failed.
MAX_INTAKE_ATTEMPTS = 5
INTAKE_LEASE_SECONDS = 120

#: Request headers never stored with a received webhook.
_DROPPED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


@dataclass
class IntakeAnswer:
    """What the intake endpoint answers."""

    status: int
    content_type: str
    body: bytes


_ACCEPTED = IntakeAnswer(200, "application/json", b'{"received":true}')
_DUPLICATE = IntakeAnswer(200, "application/json", b'{"received":true,"duplicate":true}')


async def accept_webhook(
    context: EventsContext,
    token: str,
    method: str,
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
) -> IntakeAnswer:
    """Check and durably store one received webhook.

    Raises:
        NotFound: no subscription or connector has this URL (or it was deleted).
        WebhookRejected: the signature or its timestamp is wrong or missing.
    """
    headers = {name.lower(): value for name, value in headers.items()}
    route = await _cached_route(context, token)
    if route.challenge is not None:
        answer = answer_challenge(route.challenge, query, headers, body)
        if answer is not None:
            return IntakeAnswer(*answer)
    if method != "POST":
        raise InvalidRequest("webhooks are delivered with POST; this URL answers no GET")
    message_id = None
    if route.verification is not None:
        message_id = verify_signature(
            route.verification, route.secret, headers, body, context.now().timestamp()
        )
    now = context.now()
    stored = await context.intake.store(
        {
            "id": new_id(),
            "route": route.key,
            "subscription_id": route.subscription_id,
            "connector_id": route.connector_id,
            "enterprise_id": route.enterprise_id,
            "message_id": message_id,
            "method": method,
            "query": query,
            "headers": {k: v for k, v in headers.items() if k not in _DROPPED_HEADERS},
            "body": body,
            "received_at": now,
            "status": "pending",
            "attempts": 0,
            "next_run_at": now,
            "error": "",
        }
    )
    if not stored:
        return _DUPLICATE  # the same message again: acknowledged, not stored twice
    await context.wake("intake")
    return _ACCEPTED


#: How long a looked-up intake route (and its signing secret) is reused: a deleted or paused
#: subscription, or a changed secret, is seen within this many seconds.
ROUTE_TTL_SECONDS = 5.0


async def _cached_route(context: EventsContext, token: str) -> _Route:
    cache = context.intake_routes
    found = cache.get(token)
    now = time.monotonic()
    if found is not None and found[0] > now:
        cached: _Route = found[1]
        return cached
    async with context.sessions() as session:
        route = await _find_route(context, session, token)
    if route.verification is not None:
        route.secret = _render_secret(route.verification, route.variables)
        route.variables = {}  # keep the rendered secret only, not every credential
    if len(cache) >= 10_000:
        cache.clear()
    cache[token] = (now + ROUTE_TTL_SECONDS, route)
    return route


@dataclass
class _Route:
    key: str
    connector_id: str
    subscription_id: str | None
    enterprise_id: str | None
    verification: SignatureSpec | None
    challenge: ChallengeSpec | None
    variables: dict[str, Any]
    secret: str = ""


async def _find_route(context: EventsContext, session: AsyncSession, token: str) -> _Route:
    missing = NotFound("no webhook is registered at this URL")
    if not 20 <= len(token) <= 64:
        raise missing
    found = (
        await session.execute(
            select(EventSubscription, Connection, ConnectorVersion)
            .join(Connection, Connection.id == EventSubscription.connection_id)
            .join(ConnectorVersion, ConnectorVersion.id == Connection.version_id)
            .where(
                EventSubscription.intake_token == token,
                EventSubscription.deleted_at.is_(None),
                Connection.deleted_at.is_(None),
            )
        )
    ).first()
    if found is not None:
        subscription, connection, version = found
        if subscription.kind != "webhook" or subscription.status in ("paused", "unsubscribing"):
            raise missing
        spec = context.spec_of(version)
        event = spec.event(subscription.event_key)
        if event is None or event.webhook is None:
            raise missing
        fallback = spec.webhooks
        verification = event.webhook.verification or (fallback.verification if fallback else None)
        challenge = event.webhook.challenge or (fallback.challenge if fallback else None)
        variables: dict[str, Any] = {}
        if verification is not None:
            credentials = dict(connection.public_credentials)
            credentials.update(
                await read_secrets(session, context.box, CREDENTIALS_OWNER, connection.id)
            )
            variables = {
                "credentials": credentials,
                "config": connection.config,
                "connector_parameters": await read_secrets(
                    session, context.box, CONNECTOR_PARAMETERS_OWNER, connection.connector_id
                ),
            }
        return _Route(
            f"s:{subscription.id}",
            connection.connector_id,
            subscription.id,
            subscription.enterprise_id,
            verification,
            challenge,
            variables,
        )
    route = await session.scalar(
        select(ConnectorIntakeRoute).where(ConnectorIntakeRoute.intake_token == token)
    )
    if route is None:
        raise missing
    latest = await _latest_spec(context, session, route.connector_id)
    if latest is None:
        raise missing
    webhooks = latest.webhooks
    verification = webhooks.verification if webhooks else None
    variables = {}
    if verification is not None:
        variables = {
            "connector_parameters": await read_secrets(
                session, context.box, CONNECTOR_PARAMETERS_OWNER, route.connector_id
            )
        }
    return _Route(
        f"g:{route.connector_id}",
        route.connector_id,
        None,
        None,
        verification,
        webhooks.challenge if webhooks else None,
        variables,
    )


async def _latest_spec(
    context: EventsContext, session: AsyncSession, connector_id: str
) -> ConnectorSpec | None:
    connector = await session.scalar(
        select(Connector).where(Connector.id == connector_id, Connector.deleted_at.is_(None))
    )
    if connector is None or connector.latest_version is None:
        return None
    version = await session.scalar(
        select(ConnectorVersion).where(
            ConnectorVersion.connector_id == connector_id,
            ConnectorVersion.version == connector.latest_version,
        )
    )
    return None if version is None else context.spec_of(version)


def _render_secret(spec: SignatureSpec, variables: dict[str, Any]) -> str:
    try:
        return compile_template(spec.secret).render(variables)
    except TemplateError:
        # Which value is missing is for the connection's owner, not for the sender.
        logger.warning("a webhook's signing secret cannot be rendered; check the connection")
        raise WebhookRejected("no signing secret is configured for this webhook") from None


# --- background ----------------------------------------------------------------------------


def _claim_sql(dialect: str) -> Any:
    lock = " FOR UPDATE OF i SKIP LOCKED" if dialect == "postgresql" else ""
    # Round robin over routes (one provider's burst is one route): rank within the route.
    # Nothing is claimed behind a request of its route that another worker is handling: each
    # route's webhooks become events in the order they were received.
    return (
        text(
            f"""
        SELECT i.id FROM intake_requests i JOIN (
            SELECT id, row_number() OVER (PARTITION BY route ORDER BY received_at) AS rk
            FROM intake_requests
            WHERE status = 'pending' AND next_run_at <= :now
              AND (lease_until IS NULL OR lease_until < :now)
        ) r ON r.id = i.id
        WHERE NOT EXISTS (
            SELECT 1 FROM intake_requests e
            WHERE e.route = i.route AND e.status = 'pending' AND e.received_at < i.received_at
              AND e.lease_until >= :now
        )
        ORDER BY r.rk, i.received_at LIMIT :n{lock}
        """
        )
        .bindparams(bindparam("now", type_=DateTime(timezone=True)), bindparam("n", type_=Integer))
        .columns(id=String)
    )


async def claim_intake(
    session: AsyncSession, now: datetime, limit: int, lease_seconds: float = INTAKE_LEASE_SECONDS
) -> list[str]:
    """Claim up to *limit* received webhooks to handle; the caller commits."""
    dialect = dialect_of(session)
    ids = list((await session.execute(_claim_sql(dialect), {"now": now, "n": limit})).scalars())
    if not ids:
        return []
    claimed = await session.execute(
        update(IntakeRequest)
        .where(
            IntakeRequest.id.in_(ids),
            IntakeRequest.status == "pending",
            (IntakeRequest.lease_until.is_(None)) | (IntakeRequest.lease_until < now),
        )
        .values(
            lease_until=now + timedelta(seconds=lease_seconds),
            attempts=IntakeRequest.attempts + 1,
        )
        .returning(IntakeRequest.id)
        .execution_options(synchronize_session=False)
    )
    return list(claimed.scalars())


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
    started = time.perf_counter()
    count = 0
    activity: dict[str, tuple[datetime, bool]] = {}
    logs = BackgroundCalls(context)
    entries: list[_Entry] = []
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
        for request in requests:
            # Read before the savepoint: a failed savepoint expires what it loaded.
            request_id, attempts = request.id, request.attempts
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
                async with session.begin_nested():
                    if request.subscription_id is not None:
                        stored = await _handle_for_subscription(context, session, request, found)
                        _note(activity, request.subscription_id, request.received_at, stored)
                    else:
                        stored = await _handle_global(context, session, request, activity, touched)
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
                await _finish(session, request_id, "done", "")
            if seen is not None:
                elapsed = time.perf_counter() - began
                for connection_id, event_key in touched:
                    entry = await seen.entry(
                        logs, connection_id, event_key, began_at, elapsed, failure
                    )
                    if entry is not None:
                        entries.append(entry)
        # Subscription rows are updated last, in id order: two batches touching the same
        # subscriptions then wait for each other instead of deadlocking.
        for subscription_id in sorted(activity):
            received, had_events = activity[subscription_id]
            values: dict[str, Any] = {"last_activity_at": received}
            if had_events:
                values["last_event_at"] = context.now()
            await session.execute(
                update(EventSubscription)
                .where(EventSubscription.id == subscription_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
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


def _note(
    activity: dict[str, tuple[datetime, bool]], subscription_id: str, at: datetime, stored: int
) -> None:
    before = activity.get(subscription_id)
    latest = at if before is None or at > before[0] else before[0]
    activity[subscription_id] = (latest, bool(stored) or (before is not None and before[1]))


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


async def _handle_for_subscription(
    context: EventsContext,
    session: AsyncSession,
    request: IntakeRequest,
    found: tuple[EventSubscription, str] | None,
) -> int:
    if found is None:
        return 0
    subscription, version_id = found
    if subscription.deleted_at is not None:
        return 0
    spec = await context.spec_by_version_id(session, version_id)
    event = spec.event(subscription.event_key) if spec is not None else None
    if event is None or event.webhook is None:
        return 0
    handle = event.webhook.handle
    given = WebhookInput(
        request.body,
        dict(request.headers),
        dict(request.query),
        subscription.state.get("values", {}),
        request.message_id,
    )
    if handle.method is not None:
        result = await _run_handle_method(context, session, subscription, handle.method, given)
        received = events_from_method(result, event.key, request.message_id)
    else:
        received = events_from_webhook(handle, event.key, given)
    stored = await store_events(session, subscription, received, context.now())
    return len(stored)


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
                    stored = len(await store_events(session, subscription, mine, context.now()))
                    count += stored
                    _note(activity, subscription.id, request.received_at, stored)
    return count
