"""``/events``: the pull API (cursor, filters, long-poll), and the same as server-sent events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter, ValidationError

from connectory.api.deps import CurrentPrincipal, SessionDep
from connectory.api.routers.event_subscriptions import events_context
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.events import EventPage, EventPublic
from connectory.errors import FieldIssue, InvalidRequest
from connectory.services.events import feed
from connectory.services.events.records import envelope
from connectory.services.principal import Principal

router = APIRouter(route_class=StrictJSONRoute, prefix="/events", tags=["events"])

#: The largest cursor accepted: 2**53, the largest integer every JSON client reads exactly.
MAX_SEQ = 2**53
#: How often a waiting request looks for new events.
_POLL_SECONDS = 0.2


@router.get("", response_model=EventPage)
async def list_events(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    after: Annotated[
        int, Query(ge=0, le=MAX_SEQ, description="Cursor: the last seq seen (0: oldest).")
    ] = 0,
    since: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Or start from a time (RFC 3339, 2026-01-02T03:04:05Z).",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    connection_id: Annotated[str | None, Query(max_length=64)] = None,
    subscription_id: Annotated[str | None, Query(max_length=64)] = None,
    type: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    wait: Annotated[
        float, Query(ge=0, le=60, description="Long-poll: wait this many seconds for one.")
    ] = 0,
) -> EventPage:
    """Events after a cursor, oldest first; with ``wait``, the answer waits for the next one."""
    start = _parse_since(since)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(wait, events_context(request).settings.event_wait_seconds)
    while True:
        rows = await feed.list_events(
            session,
            principal,
            after=after,
            since=start,
            limit=limit,
            connection_id=connection_id,
            subscription_id=subscription_id,
            type_=type,
        )
        if rows or loop.time() >= deadline or await request.is_disconnected():
            break
        await session.rollback()  # a fresh snapshot for the next look
        await asyncio.sleep(_POLL_SECONDS)
    items = [EventPublic.model_validate(envelope(row)) for row in rows]
    return EventPage(items=items, next_after=items[-1].seq if items else after)


_TIME: TypeAdapter[datetime] = TypeAdapter(datetime)


def _parse_since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = _TIME.validate_json(orjson.dumps(text), strict=True)
    except ValidationError:
        raise InvalidRequest(
            "since must be an RFC 3339 time such as 2026-01-02T03:04:05Z",
            [FieldIssue(("query", "since"), "not an RFC 3339 time")],
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_events(
    request: Request,
    principal: CurrentPrincipal,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    connection_id: Annotated[str | None, Query(max_length=64)] = None,
    subscription_id: Annotated[str | None, Query(max_length=64)] = None,
    type: Annotated[str | None, Query(max_length=200)] = None,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> StreamingResponse:
    """Server-sent events: ``id: <seq>`` and ``data: <json>`` each; resumes at Last-Event-ID."""
    given = last_event_id or ""
    start = int(given) if given.isdigit() and int(given) <= MAX_SEQ else after
    context = events_context(request)
    return StreamingResponse(
        _stream(request, context.sessions, principal, start, connection_id, subscription_id, type),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _stream(
    request: Request,
    sessions: object,
    principal: Principal,
    after: int,
    connection_id: str | None,
    subscription_id: str | None,
    type_: str | None,
) -> AsyncIterator[bytes]:
    make = request.app.state.sessions
    limit = request.app.state.settings.event_wait_seconds
    idle = 0.0
    quiet = 0.0  # seconds without an event: past the limit the stream ends (clients reconnect)
    while not await request.is_disconnected():
        async with make() as session:
            rows = await feed.list_events(
                session,
                principal,
                after=after,
                limit=200,
                connection_id=connection_id,
                subscription_id=subscription_id,
                type_=type_,
            )
        for row in rows:
            after = row.seq
            yield b"id: %d\nevent: %s\ndata: %s\n\n" % (
                row.seq,
                row.type.encode(),
                orjson.dumps(envelope(row)),
            )
        if rows:
            idle = quiet = 0.0
            continue
        if quiet >= limit:
            return
        idle += _POLL_SECONDS
        quiet += _POLL_SECONDS
        if idle >= 15:
            idle = 0.0
            yield b": keep-alive\n\n"
        await asyncio.sleep(_POLL_SECONDS)
