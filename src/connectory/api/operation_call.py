"""One handler for a single operation call (``POST /connections/{id}/operations/{name}``).

The endpoint has two mounts, and both run :func:`answer_operation_call`:

- the ASGI fast path (:class:`~connectory.api.operation_route.OperationCallRoute`) for warm
  calls, with a :class:`WarmSource`: everything from memory, nothing read;
- the FastAPI route (:func:`connectory.api.routers.connections.run_operation`) for the rest,
  with a :class:`SessionSource`: the request cache, else the database. FastAPI does there what
  only it does: the OpenAPI description, authentication by dependency (cookie sessions
  included) and the parsing and 4xx of any body the fast path does not take.

What differs between the mounts is only where the connection and its client come from (a
*source*); the checks (tenant isolation, the operation's existence and the caller's
permission), the call (call log, metrics, health) and the answer (the route's response model,
compact JSON) are this module's, once. Errors are raised as
:class:`~connectory.errors.ConnectoryError` and become the API's problem bodies in either
mount (:func:`~connectory.api.problems.connectory_error_response`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from connectory.api.schemas.connections import OperationRunOut
from connectory.runtime import OperationResult
from connectory.services import connection_runs
from connectory.services.connection_runtime import ClientLease, ConnectionRuntimes
from connectory.services.connections import ConnectionDetails
from connectory.services.principal import Principal
from connectory.services.request_cache import (
    RequestCache,
    connection_read_key,
    get_connection_cached,
)


class CallSource(Protocol):
    """Where a call's connection and client come from; None: not from this source.

    A source that answers None must not have done anything (no read, no lease): the fast
    path then hands the request to the FastAPI route, which starts over.
    """

    async def connection(
        self, principal: Principal, connection_id: str
    ) -> ConnectionDetails | None:
        """The connection as *principal* may see it (raises NotFound when it may not)."""
        ...

    def leasing(self, details: ConnectionDetails, operation: str) -> Awaitable[ClientLease] | None:
        """An awaitable lease of the connection's client (awaited once, by the call)."""
        ...


class WarmSource:
    """The fast path's source: the request cache and a client already built, or None."""

    __slots__ = ("cache", "runtimes")

    def __init__(self, cache: RequestCache, runtimes: ConnectionRuntimes) -> None:
        self.cache = cache
        self.runtimes = runtimes

    async def connection(
        self, principal: Principal, connection_id: str
    ) -> ConnectionDetails | None:
        """The cached connection (the cache applies the visibility rule), else None.

        Missing while a request on the slow path reads it (its TTL ran out): waits for that
        read and looks again, rather than sending this request down the slow path too.
        """
        details = self.cache.connection(principal, connection_id)
        if details is None and await self.cache.await_read(
            connection_read_key(connection_id, principal)
        ):
            details = self.cache.connection(principal, connection_id)
        return details

    def leasing(self, details: ConnectionDetails, operation: str) -> Awaitable[ClientLease] | None:
        """The warm client, leased now (no side effect if not), else None."""
        lease = self.runtimes.lease_if_warm(details)
        return None if lease is None else connection_runs.held(lease)


class SessionSource:
    """The FastAPI route's source: the request cache, else *session* (builds clients too)."""

    __slots__ = ("cache", "runtimes", "session")

    def __init__(
        self, session: AsyncSession, cache: RequestCache, runtimes: ConnectionRuntimes
    ) -> None:
        self.session = session
        self.cache = cache
        self.runtimes = runtimes

    async def connection(self, principal: Principal, connection_id: str) -> ConnectionDetails:
        """The connection, from the cache or read (raises NotFound)."""
        return await get_connection_cached(self.session, self.cache, principal, connection_id)

    def leasing(self, details: ConnectionDetails, operation: str) -> Awaitable[ClientLease]:
        """The client, built if needed; a client that cannot be built is a failed call."""
        return connection_runs.lease_for_call(
            self.session, self.runtimes, details, "operation", operation
        )


async def answer_operation_call(
    source: CallSource,
    runtimes: ConnectionRuntimes,
    principal: Principal,
    connection_id: str,
    operation: str,
    params: Mapping[str, Any],
) -> bytes | None:
    """Run one operation call; the body of its 200 answer (compact JSON).

    Upstream error statuses are answered, not raised (the call succeeded in reaching it).

    Returns:
        The JSON body, or None when *source* lacks the connection or its client (nothing was
        done: the request can go elsewhere).

    Raises:
        NotFound: no such connection for *principal* (another enterprise's, deleted).
        OperationNotFound, PermissionDenied: no such operation, or not for this caller.
        ConnectoryError: the call failed (health recorded when the failure says something).
    """
    details = await source.connection(principal, connection_id)
    if details is None:
        return None
    connection_runs.authorize_operation(principal, details, operation)
    leasing = source.leasing(details, operation)
    if leasing is None:
        return None
    result = await connection_runs.run_with_lease(runtimes, details, operation, params, leasing)
    return encode_run(result)


def encode_run(result: OperationResult) -> bytes:
    """*result* as the route's response model gives it (validated, compact JSON)."""
    model = OperationRunOut.model_validate(result.to_dict())
    return OperationRunOut.__pydantic_serializer__.to_json(model)
