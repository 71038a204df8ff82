"""Contract tests through a stored connection (``connectory contract-test --connection ID``).

The server runs the contract test (see :mod:`connectory.services.contract_test`) with the
connection's own credentials, OAuth2 grant and connector parameters, which never leave it,
through its egress guard, resilience pipeline and call log. The description is the one sent
with the request, else the one kept with the connection's connector version.
"""

from __future__ import annotations

from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import ConnectoryError, NotFound
from connectory.services.access import check_may_run_operation
from connectory.services.connection_runs import calls_without_client
from connectory.services.connection_runtime import ConnectionRuntimes
from connectory.services.connections import ConnectionDetails
from connectory.services.contract_test import (
    CONTRACT_RESILIENCE,
    ContractReport,
    Recorder,
    check_operations,
    load_description,
)
from connectory.services.openapi_descriptions import load_description as load_kept
from connectory.services.principal import Principal


async def contract_test_connection(
    session: AsyncSession,
    runtimes: ConnectionRuntimes,
    details: ConnectionDetails,
    principal: Principal,
    *,
    description: bytes | None = None,
    include_writes: bool = False,
) -> tuple[ContractReport, str]:
    """Run the contract test on a stored connection.

    Returns the report and where the description came from (``request`` or ``kept``). The
    session's transaction ends before the upstream is called (as for every call).

    Raises:
        PermissionDenied: *include_writes* for a principal who may run only safe operations.
        NotFound: no description was sent and none is kept with the version.
        OpenAPIError, InputError: the description cannot be read, or is Swagger 2.0.
    """
    if include_writes:
        for operation in details.spec.operations:
            check_may_run_operation(principal, operation)
    source = "request"
    if description is None:
        kept = await load_kept(session, details.version.id)
        if kept is None:
            raise NotFound(
                f"no OpenAPI description is kept with version {details.version.version} of "
                f"connector '{details.spec.slug}'; send one (contract-test --description FILE)"
            )
        description, source = kept.content, "kept"
    # A large description takes a while to parse: not on the event loop.
    document: dict[str, Any] = await anyio.to_thread.run_sync(load_description, description)
    # The recorder wraps the server's transport (egress guard included), keeping what is sent.
    made: dict[str, Recorder] = {}

    def wrap(inner: Any) -> Recorder:
        made["recorder"] = Recorder(inner)
        return made["recorder"]

    try:
        client = await runtimes.build_private_client(
            session, details, wrap, resilience=CONTRACT_RESILIENCE
        )
    except ConnectoryError as error:
        calls_without_client(runtimes, details).record("operation", "contract-test", error=error)
        raise
    await session.commit()  # nothing pending: give the database connection back meanwhile
    async with client:
        report = await check_operations(
            client, made["recorder"], document, include_writes=include_writes
        )
    return report, source
