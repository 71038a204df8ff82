"""Using a connection: testing it, running operations, streaming records; health follows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import (
    AuthError,
    CircuitOpen,
    ConnectoryError,
    CredentialsError,
    EgressDenied,
    InvalidRequest,
    RateLimited,
    TemplateError,
    TransportError,
    UpstreamError,
)
from connectory.resilience import Observer
from connectory.runtime import ConnectorClient, OperationResult
from connectory.services.connection_runtime import ConnectionRuntimes
from connectory.services.connections import ConnectionDetails
from connectory.services.keepalive import KEEPALIVE_INTERVAL, PauseTracker, with_keepalives
from connectory.store.models import utcnow

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
    """Run the connector's test operation and store the connection's health."""
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
            client = await runtimes.client_for(session, details)
            result = await client.call(operation.name, {}, raise_for_status=False)
        except ConnectoryError as error:
            outcome = _outcome_of_error(error, operation.name)
        else:
            outcome = await _outcome_of_result(client, result)
    await record_health(session, details, outcome.health, outcome.detail)
    return outcome


async def run_operation(
    session: AsyncSession,
    runtimes: ConnectionRuntimes,
    details: ConnectionDetails,
    operation: str,
    params: Mapping[str, Any],
) -> OperationResult:
    """Call *operation* once; upstream error statuses are returned, not raised."""
    client = await runtimes.client_for(session, details)
    try:
        result = await client.call(operation, params, raise_for_status=False)
    except ConnectoryError as error:
        if _affects_health(error):
            outcome = _outcome_of_error(error, operation)
            await record_health(session, details, outcome.health, outcome.detail)
        raise
    health: Health = "auth_error" if result.status_code in (401, 403) else await client.health()
    if health != details.connection.health:
        await record_health(session, details, health, f"{operation}: {result.status_code}")
    # An upstream that echoes what it received must not hand the secrets on to API clients.
    result.body = client.redactor.redact_data(result.body)
    return result


async def stream_records(
    client: ConnectorClient,
    operation: str,
    params: Mapping[str, Any],
    max_pages: int | None,
    keepalive_interval: float = KEEPALIVE_INTERVAL,
) -> AsyncIterator[bytes]:
    """Yield every record as a JSON line, one page in memory at a time.

    The response has started by the time a later page fails, so a failure is reported as a
    last line ``{"_connectory_error": {"code": ..., "detail": ...}}`` instead of an error status.
    While the read waits (it is paced by the rate limit, or a page is slow), a keep-alive line
    goes out every *keepalive_interval* seconds (:mod:`connectory.services.keepalive`).
    """
    clock = client.pipeline.clock
    pauses = PauseTracker(clock)
    lines = _record_lines(client, operation, params, max_pages, pauses)
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
) -> AsyncIterator[bytes]:
    try:
        async for page in client.iter_pages(
            operation, params, max_pages=max_pages, observer=observer
        ):
            if page.records:
                chunk = b"\n".join(orjson.dumps(record) for record in page.records) + b"\n"
                # One scan per page; records are rewritten only when a secret may be echoed.
                if client.redactor.needs_redaction(chunk):
                    records = client.redactor.redact_data(page.records)
                    chunk = b"\n".join(orjson.dumps(record) for record in records) + b"\n"
                yield chunk
    except ConnectoryError as error:
        yield orjson.dumps(
            {"_connectory_error": {"code": type(error).__name__, "detail": str(error)}}
        )
        yield b"\n"


async def record_health(
    session: AsyncSession, details: ConnectionDetails, health: Health, detail: str
) -> None:
    """Store the connection's health (committed with the caller's session)."""
    connection = details.connection
    connection.health = health
    connection.health_detail = detail[:2000]
    connection.health_checked_at = utcnow()
    await session.flush()


def _affects_health(error: ConnectoryError) -> bool:
    return isinstance(
        error, AuthError | TransportError | EgressDenied | CircuitOpen | RateLimited | UpstreamError
    )


def _outcome_of_error(error: ConnectoryError, operation: str) -> TestOutcome:
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
