"""Persistence: SQLAlchemy 2 models, async sessions, Alembic migrations."""

from connectory.store.call_log_models import CallLogEntry, HealthEvent
from connectory.store.db import (
    create_engine,
    create_sessionmaker,
    migrate,
    session_scope,
)
from connectory.store.event_models import (
    ConnectorIntakeRoute,
    Delivery,
    DeliveryAttempt,
    Event,
    EventSubscription,
    IntakeRequest,
    WebhookEndpoint,
)
from connectory.store.models import (
    ApiToken,
    Base,
    Connection,
    Connector,
    ConnectorVersion,
    Enterprise,
    SecretValue,
    User,
    new_id,
    utcnow,
)

__all__ = [
    "ApiToken",
    "Base",
    "CallLogEntry",
    "Connection",
    "Connector",
    "ConnectorIntakeRoute",
    "ConnectorVersion",
    "Delivery",
    "DeliveryAttempt",
    "Enterprise",
    "Event",
    "EventSubscription",
    "HealthEvent",
    "IntakeRequest",
    "SecretValue",
    "User",
    "WebhookEndpoint",
    "create_engine",
    "create_sessionmaker",
    "migrate",
    "new_id",
    "session_scope",
    "utcnow",
]
