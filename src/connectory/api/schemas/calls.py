"""Response bodies of a connection's call log and health history."""

from __future__ import annotations

from pydantic import BaseModel, Field

from connectory.api.schemas.identity import Timestamp


class CallOut(BaseModel):
    """One entry of a connection's call log (excerpts are redacted and size-capped)."""

    id: str = Field(description="The call id (the X-Connectory-Call-Id of its response).")
    seq: int = Field(description="Order of recording; newer entries have larger numbers.")
    kind: str = Field(
        description="operation, stream, test, collection, hook, method, token_refresh, poll, "
        "webhook_intake, webhook_delivery or mcp."
    )
    operation: str | None
    status: str = Field(description="ok, or error (an error raised, or a 4xx/5xx reply).")
    status_code: int | None = Field(description="HTTP status of the last upstream reply.")
    started_at: Timestamp
    duration_ms: float
    attempts: int = Field(description="Upstream requests made, retries included.")
    error_class: str | None
    error_message: str | None
    request_excerpt: str | None = Field(
        default=None, description="The request as sent (redacted, capped); with excerpts."
    )
    response_excerpt: str | None = Field(
        default=None, description="The reply (redacted, capped); with excerpts."
    )
    trace_id: str | None
    parent_id: str | None = Field(description="The call this one ran inside, if any.")


class CallPageOut(BaseModel):
    """A page of the call log; pass ``next_cursor`` as ``cursor`` for the next (older) one.

    When following (``after=``), ``next_cursor`` is what to pass as ``after`` next time.
    """

    items: list[CallOut]
    next_cursor: str | None
    dropped: int = Field(
        description="Entries this server process could not record since it started (its "
        "buffer was full, or the database refused a batch)."
    )


class HealthEventOut(BaseModel):
    """One change of a connection's health."""

    health: str
    previous: str
    detail: str
    at: Timestamp


class HealthHistoryOut(BaseModel):
    """Health changes, newest first; ``next_cursor`` pages to older ones."""

    items: list[HealthEventOut]
    next_cursor: str | None
