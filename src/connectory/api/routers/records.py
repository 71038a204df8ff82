"""``/connections/{id}/collections``: a connection's collections and their records.

Viewers read (list, get, match, search); creating, updating and deleting records needs an
enterprise admin. Query parameters ``filter.<name>`` filter a listing, ``param.<name>`` give
the collection's parameters (e.g. ``param.project_id=7``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from connectory.api.deps import CurrentPrincipal, SessionDep
from connectory.api.problems import ErrorOut
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.records import (
    CollectionSpecOut,
    CollectionSummary,
    MatchOut,
    RecordMatch,
    RecordOut,
    RecordPageOut,
    RecordWrite,
)
from connectory.api.schemas.values import CollectionPath, IdPath, RecordIdPath
from connectory.errors import InvalidRequest
from connectory.services import connections
from connectory.services.collections import records
from connectory.services.connection_runtime import ConnectionRuntimes

router = APIRouter(
    route_class=StrictJSONRoute, prefix="/connections/{connection_id}/collections", tags=["records"]
)

_MAX_QUERY_VALUES = 50
#: What a route that calls the upstream can answer for the upstream's failures.
_UPSTREAM = (429, 502, 503, 504)


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "The collection does not support this method, filter or option.",
        403: "The caller's role does not allow this (writes need an enterprise admin).",
        404: "No such connection, collection or record.",
        409: "More than one record matched.",
        422: "Invalid fields, parameters or cursor; nothing was sent upstream.",
        429: "The connection's rate limit left no slot in time.",
        502: "The upstream refused the request or answered an error.",
        503: "The connection's circuit breaker is open.",
        504: "The upstream could not be reached in time.",
    }
    return {code: {"model": ErrorOut, "description": text[code]} for code in statuses}


def _runtimes(request: Request) -> ConnectionRuntimes:
    runtimes: ConnectionRuntimes = request.app.state.runtimes
    return runtimes


def _prefixed(request: Request, prefix: str) -> dict[str, Any]:
    values = {
        key[len(prefix) :]: value
        for key, value in request.query_params.items()
        if key.startswith(prefix) and len(key) > len(prefix)
    }
    if len(values) > _MAX_QUERY_VALUES:
        raise InvalidRequest(f"at most {_MAX_QUERY_VALUES} {prefix}* query parameters")
    return values


async def _open(
    request: Request, session: Any, principal: Any, connection_id: str, key: str
) -> records.CollectionAccess:
    details = await connections.get_connection(session, principal, connection_id)
    return await records.open_collection(session, _runtimes(request), principal, details, key)


@router.get(
    "",
    response_model=list[CollectionSummary],
    responses=_errors(404),
    summary="List collections",
)
async def list_collections(
    connection_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> list[CollectionSummary]:
    """The collections of the connection's connector version."""
    details = await connections.get_connection(session, principal, connection_id)
    return [CollectionSummary(**item) for item in records.list_collections(details)]


@router.get(
    "/{key}",
    response_model=CollectionSpecOut,
    responses=_errors(404, *_UPSTREAM),
    summary="A collection's spec",
)
async def get_collection(
    connection_id: IdPath,
    key: CollectionPath,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> CollectionSpecOut:
    """Methods, filters and the fields schema with this connection's custom fields merged."""
    async with await _open(request, session, principal, connection_id, key) as access:
        return CollectionSpecOut(**await records.describe(access))


@router.get(
    "/{key}/records",
    response_model=RecordPageOut,
    responses={
        **_errors(400, 404, 422, *_UPSTREAM),
        200: {
            "description": "One page and the next cursor; with all=true, every record as JSON "
            "Lines (from cursor=, when given; a failure once the stream started ends with a "
            "_connectory_error line; while the read waits, a _connectory_keepalive line at "
            "least every 15 s); with q=..., the search results (one page, cursor null).",
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        },
    },
    summary="List or search records",
)
async def list_records(
    connection_id: IdPath,
    key: CollectionPath,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    cursor: Annotated[str | None, Query(max_length=8192)] = None,
    page_size: Annotated[int | None, Query(ge=1, le=1000)] = None,
    q: Annotated[str | None, Query(max_length=500, description="Search text.")] = None,
    all: Annotated[bool, Query(description="Stream every record as JSON Lines.")] = False,
    include_raw: bool = False,
) -> Any:
    """One page of records (``filter.<field>=`` filters, ``param.<name>=`` parameters)."""
    filters = _prefixed(request, "filter.")
    parameters = _prefixed(request, "param.")
    access = await _open(request, session, principal, connection_id, key)
    if all and q is None:
        # The stream owns the access (and its client lease) until its last line.
        try:
            stream = await records.stream_records(
                access,
                filters=filters,
                parameters=parameters,
                cursor=cursor,
                page_size=page_size,
                include_raw=include_raw,
                keepalive_interval=request.app.state.settings.stream_keepalive_interval,
            )
        except BaseException:
            await access.release()
            raise
        return StreamingResponse(stream, media_type="application/x-ndjson")
    async with access:
        if q is not None:
            with access.track("search"):
                found = await access.collection.search(
                    q, filters=filters, parameters=parameters, include_raw=include_raw
                )
            return {"records": [access.record_out(r, include_raw) for r in found], "cursor": None}
        with access.track("list"):
            page = await access.collection.list_page(
                filters=filters,
                parameters=parameters,
                cursor=cursor,
                page_size=page_size,
                include_raw=include_raw,
            )
        return access.page_out(page, include_raw)


@router.post(
    "/{key}/records",
    response_model=RecordOut,
    status_code=status.HTTP_201_CREATED,
    responses=_errors(400, 403, 404, 422, *_UPSTREAM),
    summary="Create a record",
)
async def create_record(
    connection_id: IdPath,
    key: CollectionPath,
    body: RecordWrite,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Any:
    """Create a record; fields are checked against the fields schema before anything is sent."""
    async with await _open(request, session, principal, connection_id, key) as access:
        return await records.create_record(access, body.fields, body.parameters)


@router.post(
    "/{key}/match",
    response_model=MatchOut,
    responses=_errors(400, 404, 409, 422, *_UPSTREAM),
    summary="Match one record by field values",
)
async def match_record(
    connection_id: IdPath,
    key: CollectionPath,
    body: RecordMatch,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Any:
    """The one record whose fields equal the values given; null when none; 409 when several."""
    async with await _open(request, session, principal, connection_id, key) as access:
        with access.track("match"):
            found = await access.collection.match(body.fields, parameters=body.parameters)
        return {"record": access.record_out(found) if found is not None else None}


@router.get(
    "/{key}/records/{record_id}",
    response_model=RecordOut,
    responses=_errors(400, 404, *_UPSTREAM),
    summary="Get a record",
)
async def get_record(
    connection_id: IdPath,
    key: CollectionPath,
    record_id: RecordIdPath,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    include_raw: bool = False,
) -> Any:
    """One record by id."""
    parameters = _prefixed(request, "param.")
    async with await _open(request, session, principal, connection_id, key) as access:
        with access.track("find_by_id"):
            found = await access.collection.find_by_id(
                record_id, parameters=parameters, include_raw=include_raw
            )
        return access.record_out(found, include_raw)


@router.patch(
    "/{key}/records/{record_id}",
    response_model=RecordOut,
    responses=_errors(400, 403, 404, 422, *_UPSTREAM),
    summary="Update a record",
)
async def update_record(
    connection_id: IdPath,
    key: CollectionPath,
    record_id: RecordIdPath,
    body: RecordWrite,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Any:
    """Change some fields of a record (partial)."""
    async with await _open(request, session, principal, connection_id, key) as access:
        return await records.update_record(access, record_id, body.fields, body.parameters)


@router.delete(
    "/{key}/records/{record_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_errors(400, 403, 404, *_UPSTREAM),
    summary="Delete a record",
)
async def delete_record(
    connection_id: IdPath,
    key: CollectionPath,
    record_id: RecordIdPath,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Response:
    """Delete a record."""
    async with await _open(request, session, principal, connection_id, key) as access:
        await records.delete_record(access, record_id, _prefixed(request, "param."))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
