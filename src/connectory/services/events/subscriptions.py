"""Subscriptions: a connection subscribed to one of its connector's events.

Creating one stores it as ``subscribing`` and due now; the worker then calls the connector's
``subscribe`` (or makes the baseline poll), and the subscription becomes ``active``. From
then on it is due when it must be polled or refreshed. Deleting it marks it
``unsubscribing``; the worker calls ``unsubscribe`` and then marks it ``deleted``. A failure
makes it ``failing`` with the error and the time of the next try (exponential backoff).

The ``state`` column holds ``values`` (what subscribe/refresh returned, seen by templates as
``state``), ``subscribed`` (whether the provider knows the subscription) and, for polls,
``cursor`` (the newest change time seen).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Integer, String, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import (
    ConnectoryError,
    FieldIssue,
    InvalidRequest,
    NotFound,
    TemplateError,
)
from connectory.runtime.inputs import check_fields
from connectory.runtime.pacing import capped_pauses
from connectory.services.connections import (
    ConnectionDetails,
    check_may_manage_connections,
    get_connection,
    load_credentials,
    spec_of,
)
from connectory.services.events.collection_events import poll_collection
from connectory.services.events.context import EventsContext
from connectory.services.events.polling import poll_subscription
from connectory.services.events.records import as_utc, dialect_of
from connectory.services.events.webhook_calls import call_subscription_method
from connectory.services.listing import is_plausible_id
from connectory.services.principal import Principal
from connectory.services.secret_store import SecretBox, secret_fields
from connectory.spec.events import EventSpec
from connectory.store.event_models import ConnectorIntakeRoute, EventSubscription
from connectory.store.models import Connection, Connector, ConnectorVersion
from connectory.templating import compile_template

logger = logging.getLogger("connectory.events.subscriptions")

SUBSCRIPTION_LEASE_SECONDS = 300
#: Longest wait before retrying a failing subscription.
MAX_RETRY_SECONDS = 3600.0
#: Tries of ``unsubscribe`` before the subscription is deleted anyway.
MAX_UNSUBSCRIBE_FAILURES = 5


def new_intake_token() -> str:
    """An unguessable URL part (256 bits)."""
    return secrets.token_urlsafe(32)


def intake_url(public_url: str | None, token: str) -> str | None:
    """The URL a provider sends webhooks to, or None without a public URL."""
    if public_url is None:
        return None
    return f"{public_url.rstrip('/')}/hooks/{token}"


@dataclass
class SubscriptionInput:
    """What a client subscribes with."""

    connection_id: str
    event: str
    parameters: dict[str, Any]


async def create_subscription(
    session: AsyncSession,
    principal: Principal,
    box: SecretBox,
    public_url: str | None,
    data: SubscriptionInput,
    now: datetime,
) -> EventSubscription:
    """Subscribe a connection to an event; the worker does the rest (see the module doc).

    Raises:
        NotFound: no such connection (another enterprise's included).
        InvalidRequest: no such event, invalid parameters, or no public URL for a webhook.
    """
    details = await get_connection(session, principal, data.connection_id)
    check_may_manage_connections(principal)
    event = details.spec.event(data.event)
    if event is None:
        known = ", ".join(e.key for e in details.spec.events) or "none"
        raise InvalidRequest(
            f"the connector has no event {data.event!r} (its events: {known})",
            [FieldIssue(("body", "event"), "unknown event")],
        )
    resolved, problems = check_fields(event.parameters, data.parameters, "parameter")
    if problems:
        raise InvalidRequest(
            "the subscription's parameters do not match the event's",
            [FieldIssue(("body", "parameters", name), message) for name, message in problems],
        )
    if event.type == "webhook" and public_url is None:
        raise InvalidRequest(
            "webhook subscriptions need the address providers can reach this server at: set "
            "CONNECTORY_PUBLIC_URL (e.g. https://connectory.example.com)"
        )
    selector = None
    if event.global_webhook is not None:
        selector = await _render_selector(session, box, details, event)
    subscription = EventSubscription(
        enterprise_id=details.connection.enterprise_id,
        connection_id=details.connection.id,
        connector_id=details.connector.id,
        event_key=event.key,
        kind=event.type,
        parameters=resolved,
        state={"values": {}, "subscribed": False},
        intake_token=new_intake_token(),
        selector=selector,
        status="subscribing",
        next_run_at=now,
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(subscription)
    if event.global_webhook is not None:
        await ensure_global_route(session, details.connector.id)
    await session.flush()
    return subscription


async def _render_selector(
    session: AsyncSession, box: SecretBox, details: ConnectionDetails, event: EventSpec
) -> str:
    assert event.global_webhook is not None
    credentials = await load_credentials(session, box, details)
    try:
        value = compile_template(event.global_webhook.subscription_selector).render(
            {"credentials": credentials, "config": details.connection.config}
        )
    except TemplateError as error:
        raise InvalidRequest(
            f"the connection lacks what the global webhook routes on: {error}"
        ) from None
    if not value:
        raise InvalidRequest("the connection's global webhook selector renders empty")
    return value


async def ensure_global_route(session: AsyncSession, connector_id: str) -> ConnectorIntakeRoute:
    """The connector's global webhook URL token, created on first use."""
    route = await session.get(ConnectorIntakeRoute, connector_id)
    if route is None:
        route = ConnectorIntakeRoute(connector_id=connector_id, intake_token=new_intake_token())
        session.add(route)
        await session.flush()
    return route


def _visible(principal: Principal) -> Any:
    return (
        (EventSubscription.enterprise_id == principal.enterprise_id)
        & (EventSubscription.deleted_at.is_(None))
        if principal.enterprise_id is not None
        else EventSubscription.id.is_(None)
    )


async def get_subscription(
    session: AsyncSession, principal: Principal, subscription_id: str
) -> EventSubscription:
    """A live subscription of the caller's enterprise.

    Raises:
        NotFound: otherwise.
    """
    found = None
    if is_plausible_id(subscription_id):
        found = await session.scalar(
            select(EventSubscription).where(
                EventSubscription.id == subscription_id, _visible(principal)
            )
        )
    if found is None:
        raise NotFound(f"subscription {subscription_id!r} not found")
    return found


async def list_subscriptions(
    session: AsyncSession, principal: Principal, connection_id: str | None = None
) -> list[EventSubscription]:
    """The caller's enterprise's live subscriptions, newest first."""
    query = select(EventSubscription).where(_visible(principal))
    if connection_id is not None:
        query = query.where(EventSubscription.connection_id == connection_id)
    query = query.order_by(EventSubscription.created_at.desc(), EventSubscription.id)
    return list(await session.scalars(query))


async def delete_subscription(
    session: AsyncSession, principal: Principal, subscription_id: str, now: datetime
) -> EventSubscription:
    """Unsubscribe: the worker calls the connector's ``unsubscribe``, then deletes it."""
    subscription = await get_subscription(session, principal, subscription_id)
    check_may_manage_connections(principal)
    mark_unsubscribing(subscription, now)
    await session.flush()
    return subscription


def mark_unsubscribing(subscription: EventSubscription, now: datetime) -> None:
    """Stop the subscription's intake and polls; the worker unsubscribes it."""
    subscription.status = "unsubscribing"
    subscription.failures = 0
    subscription.next_run_at = now
    subscription.lease_until = None
    subscription.updated_at = now


async def unsubscribe_connection(
    context: EventsContext, session: AsyncSession, details: ConnectionDetails
) -> int:
    """Unsubscribe every subscription of a connection that is being deleted, now.

    The connection's credentials are about to be destroyed, so the provider is told while
    they still exist; a failure is logged and the subscription is deleted all the same.
    """
    subscriptions = list(
        await session.scalars(
            select(EventSubscription).where(
                EventSubscription.connection_id == details.connection.id,
                EventSubscription.deleted_at.is_(None),
            )
        )
    )
    for subscription in subscriptions:
        event = details.spec.event(subscription.event_key)
        if (
            event is not None
            and event.webhook is not None
            and event.webhook.unsubscribe is not None
            and subscription.state.get("subscribed")
        ):
            try:
                await call_subscription_method(
                    context, session, details, subscription, event.webhook.unsubscribe
                )
            except ConnectoryError as error:
                logger.warning("unsubscribing %s failed: %s", subscription.id, error)
        _finish_deletion(subscription, context.now())
    await session.flush()
    return len(subscriptions)


def _finish_deletion(subscription: EventSubscription, now: datetime) -> None:
    subscription.status = "deleted"
    subscription.deleted_at = now
    subscription.next_run_at = None
    subscription.lease_until = None
    subscription.updated_at = now


async def set_paused(
    session: AsyncSession, principal: Principal, subscription_id: str, paused: bool, now: datetime
) -> EventSubscription:
    """Pause (no polls, no intake) or resume a subscription."""
    subscription = await get_subscription(session, principal, subscription_id)
    check_may_manage_connections(principal)
    if subscription.status == "unsubscribing":
        raise InvalidRequest("the subscription is being deleted")
    if paused:
        subscription.status = "paused"
        subscription.next_run_at = None
    elif subscription.status == "paused":
        subscription.status = "active" if subscription.state.get("subscribed") else "subscribing"
        subscription.next_run_at = now
    subscription.updated_at = now
    await session.flush()
    return subscription


async def show_subscription(
    session: AsyncSession, subscription: EventSubscription, public_url: str | None, now: datetime
) -> dict[str, Any]:
    """:func:`subscription_view`, with the connector's global URL for a global webhook."""
    token = None
    if subscription.kind == "global_webhook":
        route = await session.get(ConnectorIntakeRoute, subscription.connector_id)
        token = route.intake_token if route is not None else None
    return subscription_view(subscription, public_url, now, token)


def subscription_view(
    subscription: EventSubscription,
    public_url: str | None,
    now: datetime,
    global_token: str | None = None,
) -> dict[str, Any]:
    """A subscription as the API shows it: status, errors, activity and lag."""
    last = subscription.last_activity_at
    token = subscription.intake_token if subscription.kind == "webhook" else global_token
    return {
        "id": subscription.id,
        "connection_id": subscription.connection_id,
        "event": subscription.event_key,
        "kind": subscription.kind,
        "parameters": subscription.parameters,
        "status": subscription.status,
        "last_error": subscription.last_error or None,
        "retry_at": as_utc(subscription.next_run_at)
        if subscription.status == "failing" and subscription.next_run_at
        else None,
        "next_run_at": as_utc(subscription.next_run_at) if subscription.next_run_at else None,
        "expires_at": as_utc(subscription.expires_at) if subscription.expires_at else None,
        "last_activity_at": as_utc(last) if last else None,
        "last_event_at": as_utc(subscription.last_event_at) if subscription.last_event_at else None,
        "lag_seconds": round((now - as_utc(last)).total_seconds(), 3) if last else None,
        "intake_url": intake_url(public_url, token) if token is not None else None,
        "selector": subscription.selector,
        "created_at": as_utc(subscription.created_at),
    }


# --- background ----------------------------------------------------------------------------

_CLAIM = {
    dialect: text(
        "SELECT id FROM event_subscriptions WHERE next_run_at <= :now "
        "AND (lease_until IS NULL OR lease_until < :now) AND deleted_at IS NULL "
        f"ORDER BY next_run_at LIMIT :n{suffix}"
    )
    .bindparams(bindparam("now", type_=DateTime(timezone=True)), bindparam("n", type_=Integer))
    .columns(id=String)
    for dialect, suffix in (("postgresql", " FOR UPDATE SKIP LOCKED"), ("sqlite", ""))
}


async def claim_subscriptions(
    session: AsyncSession,
    now: datetime,
    limit: int,
    lease_seconds: float = SUBSCRIPTION_LEASE_SECONDS,
) -> list[str]:
    """Claim due subscriptions (SKIP LOCKED on PostgreSQL); the caller commits."""
    statement = _CLAIM.get(dialect_of(session), _CLAIM["sqlite"])
    ids = list((await session.execute(statement, {"now": now, "n": limit})).scalars())
    if not ids:
        return []
    claimed = await session.execute(
        update(EventSubscription)
        .where(
            EventSubscription.id.in_(ids),
            (EventSubscription.lease_until.is_(None)) | (EventSubscription.lease_until < now),
        )
        .values(lease_until=now + timedelta(seconds=lease_seconds))
        .returning(EventSubscription.id)
        .execution_options(synchronize_session=False)
    )
    return list(claimed.scalars())


#: Claimed subscriptions run at once on PostgreSQL (each in its own session and transaction,
#: mostly waiting on the API it polls); SQLite has one writer, so there they run in turn.
CONCURRENT_SUBSCRIPTIONS = 8


async def run_due_subscriptions(context: EventsContext, batch: int = 20, rounds: int = 50) -> int:
    """Subscribe, poll, refresh or unsubscribe every due subscription; return how many ran."""
    ran = 0
    stored = 0
    slots = asyncio.Semaphore(CONCURRENT_SUBSCRIPTIONS)

    async def run_one(subscription_id: str) -> int:
        async with slots:
            return await run_subscription(context, subscription_id)

    for _ in range(rounds):
        async with context.sessions() as session:
            claimed = await claim_subscriptions(
                session, context.now(), batch, context.settings.work_lease_seconds
            )
            await session.commit()
            concurrent = dialect_of(session) == "postgresql"
        if not claimed:
            break
        if concurrent:
            stored += sum(await asyncio.gather(*(run_one(i) for i in claimed)))
        else:
            for subscription_id in claimed:
                stored += await run_subscription(context, subscription_id)
        ran += len(claimed)
    if stored:
        await context.wake("deliveries")
    return ran


async def load_details(session: AsyncSession, connection_id: str) -> ConnectionDetails | None:
    """A connection with its connector and version, for background work (no principal)."""
    found = (
        await session.execute(
            select(Connection, Connector, ConnectorVersion)
            .join(Connector, Connector.id == Connection.connector_id)
            .join(ConnectorVersion, ConnectorVersion.id == Connection.version_id)
            .where(Connection.id == connection_id)
        )
    ).first()
    if found is None:
        return None
    connection, connector, version = found
    from connectory.services.connections import CREDENTIALS_OWNER

    stored = await secret_fields(session, CREDENTIALS_OWNER, connection.id)
    return ConnectionDetails(connection, connector, version, spec_of(version), stored)


async def run_subscription(context: EventsContext, subscription_id: str) -> int:
    """Do what one claimed subscription is due for; return the events stored."""
    async with context.sessions() as session:
        subscription = await session.get(EventSubscription, subscription_id)
        if subscription is None or subscription.deleted_at is not None:
            return 0
        details = await load_details(session, subscription.connection_id)
        event = details.spec.event(subscription.event_key) if details is not None else None
        now = context.now()
        context.task_started("subscriptions", subscription.next_run_at, now)
        if details is None or details.connection.deleted_at is not None or event is None:
            _finish_deletion(subscription, now)
            await session.commit()
            return 0
        # The claim is a lease: a poll must not pause (rate limit, Retry-After) past half of it,
        # or another worker would take the subscription over and pull it again.
        lease = context.settings.work_lease_seconds
        try:
            with capped_pauses(lease / 2, "half of CONNECTORY_WORK_LEASE_SECONDS"):
                stored = await _step(context, session, details, event, subscription)
        except ConnectoryError as error:
            await session.rollback()
            await _record_failure(context, subscription_id, error)
            return 0
        subscription.failures = 0
        subscription.last_error = ""
        subscription.lease_until = None
        subscription.updated_at = context.now()
        if stored:
            subscription.last_event_at = subscription.updated_at
        await session.commit()
        return stored


async def _step(
    context: EventsContext,
    session: AsyncSession,
    details: ConnectionDetails,
    event: EventSpec,
    subscription: EventSubscription,
) -> int:
    now = context.now()
    if subscription.status == "unsubscribing":
        webhook = event.webhook
        if (
            webhook is not None
            and webhook.unsubscribe is not None
            and subscription.state.get("subscribed")
        ):
            await call_subscription_method(
                context, session, details, subscription, webhook.unsubscribe
            )
        _finish_deletion(subscription, now)
        return 0
    if subscription.status == "paused":
        subscription.next_run_at = None
        return 0
    pulled = event.poll or event.collection
    if pulled is not None:
        if event.poll is not None:
            stored = await poll_subscription(context, session, details, event, subscription)
        else:
            stored = await poll_collection(context, session, details, event, subscription)
        subscription.state = {**subscription.state, "subscribed": True}
        subscription.status = "active"
        subscription.last_activity_at = now
        subscription.next_run_at = now + timedelta(seconds=pulled.interval_seconds)
        return stored
    webhook = event.webhook
    subscribed = bool(subscription.state.get("subscribed"))
    if webhook is not None:
        call = webhook.refresh if subscribed else webhook.subscribe
        if subscribed and call is None:
            call = webhook.subscribe  # no refresh declared: subscribe again before expiry
        if call is not None and (not subscribed or subscription.expires_at is not None):
            values, expires = await call_subscription_method(
                context, session, details, subscription, call
            )
            subscription.state = {
                **subscription.state,
                "values": {**subscription.state.get("values", {}), **values},
            }
            subscription.expires_at = expires
    subscription.state = {**subscription.state, "subscribed": True}
    subscription.status = "active"
    subscription.next_run_at = None
    expires_at = subscription.expires_at
    if webhook is not None and expires_at is not None:
        refresh_at = as_utc(expires_at) - timedelta(seconds=webhook.refresh_before_seconds)
        subscription.next_run_at = max(refresh_at, now + timedelta(seconds=1))
    return 0


async def _record_failure(
    context: EventsContext, subscription_id: str, error: ConnectoryError
) -> None:
    async with context.sessions() as session:
        subscription = await session.get(EventSubscription, subscription_id)
        if subscription is None:
            return
        now = context.now()
        subscription.failures += 1
        subscription.last_error = str(error)[:2000]
        subscription.lease_until = None
        subscription.updated_at = now
        if subscription.status == "unsubscribing":
            if subscription.failures >= MAX_UNSUBSCRIBE_FAILURES:
                _finish_deletion(subscription, now)
            else:
                subscription.next_run_at = now + timedelta(seconds=30 * subscription.failures)
        else:
            subscription.status = "failing"
            delay = min(MAX_RETRY_SECONDS, 5.0 * 2 ** min(subscription.failures - 1, 20))
            subscription.next_run_at = now + timedelta(seconds=delay)
        await session.commit()
        logger.info("subscription %s failed: %s", subscription_id, error)
