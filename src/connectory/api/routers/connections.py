"""``/connections``: an enterprise's connections, testing them, and running their operations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.api.deps import CurrentPrincipal, SessionDep
from connectory.api.operation_call import SessionSource, answer_operation_call
from connectory.api.pagination import Page, Paging
from connectory.api.problems import ErrorOut
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.connections import (
    ConnectionCreate,
    ConnectionPublic,
    ConnectionSummary,
    ConnectionTestOut,
    ConnectionUpdate,
    ConnectionUpgrade,
    ConnectorRef,
    ContractCheckOut,
    ContractTestIn,
    ContractTestOut,
    Health,
    OperationRun,
    OperationRunOut,
    UpgradePlanOut,
)
from connectory.api.schemas.identity import IdRef
from connectory.api.schemas.oauth import OAuthGrantOut
from connectory.api.schemas.values import IdPath, OperationPath
from connectory.services import connection_runs, connections, oauth_grants, oauth_revocation
from connectory.services.connection_contract import contract_test_connection
from connectory.services.connection_runtime import ConnectionRuntimes
from connectory.services.connections import ConnectionDetails
from connectory.services.events.subscriptions import unsubscribe_connection
from connectory.services.request_cache import get_connection_cached
from connectory.services.secret_store import SecretBox

router = APIRouter(route_class=StrictJSONRoute, prefix="/connections", tags=["connections"])


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {
        403: "The caller's role does not allow this.",
        404: "No such connection (or another enterprise's).",
        429: "The connection's rate limit left no slot in time.",
        502: "The upstream refused the credentials or answered an error.",
        503: "The connection's circuit breaker is open.",
        504: "The upstream could not be reached.",
    }
    return {code: {"model": ErrorOut, "description": text[code]} for code in statuses}


def _box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


def _runtimes(request: Request) -> ConnectionRuntimes:
    runtimes: ConnectionRuntimes = request.app.state.runtimes
    return runtimes


async def _shown(session: AsyncSession, details: ConnectionDetails) -> ConnectionPublic:
    """The connection as responses show it, with its OAuth2 grant's state (never its tokens)."""
    public = _public(details)
    grant = await oauth_grants.grant_status(session, details.connection.id)
    if grant is not None:
        public.oauth = OAuthGrantOut(
            authorized_at=grant.obtained_at,
            refreshed_at=grant.refreshed_at,
            expires_at=grant.expires_at,
            refresh_expires_at=grant.refresh_expires_at,
            scope=grant.scope,
            needs_reauthorization=grant.rejected_at is not None,
        )
    return public


def _public(details: ConnectionDetails) -> ConnectionPublic:
    connection = details.connection
    return ConnectionPublic(
        id=connection.id,
        name=connection.name,
        connector=ConnectorRef(
            id=details.connector.id, slug=details.connector.slug, name=details.connector.name
        ),
        version=details.version.version or "",
        credentials=details.shown_credentials(),
        config=connection.config,
        health=connection.health,
        health_detail=connection.health_detail,
        health_checked_at=connection.health_checked_at,
        created_at=connection.created_at,
        updated_at=connection.updated_at,
    )


@router.post(
    "",
    response_model=ConnectionPublic,
    status_code=status.HTTP_201_CREATED,
    responses=_errors(403, 404),
    summary="Create a connection",
)
async def create_connection(
    body: ConnectionCreate, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> ConnectionPublic:
    """Connect the caller's enterprise to a published connector with its own credentials."""
    details = await connections.create_connection(
        session,
        principal,
        _box(request),
        connector_id=body.connector_id,
        version=body.version,
        name=body.name,
        credentials=dict(body.credentials),
        config=body.config,
    )
    await session.commit()
    return await _shown(session, details)


@router.get("", response_model=Page[ConnectionSummary], summary="List connections")
async def list_connections(
    session: SessionDep,
    principal: CurrentPrincipal,
    paging: Paging,
    connector_id: Annotated[IdRef | None, Query(description="Only this connector's.")] = None,
    health: Annotated[Health | None, Query(description="Only connections in this state.")] = None,
) -> Page[ConnectionSummary]:
    """The caller's enterprise's connections, newest first."""
    rows, total = await connections.list_connections(
        session, principal, paging.limit, paging.offset, connector_id, health
    )
    items = [
        ConnectionSummary(
            id=row.id,
            name=row.name,
            connector_id=row.connector_id,
            health=row.health,
            created_at=row.created_at,
        )
        for row in rows
    ]
    return Page(items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get(
    "/{connection_id}",
    response_model=ConnectionPublic,
    responses=_errors(404),
    summary="Get a connection",
)
async def get_connection(
    connection_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> ConnectionPublic:
    """One connection; sensitive credentials show as "********"."""
    return await _shown(
        session, await connections.get_connection(session, principal, connection_id)
    )


@router.put(
    "/{connection_id}",
    response_model=ConnectionPublic,
    responses=_errors(403, 404),
    summary="Change a connection",
)
async def update_connection(
    connection_id: IdPath,
    body: ConnectionUpdate,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> ConnectionPublic:
    """Rename, change config, or replace credentials ("********" keeps a stored secret)."""
    details = await connections.update_connection(
        session,
        principal,
        _box(request),
        connection_id,
        name=body.name,
        credentials=dict(body.credentials) if body.credentials is not None else None,
        config=body.config,
    )
    # The commit announces the connection's new generation: running clients are replaced.
    await session.commit()
    return await _shown(session, details)


@router.delete(
    "/{connection_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_errors(403, 404),
    summary="Delete a connection",
)
async def delete_connection(
    connection_id: IdPath, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Delete a connection and destroy its stored secrets; its subscriptions are unsubscribed.

    When the connector declares a ``revocation_url``, its OAuth2 tokens are revoked at the
    provider after the deletion (RFC 7009; best effort).
    """
    details = await connections.get_connection(session, principal, connection_id)
    connections.check_may_manage_connections(principal)
    await unsubscribe_connection(request.app.state.events, session, details)
    lease = await oauth_revocation.lease_for_revocation(session, _runtimes(request), details)
    try:
        await connections.delete_connection(session, principal, connection_id)
        await session.commit()
    except BaseException:
        if lease is not None:
            await lease.release()
        raise
    if lease is not None:
        await oauth_revocation.revoke_tokens(lease, connection_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{connection_id}/test",
    response_model=ConnectionTestOut,
    responses=_errors(404),
    summary="Test a connection",
)
async def test_connection(
    connection_id: IdPath, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> ConnectionTestOut:
    """Run the connector's test operation; report ok, auth_failed, unreachable or degraded."""
    details = await connections.get_connection(session, principal, connection_id)
    outcome = await connection_runs.test_connection(session, _runtimes(request), details)
    await session.commit()
    return ConnectionTestOut.model_validate(outcome, from_attributes=True)


@router.post(
    "/{connection_id}/operations/{operation}",
    response_model=OperationRunOut,
    responses={
        **_errors(403, 404, 429, 502, 503, 504),
        200: {
            "description": "The upstream's answer; with all_pages=true, JSON Lines records "
            "(a failure after the first page ends the stream with a "
            "_connectory_error line; while the read waits, a _connectory_keepalive line "
            "goes out at least every 15 s: skip it).",
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        },
    },
    summary="Run an operation",
)
async def run_operation(
    connection_id: IdPath,
    operation: OperationPath,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    body: OperationRun | None = None,
    all_pages: Annotated[bool, Query(description="Stream every record as JSON Lines.")] = False,
    max_pages: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> Any:
    """Call an operation with parameters; returns status, redacted headers, body and timing.

    Viewers may run only safe operations (GET/HEAD unless the connector marks others safe).
    """
    params = body.params if body is not None else {}
    runtimes = _runtimes(request)
    cache = request.app.state.request_cache
    if not all_pages:
        # The handler the fast path runs too; here its source may read the database.
        source = SessionSource(session, cache, runtimes)
        content = await answer_operation_call(
            source, runtimes, principal, connection_id, operation, params
        )
        assert content is not None, "a session source always has the connection and client"
        if session.in_transaction():
            await session.commit()
        return Response(content, media_type="application/json")
    # The connection comes from the request cache (invalidated on change).
    details = await get_connection_cached(session, cache, principal, connection_id)
    connection_runs.authorize_operation(principal, details, operation)
    # The stream holds the lease until its last line: a change meanwhile replaces the
    # client for later calls without closing this one under it.
    lease = await runtimes.acquire(session, details)
    try:
        # Unknown operations and bad parameters answer 404/422 before the stream starts.
        lease.client.check_call(operation, params)
        await session.commit()
    except BaseException:
        await lease.release()
        raise
    stream = connection_runs.stream_connection_records(
        runtimes,
        lease,
        details,
        operation,
        params,
        max_pages,
        keepalive_interval=request.app.state.settings.stream_keepalive_interval,
    )
    return StreamingResponse(stream, media_type="application/x-ndjson")


@router.post(
    "/{connection_id}/contract-test",
    response_model=ContractTestOut,
    responses={
        **_errors(403, 502, 503, 504),
        404: {
            "model": ErrorOut,
            "description": "No such connection, or no description sent and none kept.",
        },
        422: {"model": ErrorOut, "description": "The description cannot be read."},
    },
    summary="Contract-test a connection against its OpenAPI description",
)
async def contract_test(
    connection_id: IdPath,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    body: ContractTestIn | None = None,
) -> ContractTestOut:
    """Check a connection's requests and live responses against an OpenAPI description.

    Each safe operation is called with the description's examples and the connection's
    credentials. The description is the one in the body, else the one kept with the connection's
    connector version. Unsafe operations are called only with ``include_writes`` (not for
    viewers). Upstream errors are reported per operation, not as this request's status.
    """
    body = body or ContractTestIn()
    details = await connections.get_connection(session, principal, connection_id)
    report, source = await contract_test_connection(
        session,
        _runtimes(request),
        details,
        principal,
        description=body.description.encode() if body.description is not None else None,
        include_writes=body.include_writes,
    )
    return ContractTestOut(
        counts=report.counts(),
        operations=[ContractCheckOut(**vars(check)) for check in report.checks],
        description_source="request" if source == "request" else "kept",
    )


@router.post(
    "/{connection_id}/upgrade",
    response_model=UpgradePlanOut,
    responses=_errors(403, 404),
    summary="Move a connection to another version",
)
async def upgrade_connection(
    connection_id: IdPath,
    body: ConnectionUpgrade,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> UpgradePlanOut:
    """Report (dry_run, the default) or apply a move to another published version."""
    plan = await connections.upgrade_connection(
        session, principal, connection_id, body.to_version, body.dry_run
    )
    if plan.applied:
        await session.commit()
    return UpgradePlanOut(**vars(plan))
