"""``/connections/{id}/calls`` and ``/health-history``: what a connection did, and its health.

Everyone who can see the connection can read its call log (viewers included): the entries
are redacted like every other answer, and the calls they describe are the enterprise's own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import WithJsonSchema

from connectory.api.deps import CurrentPrincipal, SessionDep
from connectory.api.problems import ErrorOut
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.calls import (
    CallOut,
    CallPageOut,
    HealthEventOut,
    HealthHistoryOut,
)
from connectory.api.schemas.values import IdPath
from connectory.observability.calls import CallKind
from connectory.services import call_log, connections
from connectory.services.telemetry import ServerTelemetry
from connectory.store.call_log_models import CallLogEntry

router = APIRouter(
    route_class=StrictJSONRoute, prefix="/connections/{connection_id}", tags=["observability"]
)

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such connection (or another enterprise's)."}
}
#: Cursors are the ``seq`` of an entry: the schema says so, so a client knows before asking.
_SEQ_PATTERN = r"^[0-9]{1,18}$"
_Cursor = Annotated[
    str | None,
    Query(pattern=_SEQ_PATTERN, max_length=18, description="next_cursor of the previous page."),
]
#: A moment in ISO 8601 (2026-12-05T12:00:00Z); the schema states its longest form.
_Moment = Annotated[
    datetime | None,
    WithJsonSchema({"type": "string", "format": "date-time", "maxLength": 40}),
]


def _telemetry(request: Request) -> ServerTelemetry:
    telemetry: ServerTelemetry = request.app.state.telemetry
    return telemetry


@router.get(
    "/calls",
    response_model=CallPageOut,
    response_model_exclude_none=False,
    responses=_NOT_FOUND,
    summary="A connection's call log",
)
async def list_calls(
    connection_id: IdPath,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    kind: Annotated[CallKind | None, Query(description="Only this kind.")] = None,
    status: Annotated[Literal["ok", "error"] | None, Query(description="Only these.")] = None,
    operation: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[_Moment, Query(description="Started at or after (ISO 8601).")] = None,
    until: Annotated[_Moment, Query(description="Started before (ISO 8601).")] = None,
    cursor: _Cursor = None,
    after: Annotated[
        str | None,
        Query(
            pattern=_SEQ_PATTERN,
            max_length=18,
            description="Only entries newer than this seq, oldest first (follow).",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    excerpts: Annotated[bool, Query(description="Include request/response excerpts.")] = False,
) -> CallPageOut:
    """Entries newest first, filtered; page with ``cursor``, follow with ``after``."""
    details = await connections.get_connection(session, principal, connection_id)
    telemetry = _telemetry(request)
    # This process's latest entries first, so a call just answered is found at once.
    await telemetry.flush()
    rows, following = await call_log.list_calls(
        session,
        details.connection.id,
        call_log.CallQuery(kind, status, operation, since, until),
        limit=limit,
        cursor=cursor,
        after=after,
    )
    dropped = telemetry.buffer.stats.dropped if telemetry.buffer is not None else 0
    return CallPageOut(
        items=[_call_out(row, excerpts) for row in rows], next_cursor=following, dropped=dropped
    )


@router.get(
    "/calls/{call_id}",
    response_model=CallOut,
    responses=_NOT_FOUND,
    summary="One call of a connection",
)
async def get_call(
    connection_id: IdPath,
    call_id: Annotated[
        str,
        Path(description="A call id (32 hex digits).", json_schema_extra={"maxLength": 64}),
    ],
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> CallOut:
    """The entry with this call id (from a response's X-Connectory-Call-Id), excerpts included."""
    details = await connections.get_connection(session, principal, connection_id)
    await _telemetry(request).flush()
    return _call_out(await call_log.get_call(session, details.connection.id, call_id), True)


@router.get(
    "/health-history",
    response_model=HealthHistoryOut,
    responses=_NOT_FOUND,
    summary="A connection's health changes",
)
async def health_history(
    connection_id: IdPath,
    session: SessionDep,
    principal: CurrentPrincipal,
    cursor: _Cursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> HealthHistoryOut:
    """Each change of the connection's health, with its reason and time, newest first."""
    details = await connections.get_connection(session, principal, connection_id)
    rows, following = await call_log.list_health_events(
        session, details.connection.id, limit=limit, cursor=cursor
    )
    return HealthHistoryOut(
        items=[
            HealthEventOut(health=r.health, previous=r.previous, detail=r.detail, at=r.at)
            for r in rows
        ],
        next_cursor=following,
    )


def _call_out(row: CallLogEntry, excerpts: bool) -> CallOut:
    return CallOut(
        id=row.id,
        seq=row.seq,
        kind=row.kind,
        operation=row.operation,
        status=row.status,
        status_code=row.status_code,
        started_at=row.started_at,
        duration_ms=row.duration_ms,
        attempts=row.attempts,
        error_class=row.error_class,
        error_message=row.error_message,
        request_excerpt=row.request_excerpt if excerpts else None,
        response_excerpt=row.response_excerpt if excerpts else None,
        trace_id=row.trace_id,
        parent_id=row.parent_id,
    )
