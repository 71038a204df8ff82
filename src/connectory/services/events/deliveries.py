"""Sending events to endpoints: at least once, in order, fairly, with backoff, then dead letters.

One claim picks due deliveries for a batch:

* only the head of each (endpoint, subscription) queue is due: a delivery waits until every
  earlier one of its queue has succeeded or been dead-lettered (order per subscription);
* enterprises take turns: candidates are ranked within their enterprise and the batch is
  filled by rank, so one enterprise's backlog cannot fill a batch while another waits;
* an endpoint gets at most ``max_in_flight`` deliveries at once;
* a claim is a lease: a worker killed mid-send leaves a lease that expires, and the delivery
  is due again (at least once). Claims are made by one claimer at a time (a transaction
  advisory lock on PostgreSQL; SQLite serialises writers).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import orjson
from sqlalchemy import DateTime, Integer, String, bindparam, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import ConnectoryError, UpstreamError
from connectory.events.signing import signature_header
from connectory.http.egress_aiohttp import check_destination
from connectory.observability.calls import ConnectionCalls
from connectory.services.events.call_logs import BackgroundCalls
from connectory.services.events.context import EventsContext
from connectory.services.events.endpoints import ENDPOINT_SECRETS_OWNER, endpoint_secrets
from connectory.services.events.records import as_utc, dialect_of, envelope
from connectory.store.event_models import Delivery, DeliveryAttempt, Event, WebhookEndpoint

logger = logging.getLogger("connectory.events.deliveries")

#: How long a claimed delivery is ours before another worker may take it over.
LEASE_SECONDS = 120
#: Candidates looked at per claim (the batch is chosen among them).
_SCAN = 500
#: The log of a delivery prepared without one: records nothing.
_UNRECORDED = ConnectionCalls(None, "")
#: Any number, the same in every process: the key of the claim's advisory lock.
_CLAIM_LOCK = 0x636F6E6E  # "conn"

_CANDIDATES = (
    text(
        """
    SELECT id, enterprise_id, endpoint_id FROM (
        SELECT d.id, d.enterprise_id, d.endpoint_id, d.next_run_at, d.event_seq,
               row_number() OVER (
                   PARTITION BY d.enterprise_id ORDER BY d.next_run_at, d.event_seq
               ) AS tenant_rank
        FROM deliveries d
        WHERE ((d.status = 'pending' AND d.next_run_at <= :now)
               OR (d.status = 'in_flight' AND d.lease_until < :now))
          AND NOT EXISTS (
              SELECT 1 FROM deliveries p
              WHERE p.endpoint_id = d.endpoint_id AND p.order_key = d.order_key
                AND p.event_seq < d.event_seq AND p.status IN ('pending', 'in_flight')
          )
    ) AS heads
    ORDER BY tenant_rank, next_run_at, event_seq
    LIMIT :scan
    """
    )
    .bindparams(bindparam("now", type_=DateTime(timezone=True)), bindparam("scan", type_=Integer))
    .columns(id=String, enterprise_id=String, endpoint_id=String)
)


def retry_delay(attempts: int, base: float, cap: float) -> float:
    """Seconds to wait after *attempts* failed tries: exponential, capped, with 10% jitter."""
    delay: float = min(cap, base * 2.0 ** max(attempts - 1, 0))
    return delay * random.uniform(0.9, 1.1)


async def claim_deliveries(
    session: AsyncSession, now: datetime, limit: int, lease_seconds: float = LEASE_SECONDS
) -> list[str]:
    """Claim up to *limit* due deliveries (see the module docstring); the caller commits."""
    if dialect_of(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLAIM_LOCK})
    rows = (await session.execute(_CANDIDATES, {"now": now, "scan": _SCAN})).all()
    if not rows:
        return []
    in_flight: dict[str, int] = dict(
        (
            await session.execute(
                select(Delivery.endpoint_id, func.count())
                .where(Delivery.status == "in_flight", Delivery.lease_until >= now)
                .group_by(Delivery.endpoint_id)
            )
        ).all()
    )
    caps = dict(
        (
            await session.execute(
                select(WebhookEndpoint.id, WebhookEndpoint.max_in_flight).where(
                    WebhookEndpoint.id.in_({row.endpoint_id for row in rows})
                )
            )
        ).all()
    )
    chosen: list[str] = []
    for row in rows:  # already in fair order
        taken = in_flight.get(row.endpoint_id, 0)
        if taken >= caps.get(row.endpoint_id, 1):
            continue
        in_flight[row.endpoint_id] = taken + 1
        chosen.append(row.id)
        if len(chosen) >= limit:
            break
    if not chosen:
        return []
    claimed = await session.execute(
        update(Delivery)
        .where(
            Delivery.id.in_(chosen),
            ((Delivery.status == "pending") & (Delivery.next_run_at <= now))
            | ((Delivery.status == "in_flight") & (Delivery.lease_until < now)),
        )
        .values(
            status="in_flight",
            lease_until=now + timedelta(seconds=lease_seconds),
            attempts=Delivery.attempts + 1,
        )
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    return list(claimed.scalars())


@dataclass
class Outcome:
    """What one try of a delivery gave."""

    delivery_id: str
    ok: bool
    status_code: int | None
    error: str
    duration_ms: int
    #: The event's connection's connector (the dead letter metric's label); None: unknown.
    connector_id: str | None = None


@dataclass
class Prepared:
    """A claimed delivery ready to send: where, what, signed with which secrets."""

    delivery_id: str
    url: str | None
    message_id: str
    body: bytes
    secrets: list[str]
    #: The call log of the event's connection (the endpoint's secrets redacted).
    calls: ConnectionCalls | None = None
    #: The event's type (the entry's operation).
    event_type: str = ""
    #: The event's connection's connector (known when anything listens: metrics, call log).
    connector_id: str | None = None


async def dispatch_due(
    context: EventsContext, batch: int = 50, rounds: int = 100, lanes: int = 2
) -> int:
    """Claim and send due deliveries until none is due; return how many were sent.

    *lanes* loops run side by side, so one batch's database work (claim, load, record)
    overlaps another's sends. Per batch: one transaction claims, one query loads the
    deliveries with their events and endpoints (each endpoint's secrets are read once per
    dispatch), the sends run concurrently outside any transaction, and one transaction records
    every outcome. Each lane stops when nothing is due or after *rounds* batches.
    """
    secrets: dict[str, list[str]] = {}
    counts = await asyncio.gather(
        *(_dispatch_lane(context, batch, rounds, secrets) for _ in range(lanes))
    )
    return sum(counts)


async def _dispatch_lane(
    context: EventsContext, batch: int, rounds: int, secrets: dict[str, list[str]]
) -> int:
    sent = 0
    for _ in range(rounds):
        now = context.now()
        async with context.sessions() as session:
            claimed = await claim_deliveries(
                session, now, batch, context.settings.work_lease_seconds
            )
            await session.commit()
            if not claimed:
                break
            prepared = await prepare_deliveries(session, context, claimed, secrets)
        outcomes = await asyncio.gather(*(send_prepared(context, item) for item in prepared))
        await record_outcomes(context, list(outcomes))
        sent += len(claimed)
    return sent


async def prepare_deliveries(
    session: AsyncSession,
    context: EventsContext,
    delivery_ids: list[str],
    secrets: dict[str, list[str]],
) -> list[Prepared]:
    """Load claimed deliveries with their events and endpoints, in one query."""
    rows = (
        await session.execute(
            select(Delivery.id, Delivery.endpoint_id, Delivery.next_run_at, Event)
            .join(Event, Event.id == Delivery.event_id)
            .where(Delivery.id.in_(delivery_ids))
        )
    ).all()
    endpoints = {
        endpoint.id: endpoint
        for endpoint in await session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.id.in_({r.endpoint_id for r in rows}))
        )
    }
    logs = BackgroundCalls(context)
    connectors = await logs.connectors_of(event.connection_id for _, _, _, event in rows)
    calls: dict[tuple[str, str], ConnectionCalls] = {}
    prepared: list[Prepared] = []
    started = context.now()
    for delivery_id, endpoint_id, due, event in rows:
        context.task_started("deliveries", due, started)
        connector_id = connectors.get(event.connection_id)
        endpoint = endpoints.get(endpoint_id)
        if endpoint is None or endpoint.deleted_at is not None or not endpoint.enabled:
            prepared.append(
                Prepared(delivery_id, None, event.id, b"", [], connector_id=connector_id)
            )
            continue
        if endpoint.id not in secrets:
            secrets[endpoint.id] = await endpoint_secrets(session, context, endpoint)
        body = orjson.dumps(envelope(event))
        key = (event.connection_id, endpoint.id)
        if key not in calls:
            calls[key] = logs.for_endpoint(
                event.connection_id,
                event.enterprise_id,
                connector_id,
                secrets[endpoint.id],
            )
        prepared.append(
            Prepared(
                delivery_id,
                endpoint.url,
                event.id,
                body,
                secrets[endpoint.id],
                calls[key],
                event.type,
                connector_id,
            )
        )
    return prepared


async def send_prepared(context: EventsContext, item: Prepared) -> Outcome:
    """One try of one delivery: a signed POST; any 2xx is a success."""
    if item.url is None:
        return Outcome(
            item.delivery_id,
            False,
            None,
            "the endpoint is disabled or deleted",
            0,
            item.connector_id,
        )
    headers = signature_header(
        item.secrets, item.message_id, int(context.now().timestamp()), item.body
    )
    headers["content-type"] = "application/json"
    headers["user-agent"] = "Connectory-Webhooks/1"
    # One call log entry per try (kind "webhook_delivery") in the event's connection's log.
    calls = item.calls or _UNRECORDED
    with calls.track("webhook_delivery", item.event_type) as call:
        call.note_request("POST", item.url, headers, item.body)
        started = time.perf_counter()
        timeout = aiohttp.ClientTimeout(total=context.settings.delivery_timeout_seconds)
        try:
            check_destination(context.egress, item.url)
            async with context.http.post(
                item.url, data=item.body, headers=headers, timeout=timeout, allow_redirects=False
            ) as response:
                status = response.status
                # Read whole: it frees the connection; only the call log's excerpt keeps a head.
                content = await response.read()
                call.note_reply(status, response.headers, content, 1)
        except (aiohttp.ClientError, ConnectoryError, OSError, TimeoutError) as error:
            elapsed = int((time.perf_counter() - started) * 1000)
            call.note_attempts(1)
            call.error = error
            return Outcome(
                item.delivery_id, False, None, _describe(error), elapsed, item.connector_id
            )
        elapsed = int((time.perf_counter() - started) * 1000)
        ok = 200 <= status < 300
        problem = "" if ok else f"the endpoint answered {status}"
        if not ok:
            call.error = UpstreamError(problem, status)
        return Outcome(item.delivery_id, ok, status, problem, elapsed, item.connector_id)


def _describe(error: Exception) -> str:
    text_ = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text_}"[:500]


async def record_outcomes(context: EventsContext, outcomes: list[Outcome]) -> None:
    """Store each try and move each delivery on: succeeded, retried later, or dead.

    Core statements, not ORM objects: one insert for every attempt, one update for every
    success (the common case), one update per failure.
    """
    if not outcomes:
        return
    settings = context.settings
    now = context.now()
    async with context.sessions() as session:
        await session.execute(
            insert(DeliveryAttempt),
            [
                {
                    "delivery_id": o.delivery_id,
                    "attempted_at": now,
                    "status_code": o.status_code,
                    "error": o.error,
                    "duration_ms": o.duration_ms,
                }
                for o in outcomes
            ],
        )
        by_status: dict[int | None, list[str]] = {}
        for outcome in outcomes:
            if outcome.ok:
                by_status.setdefault(outcome.status_code, []).append(outcome.delivery_id)
        for status_code, succeeded in by_status.items():
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(succeeded))
                .values(
                    status="succeeded",
                    finished_at=now,
                    lease_until=None,
                    last_error="",
                    last_status_code=status_code,
                )
                .execution_options(synchronize_session=False)
            )
        failed = [o for o in outcomes if not o.ok]
        dead: list[Outcome] = []
        attempts = (
            dict(
                (
                    await session.execute(
                        select(Delivery.id, Delivery.attempts).where(
                            Delivery.id.in_([o.delivery_id for o in failed])
                        )
                    )
                ).all()
            )
            if failed
            else {}
        )
        for outcome in failed:
            tries = attempts.get(outcome.delivery_id)
            if tries is None:
                continue
            values: dict[str, Any] = {
                "last_status_code": outcome.status_code,
                "last_error": outcome.error,
                "lease_until": None,
            }
            if tries >= settings.delivery_max_attempts:
                values.update(status="dead", finished_at=now)
                dead.append(outcome)
            else:
                delay = retry_delay(
                    tries, settings.delivery_backoff_seconds, settings.delivery_backoff_max_seconds
                )
                values.update(status="pending", next_run_at=now + timedelta(seconds=delay))
            await session.execute(
                update(Delivery)
                .where(Delivery.id == outcome.delivery_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        await session.commit()
    metrics = context.metrics
    if metrics is not None:  # counted once committed: a rolled-back batch is tried again
        for outcome in dead:
            metrics.count_dead_letter(outcome.connector_id or "")


def delivery_view(delivery: Delivery) -> dict[str, Any]:
    """A delivery as the API shows it."""
    return {
        "id": delivery.id,
        "endpoint_id": delivery.endpoint_id,
        "event_id": delivery.event_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_run_at": as_utc(delivery.next_run_at) if delivery.status == "pending" else None,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": as_utc(delivery.created_at),
        "finished_at": as_utc(delivery.finished_at) if delivery.finished_at else None,
    }


__all__ = [
    "ENDPOINT_SECRETS_OWNER",
    "Outcome",
    "claim_deliveries",
    "delivery_view",
    "dispatch_due",
    "prepare_deliveries",
    "record_outcomes",
    "retry_delay",
    "send_prepared",
]
