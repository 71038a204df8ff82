"""Request and response bodies of events, subscriptions, endpoints and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
)

from connectory.api.schemas.values import Values

_Id = Annotated[str, StringConstraints(max_length=64)]
_Type = Annotated[str, StringConstraints(max_length=200)]
#: An absolute http(s) URL with a host and no user name or password in it.
URL_PATTERN = r"^https?://[A-Za-z0-9._~\-]+(:[0-9]{1,5})?([/?#][!-~]*)?$"
URL_HELP = "An absolute http(s) URL, without a user name or password (the signature authenticates)."


def _text_only(value: Any) -> Any:
    # A number is not a time here, whatever lax parsing would make of it (Unix seconds).
    if not isinstance(value, str | datetime):
        raise ValueError("give an RFC 3339 time such as 2026-01-02T03:04:05Z")
    return value


def _number_only(value: Any) -> Any:
    # "5" or true are not cursors here, whatever lax parsing would make of them.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("give the cursor as a number (an event's seq)")
    return value


_Cursor = Annotated[int, BeforeValidator(_number_only)]
_Time = Annotated[
    datetime,
    BeforeValidator(_text_only),
    WithJsonSchema({"type": "string", "format": "date-time", "maxLength": 64}),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubscriptionCreate(_In):
    """Subscribe a connection to one of its connector's events."""

    connection_id: str = Field(max_length=64)
    event: str = Field(max_length=100, description="The event's key in the connector.")
    parameters: Values = Field(
        default_factory=dict, max_length=100, description="The event's parameters."
    )


class SubscriptionPublic(BaseModel):
    """A subscription: its status, last error and retry time, activity and lag."""

    id: str
    connection_id: str
    event: str
    kind: Literal["webhook", "global_webhook", "poll", "collection"]
    parameters: dict[str, Any]
    status: Literal["subscribing", "active", "failing", "paused", "unsubscribing", "deleted"]
    last_error: str | None
    retry_at: datetime | None
    next_run_at: datetime | None
    expires_at: datetime | None
    last_activity_at: datetime | None = Field(description="Last poll or received webhook.")
    last_event_at: datetime | None
    lag_seconds: float | None = Field(description="Seconds since the last poll or webhook.")
    intake_url: str | None = Field(description="Where the provider sends this webhook.")
    selector: str | None
    created_at: datetime


class EndpointCreate(_In):
    """Register a URL that receives the enterprise's events."""

    url: str = Field(max_length=2000, pattern=URL_PATTERN, description=URL_HELP)
    description: str = Field(default="", max_length=2000)
    event_types: list[_Type] | None = Field(
        default=None, max_length=100, description="Only these types."
    )
    connection_ids: list[_Id] | None = Field(
        default=None, max_length=1000, description="Only these connections."
    )
    enabled: StrictBool = True
    max_in_flight: int = Field(default=4, ge=1, le=100)


class EndpointUpdate(_In):
    """Change an endpoint (fields left out are unchanged)."""

    url: str | None = Field(
        default=None, max_length=2000, pattern=URL_PATTERN, description=URL_HELP
    )
    description: str | None = Field(default=None, max_length=2000)
    event_types: list[_Type] | None = Field(default=None, max_length=100)
    connection_ids: list[_Id] | None = Field(default=None, max_length=1000)
    enabled: StrictBool | None = None
    max_in_flight: int | None = Field(default=None, ge=1, le=100)


class EndpointPublic(BaseModel):
    """An endpoint. ``secret`` only in the answer that created or rotated it."""

    id: str
    url: str
    description: str
    event_types: list[str] | None
    connection_ids: list[str] | None
    enabled: bool
    max_in_flight: int
    previous_secret_expires_at: datetime | None
    created_at: datetime
    secret: str | None = Field(
        default=None, description="whsec_...: shown once, when created or rotated."
    )


class EventPublic(BaseModel):
    """One event."""

    id: str
    seq: int = Field(description="The cursor: ask for events after it.")
    type: str
    connection_id: str
    subscription_id: str | None
    occurred_at: str | None
    received_at: str | None
    data: dict[str, Any]


class EventPage(BaseModel):
    """Events after a cursor; ``next_after`` is the cursor to ask with next."""

    items: list[EventPublic]
    next_after: int


class AttemptPublic(BaseModel):
    """One try of a delivery."""

    attempted_at: datetime
    status_code: int | None
    error: str
    duration_ms: int


class DeliveryPublic(BaseModel):
    """An event's delivery to one endpoint."""

    id: str
    endpoint_id: str
    event_id: str
    status: Literal["pending", "in_flight", "succeeded", "dead"]
    attempts: int
    next_run_at: datetime | None
    last_status_code: int | None
    last_error: str
    created_at: datetime
    finished_at: datetime | None
    attempt_log: list[AttemptPublic] | None = None


class ReplayRequest(_In):
    """Deliver again the events after a cursor, or since a time, to one endpoint."""

    after: _Cursor = Field(default=0, ge=0, le=2**53)
    since: _Time | None = Field(default=None, description="ISO 8601.")


class ReplayOut(BaseModel):
    """How many deliveries a replay queued."""

    queued: int
