"""Tables of events: subscriptions, received webhooks, events, endpoints and deliveries.

The database holds the truth of background work. Work that is due (a poll, a refresh, a
received webhook to handle, a delivery to send) is a row with a next-run time; a worker claims
due rows by setting ``lease_until`` (a claim that a killed worker never finishes expires, and
the row is due again). Tasks on the engine only say "look now"; they can be lost without
losing work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from connectory.store.models import (
    Base,
    JSONDocument,
    new_id,
    partial_index,
    partial_unique_index,
    utcnow,
)

#: Characters of a received webhook's stored message id (longer ids are stored shortened:
#: ``services.events.intake.storable_message_id``).
MESSAGE_ID_LENGTH = 200
#: An event's dedup key (events.handling fits longer keys to it).
DEDUP_KEY_LENGTH = 300

#: An auto-incrementing 64-bit key (SQLite only auto-increments INTEGER PRIMARY KEY).
SequenceKey = BigInteger().with_variant(Integer(), "sqlite")


class EventSubscription(Base):
    """A connection's subscription to one of its connector's events."""

    __tablename__ = "event_subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    enterprise_id: Mapped[str] = mapped_column(ForeignKey("enterprises.id"), index=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"), index=True)
    connector_id: Mapped[str] = mapped_column(ForeignKey("connectors.id"), index=True)
    event_key: Mapped[str] = mapped_column(String(100))
    #: webhook | global_webhook | poll (copied from the event when subscribing)
    kind: Mapped[str] = mapped_column(String(16))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: What subscribe/refresh returned (provider's subscription id...), and a poll's cursor.
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The unguessable part of this subscription's intake URL.
    intake_token: Mapped[str] = mapped_column(String(64), unique=True)
    #: Global webhooks: the value this subscription's events carry (rendered at subscribe).
    selector: Mapped[str | None] = mapped_column(String(500), default=None, index=True)
    #: subscribing | active | failing | paused | unsubscribing | deleted
    status: Mapped[str] = mapped_column(String(16), default="subscribing")
    last_error: Mapped[str] = mapped_column(Text, default="")
    failures: Mapped[int] = mapped_column(Integer, default=0)
    #: Next time the worker has something to do for it (subscribe, poll, refresh, retry).
    next_run_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_activity_at: Mapped[datetime | None] = mapped_column(default=None)
    last_event_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class ConnectorIntakeRoute(Base):
    """The global webhook URL of a connector in this deployment."""

    __tablename__ = "connector_intake_routes"

    connector_id: Mapped[str] = mapped_column(ForeignKey("connectors.id"), primary_key=True)
    intake_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntakeRequest(Base):
    """A received webhook, stored raw before it is acknowledged, handled in the background."""

    __tablename__ = "intake_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    #: ``s:<subscription id>`` or ``g:<connector id>``: who receives it, and the dedup scope.
    route: Mapped[str] = mapped_column(String(40))
    subscription_id: Mapped[str | None] = mapped_column(String(32), default=None)
    connector_id: Mapped[str] = mapped_column(String(32))
    #: The tenant, for fair processing; None for a global webhook (many tenants).
    enterprise_id: Mapped[str | None] = mapped_column(String(32), default=None)
    #: The sender's message id (from the signature's id header): a repeat is not stored twice.
    message_id: Mapped[str | None] = mapped_column(String(MESSAGE_ID_LENGTH), default=None)
    method: Mapped[str] = mapped_column(String(10), default="POST")
    query: Mapped[dict[str, Any]] = mapped_column(default=dict)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: pending | done | failed
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_run_at: Mapped[datetime | None] = mapped_column(default=utcnow, index=True)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        partial_unique_index(
            "uq_intake_requests_route_message",
            "route",
            "message_id",
            where="message_id IS NOT NULL",
        ),
    )


class Event(Base):
    """One event, as delivered: ``seq`` orders the pull API's cursor."""

    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(SequenceKey, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)
    enterprise_id: Mapped[str] = mapped_column(ForeignKey("enterprises.id"))
    connection_id: Mapped[str] = mapped_column(String(32))
    subscription_id: Mapped[str | None] = mapped_column(String(32), default=None)
    type: Mapped[str] = mapped_column(String(200))
    #: The provider's event id, or record id + updated time: an event is stored once.
    dedup_key: Mapped[str] = mapped_column(String(DEDUP_KEY_LENGTH))
    occurred_at: Mapped[datetime | None] = mapped_column(default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (
        UniqueConstraint("subscription_id", "dedup_key", name="uq_events_subscription_dedup"),
        Index("ix_events_enterprise_seq", "enterprise_id", "seq"),
        Index("ix_events_received_at", "received_at"),
    )


class WebhookEndpoint(Base):
    """An enterprise's URL that receives its events, signed per Standard Webhooks."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    enterprise_id: Mapped[str] = mapped_column(ForeignKey("enterprises.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(Text, default="")
    #: Only these event types (None: every type).
    event_types: Mapped[list[str] | None] = mapped_column(JSONDocument, default=None)
    #: Only events of these connections (None: every connection).
    connection_ids: Mapped[list[str] | None] = mapped_column(JSONDocument, default=None)
    enabled: Mapped[bool] = mapped_column(default=True)
    #: Deliveries in flight to this endpoint at once, at most.
    max_in_flight: Mapped[int] = mapped_column(Integer, default=4)
    #: After a rotation the previous secret also signs, until then.
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


#: A delivery still to be sent (its queue's head, or behind it): the claim's partial indexes.
_LIVE = "status IN ('pending', 'in_flight')"


class Delivery(Base):
    """One event to one endpoint: sent at least once, in order per (subscription, endpoint).

    ``order_key`` is the subscription (a test event has its own key): the head of each
    (endpoint, order_key) queue, the smallest ``event_seq`` not yet finished, is the only one
    that may be sent.
    """

    __tablename__ = "deliveries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    enterprise_id: Mapped[str] = mapped_column(String(32))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    event_seq: Mapped[int] = mapped_column(SequenceKey)
    event_id: Mapped[str] = mapped_column(String(32))
    order_key: Mapped[str] = mapped_column(String(40))
    #: pending | in_flight | succeeded | dead
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_run_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_run_at"),
        # The claim's look-ups touch only live deliveries (pending, in flight): indexes of
        # those only, so a queue's or an endpoint's finished history is never walked.
        partial_index(
            "ix_deliveries_live_queue", "endpoint_id", "order_key", "event_seq", where=_LIVE
        ),
        # The claim's time scan only: ``next_run_at IS NOT NULL`` (always true) is implied by
        # the scan's ``next_run_at <= now`` and not by the queue look-ups, so the planner
        # never serves those from this index (migration 0013 says why it did).
        partial_index(
            "ix_deliveries_live_due",
            "endpoint_id",
            "next_run_at",
            "event_seq",
            where=f"{_LIVE} AND next_run_at IS NOT NULL",
        ),
        # The deliveries in flight, per endpoint and queue: the claim counts each endpoint's
        # queues in flight from these only (migration 0012).
        partial_index(
            "ix_deliveries_in_flight", "endpoint_id", "order_key", where="status = 'in_flight'"
        ),
        Index("ix_deliveries_event", "event_id"),
        # An endpoint's deliveries, newest first (the API's and the UI's lists).
        Index("ix_deliveries_endpoint_created", "endpoint_id", "created_at"),
    )


class DeliveryAttempt(Base):
    """One try of a delivery: what the endpoint answered."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(SequenceKey, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
