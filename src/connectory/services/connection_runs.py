"""Using a connection: testing it, running operations, streaming records; health follows.

Each of these is one entry of the connection's call log (kinds ``test``, ``operation`` and
``stream``; see :mod:`connectory.observability.calls`), and each change of health is kept in
the connection's health history.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from connectory.errors import (
    AuthError,
    CircuitOpen,
    ConnectoryError,
    CredentialsError,
    EgressDenied,
    InvalidRequest,
    OperationNotFound,
    RateLimited,
    TemplateError,
    TransportError,
    UpstreamError,
)
from connectory.observability.calls import CallTrack, ConnectionCalls
from connectory.resilience import Observer
from connectory.runtime import ConnectorClient, OperationResult
from connectory.services.access import check_may_run_operation
from connectory.services.call_log import record_health_event
from connectory.services.connection_runtime import ClientLease, ConnectionRuntimes
from connectory.services.connections import ConnectionDetails
from connectory.services.generations import announce_health
from connectory.services.keepalive import KEEPALIVE_INTERVAL, PauseTracker, with_keepalives
from connectory.services.principal import Principal
from connectory.store.models import Connection, utcnow

TestStatus = Literal["ok", "auth_failed", "unreachable", "degraded", "failed"]
Health = Literal["healthy", "degraded", "auth_error", "unreachable", "unknown"]


@dataclass
class TestOutcome:
    """The result of testing a connection."""

    status: TestStatus
    health: Health
    detail: str
    operation: str | None
    upstream_status: int | None = None
    elapsed: float | None = None


async def test_connection(
    session: AsyncSession, runtimes: ConnectionRuntimes, details: ConnectionDetails
) -> TestOutcome:
    """Run the connector's test operation and store the connection's health (always)."""
    operation = details.spec.connection_test_operation()
    if operation is None:
        outcome = TestOutcome(
            "failed",
            "unknown",
            "the connector has no test_operation and no GET operation without required "
            "parameters; set test_operation in the connector",
            None,
        )
    else:
        try:
            async with await lease_for_call(
                session, runtimes, details, "test", operation.name
            ) as client:
                with client.calls.track("test", operation.name):
                    result = await client.call(operation.name, {}, raise_for_status=False)
                    outcome = await _outcome_of_result(client, result)
        except ConnectoryError as error:
            outcome = outcome_of_error(error, operation.name)
    await record_health(runtimes, details, outcome.health, outcome.detail)
    return outcome


def authorize_operation(principal: Principal, details: ConnectionDetails, operation: str) -> None:
    """Check that *principal* may run *operation* on the connection.

    Raises:
        OperationNotFound: the connector has no such operation.
        PermissionDenied: a viewer asked for an operation that is not safe.
    """
    spec = details.spec.operation(operation)
    if spec is None:
        names = ", ".join(details.spec.operation_names) or "none"
        raise OperationNotFound(
            f"connector '{details.spec.slug}' has no operation '{operation}'; operations: {names}"
        )
    check_may_run_operation(principal, spec)


async def run_operation(
    session: AsyncSession,
    runtimes: ConnectionRuntimes,
    details: ConnectionDetails,
    operation: str,
    params: Mapping[str, Any],
    principal: Principal,
) -> OperationResult:
    """Call *operation* once; upstream error statuses are returned, not raised.

    The connection's health is stored when the call changes it, also when the call raises
    (its own short transaction: the caller's session is rolled back with the error). The
    session's transaction is ended before the upstream is called.

    Raises:
        PermissionDenied: a viewer asked for an operation that is not safe.
    """
    authorize_operation(principal, details, operation)
    leasing = lease_for_call(session, runtimes, details, "operation", operation)
    return await run_with_lease(runtimes, details, operation, params, leasing)


async def held(lease: ClientLease) -> ClientLease:
    """*lease*, as the awaitable :func:`run_with_lease` takes (for a client already leased).

    The API's fast path leases a warm client without a database session
    (:meth:`ConnectionRuntimes.lease_if_warm`); the call is otherwise the same.
    """
    return lease


async def run_with_lease(
    runtimes: ConnectionRuntimes,
    details: ConnectionDetails,
    operation: str,
    params: Mapping[str, Any],
    leasing: Awaitable[ClientLease],
) -> OperationResult:
    """Call *operation* (already authorized) on the client *leasing* gives, then release it.

    *leasing* is awaited inside the health recording: a lease that fails (the credentials no
    longer fit, :func:`lease_for_call`) is recorded like a failed call. Upstream error statuses
    are returned, not raised; the connection's health is stored when the call changes it.
    """
    try:
        async with await leasing as client:
            with client.calls.track("operation", operation):
                result = await client.call(operation, params, raise_for_status=False)
            if result.status_code in (401, 403):
                health: Health = "auth_error"
            else:
                health = await client.health()
            # An upstream that echoes what it received must not hand the secrets on.
            result.body = client.redactor.redact_data(result.body)
    except ConnectoryError as error:
        if affects_health(error):
            outcome = outcome_of_error(error, operation)
            await record_health(runtimes, details, outcome.health, outcome.detail, on_change=True)
        raise
    await record_health(
        runtimes, details, health, f"{operation}: {result.status_code}", on_change=True
    )
    return result


async def lease_for_call(
    session: AsyncSession,
    runtimes: ConnectionRuntimes,
    details: ConnectionDetails,
    kind: str,
    operation: str,
) -> ClientLease:
    """Lease the connection's client, then end the session's transaction.

    Committing (nothing is pending) returns the database connection to the pool while the
    upstream answers: a call may take seconds, and concurrent calls must not each hold one.
    A client that cannot be built (the stored credentials no longer fit) is a failed call of
    *kind* in the call log.
    """
    try:
        lease = await runtimes.acquire(session, details)
    except ConnectoryError as error:
        calls_without_client(runtimes, details).record(kind, operation, error=error)
        raise
    try:
        if session.in_transaction():  # a cached connection read nothing: no commit to make
            await session.commit()
    except BaseException:
        await lease.release()
        raise
    return lease


def calls_without_client(
    runtimes: ConnectionRuntimes, details: ConnectionDetails
) -> ConnectionCalls:
    """The connection's call log for a call that failed before its client existed."""
    return ConnectionCalls(
        runtimes.telemetry,
        details.connection.id,
        enterprise_id=details.connection.enterprise_id,
        connector_id=details.connector.id,
    )


def stream_connection_records(
    runtimes: ConnectionRuntimes,
    lease: ClientLease,
    details: ConnectionDetails,
    operation: str,
    params: Mapping[str, Any],
    max_pages: int | None,
    keepalive_interval: float = KEEPALIVE_INTERVAL,
) -> AsyncIterator[bytes]:
    """Stream a stored connection's records (see :func:`stream_records`).

    The stream holds *lease* until it ends, and a failure is recorded in the connection's
    health. The read is one ``stream`` entry of the call log, started now (its id goes in the
    response's headers, which leave before the first page).
    """
    call = lease.client.calls.track("stream", operation, first_reply_only=True).start()
    return _stream_connection_records(
        runtimes, lease, details, operation, params, max_pages, keepalive_interval, call
    )


async def _stream_connection_records(
    runtimes: ConnectionRuntimes,
    lease: ClientLease,
    details: ConnectionDetails,
    operation: str,
    params: Mapping[str, Any],
    max_pages: int | None,
    keepalive_interval: float,
    call: CallTrack,
) -> AsyncIterator[bytes]:

    async def record_failure(error: ConnectoryError) -> None:
        if affects_health(error):
            outcome = outcome_of_error(error, operation)
            await record_health(runtimes, details, outcome.health, outcome.detail, on_change=True)

    try:
        stream = stream_records(
            lease.client,
            operation,
            params,
            max_pages,
            keepalive_interval=keepalive_interval,
            on_error=record_failure,
            call=call,
        )
        async with aclosing(stream) as chunks:
            async for chunk in chunks:
                yield chunk
    except BaseException as error:
        call.finish(error)  # the client went away mid-stream
        raise
    finally:
        call.finish()
        await lease.release()


async def stream_records(
    client: ConnectorClient,
    operation: str,
    params: Mapping[str, Any],
    max_pages: int | None,
    keepalive_interval: float = KEEPALIVE_INTERVAL,
    on_error: Callable[[ConnectoryError], Awaitable[None]] | None = None,
    call: CallTrack | None = None,
) -> AsyncGenerator[bytes, None]:
    """Yield every record as a JSON line, one page in memory at a time.

    The response has started by the time a later page fails, so a failure is reported as a
    last line ``{"_connectory_error": {"code": ..., "detail": ...}}`` instead of an error status
    (and passed to *on_error* first, and to *call*, the read's call log entry).
    While the read waits (it is paced by the rate limit, or a page is slow), a keep-alive line
    goes out every *keepalive_interval* seconds (:mod:`connectory.services.keepalive`).
    """
    clock = client.pipeline.clock
    pauses = PauseTracker(clock)
    lines = _record_lines(client, operation, params, max_pages, pauses, on_error, call)
    # Closed explicitly when the client goes away: a page may be on its way in a task.
    async with aclosing(
        with_keepalives(
            lines, interval=keepalive_interval, clock=clock, keepalive=pauses.keepalive_line
        )
    ) as chunks:
        async for chunk in chunks:
            yield chunk


async def _record_lines(
    client: ConnectorClient,
    operation: str,
    params: Mapping[str, Any],
    max_pages: int | None,
    observer: Observer,
    on_error: Callable[[ConnectoryError], Awaitable[None]] | None,
    call: CallTrack | None,
) -> AsyncIterator[bytes]:
    pages = client.iter_pages(operation, params, max_pages=max_pages, observer=observer)
    try:
        while True:
            if call is None:
                page = await anext(pages, None)
            else:
                # The call log entry gets each page's request: active while a page is read,
                # never across a yield (the caller's context is not ours to change).
                with call.active():
                    page = await anext(pages, None)
            if page is None:
                break
            if page.records:
                chunk = b"\n".join(orjson.dumps(record) for record in page.records) + b"\n"
                # One scan per page; records are rewritten only when a secret may be echoed.
                if client.redactor.needs_redaction(chunk):
                    records = client.redactor.redact_data(page.records)
                    chunk = b"\n".join(orjson.dumps(record) for record in records) + b"\n"
                yield chunk
    except ConnectoryError as error:
        if call is not None:
            call.finish(error)
        if on_error is not None:
            await on_error(error)
        yield orjson.dumps(
            {"_connectory_error": {"code": type(error).__name__, "detail": str(error)}}
        )
        yield b"\n"


async def record_health(
    runtimes: ConnectionRuntimes,
    details: ConnectionDetails,
    health: Health,
    detail: str,
    *,
    on_change: bool = False,
) -> None:
    """Store the connection's health in a short transaction of its own.

    Its own transaction, so the health of a call that fails is kept although the request's
    session rolls back with the error. With *on_change* nothing is written when the health
    the request read is already *health* (calls must not write on every success). A change
    of the stored health is added to the connection's health history in that transaction.
    """
    connection = details.connection
    if on_change and connection.health == health:
        return
    detail = detail[:2000]
    moment = utcnow()
    async with runtimes.sessions() as session:
        # The stored health, locked: concurrent calls record one change, not one each.
        previous = await session.scalar(
            select(Connection.health)
            .where(Connection.id == connection.id, Connection.deleted_at.is_(None))
            .with_for_update()
        )
        if previous is None:
            return  # deleted meanwhile
        await session.execute(
            update(Connection)
            .where(Connection.id == connection.id, Connection.deleted_at.is_(None))
            .values(health=health, health_detail=detail, health_checked_at=moment)
            .execution_options(synchronize_session=False)
        )
        if previous != health:
            # Other processes' cached copies of the connection hold the old health.
            await announce_health(session, connection.id)
            await record_health_event(
                session,
                connection.id,
                connection.enterprise_id,
                previous,
                health,
                detail,
                moment,
            )
        await session.commit()
    # Keep the request's copy in step without making it a pending change of that session.
    set_committed_value(connection, "health", health)
    set_committed_value(connection, "health_detail", detail)
    set_committed_value(connection, "health_checked_at", moment)


def affects_health(error: ConnectoryError) -> bool:
    """Whether a call failing with *error* says something about the connection's health."""
    return isinstance(
        error,
        AuthError
        | CredentialsError
        | TemplateError
        | TransportError
        | EgressDenied
        | CircuitOpen
        | RateLimited
        | UpstreamError,
    )


def outcome_of_error(error: ConnectoryError, operation: str) -> TestOutcome:
    """What a call of *operation* failing with *error* says: status, health and detail."""
    detail = str(error)
    if isinstance(error, AuthError):
        return TestOutcome("auth_failed", "auth_error", detail, operation, error.status_code)
    if isinstance(error, CredentialsError | TemplateError):
        return TestOutcome("auth_failed", "auth_error", detail, operation)
    if isinstance(error, TransportError | EgressDenied):
        return TestOutcome("unreachable", "unreachable", detail, operation)
    if isinstance(error, CircuitOpen | RateLimited):
        return TestOutcome("degraded", "degraded", detail, operation)
    if isinstance(error, UpstreamError):
        return TestOutcome("degraded", "degraded", detail, operation, error.status_code)
    if isinstance(error, InvalidRequest):
        raise error
    return TestOutcome("failed", "degraded", detail, operation)


async def _outcome_of_result(client: ConnectorClient, result: OperationResult) -> TestOutcome:
    status = result.status_code
    if status in (401, 403):
        detail = f"the upstream rejected the credentials ({status})"
        if isinstance(result.body, dict):
            message = result.body.get("error_description") or result.body.get("message")
            if isinstance(message, str):
                detail += f": {client.redactor.redact(message)[:300]}"
        return TestOutcome(
            "auth_failed", "auth_error", detail, result.operation, status, result.elapsed
        )
    if status >= 500:
        return TestOutcome(
            "degraded",
            "degraded",
            f"the upstream answered {status}",
            result.operation,
            status,
            result.elapsed,
        )
    if status >= 400:
        return TestOutcome(
            "failed",
            "degraded",
            f"the test operation answered {status}",
            result.operation,
            status,
            result.elapsed,
        )
    health: Health = await client.health()
    return TestOutcome(
        "ok" if health == "healthy" else "degraded",
        health,
        f"{result.operation} answered {status}",
        result.operation,
        status,
        result.elapsed,
    )
