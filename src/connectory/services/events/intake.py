"""Receiving webhooks: check, store raw, answer; handle in the background.

``accept_webhook`` is what the public intake endpoints run. It answers 2xx only after the raw
request is committed, and does nothing slow: the connector's ``handle`` runs later, in
``services.events.intake_handling.process_due_intake`` on a worker, which claims the stored
requests with :func:`claim_intake`. Checks, in order: the URL's token; a declared handshake
(answered inline, unsigned); the declared signature over the raw bytes (and its timestamp);
then a repeated message id is acknowledged without being stored twice.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Integer, String, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import (
    ConnectoryError,
    InvalidRequest,
    NotFound,
    TemplateError,
    WebhookRejected,
)
from connectory.events.stored_keys import fitted_key
from connectory.events.verification import answer_challenge, verify_signature
from connectory.services.connection_runtime import CONNECTOR_PARAMETERS_OWNER
from connectory.services.connections import CREDENTIALS_OWNER
from connectory.services.events.context import EventsContext
from connectory.services.events.intake_routes import look_up_failure
from connectory.services.events.records import dialect_of
from connectory.services.secret_store import read_secrets
from connectory.spec.connector import ConnectorSpec
from connectory.spec.events import ChallengeSpec, SignatureSpec
from connectory.store.event_models import (
    MESSAGE_ID_LENGTH,
    ConnectorIntakeRoute,
    EventSubscription,
    IntakeRequest,
)
from connectory.store.models import Connection, Connector, ConnectorVersion, new_id
from connectory.templating import compile_template

logger = logging.getLogger("connectory.events.intake")

INTAKE_LEASE_SECONDS = 120

#: Characters of a long message id kept ahead of its digest (128 + 1 + 64 <= 200).

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
        StorageUnavailable: the database was unavailable for the look-up or the write; the
            webhook may not have been stored (the sender retries; a repeat is recognised by
            its message id).
        WebhookUnstorable: the database refuses to store this webhook (a repeat would be
            refused too).
        InternalError: the look-up failed otherwise (a bug, a schema out of step); its cause
            is logged under the error id the message quotes.
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
    if message_id is not None:
        message_id = storable_message_id(message_id)
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
    # The batcher wakes the worker once per committed batch (see intake_batch).
    return _ACCEPTED


def storable_message_id(message_id: str) -> str:
    """*message_id* as stored: as it is when it fits the column, else shortened stably.

    The column holds ``MESSAGE_ID_LENGTH`` (200) characters; a longer id would make the
    database refuse the row. A longer id keeps its first 128 characters, followed by ``#``
    and the SHA-256 (hex) of the whole id: the same id always gives the same stored value,
    so a repeat is still recognised, and two ids differing anywhere stay distinct.
    """
    return fitted_key(message_id, MESSAGE_ID_LENGTH)


async def _cached_route(context: EventsContext, token: str) -> _Route:
    """The route of *token*, looked up at most once at a time (see ``intake_routes``).

    A looked-up route (and its signing secret) is served for ``RouteCache.ttl`` seconds (5):
    a deleted or paused subscription, or a changed secret, is seen within that time.
    """

    async def look_up() -> _Route:
        try:
            async with context.sessions() as session:
                route = await _find_route(context, session, token)
        except ConnectoryError:
            raise  # not found, a secret that cannot be decrypted: answered as they are
        except Exception as error:
            # A 503 only when a retry can succeed; otherwise a 500 with a logged error id.
            raise look_up_failure(error) from None
        if route.verification is not None:
            route.secret = _render_secret(route.verification, route.variables)
            route.variables = {}  # keep the rendered secret only, not every credential
        return route

    route: _Route = await context.intake_routes.get(token, look_up)
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


#: What an intake token looks like (``secrets.token_urlsafe``; 43 characters today).
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,64}")


async def _find_route(context: EventsContext, session: AsyncSession, token: str) -> _Route:
    missing = NotFound("no webhook is registered at this URL")
    # Tokens are token_urlsafe's: anything else is no token of ours, answered without a
    # query (a NUL byte, say, made PostgreSQL refuse the parameter: a 500 and a logged error
    # per request, for a client's mistake).
    if _TOKEN_SHAPE.fullmatch(token) is None:
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
