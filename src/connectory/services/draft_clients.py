"""Clients that try a connector's draft with test credentials, for the builder's test panels.

A draft run (``draft/run``), a collection read or method (``draft/collection-read``,
``draft/collections/run``) and an event test (``draft/event-test``) all run the draft (or,
without one, the latest published version) the same way:

* :func:`spec_to_run` picks the version and resolves its sensitive defaults;
* :func:`draft_parameters` gives the connector parameters of the request, else the stored ones;
* :func:`draft_client` builds a one-off client whose transport records each exchange (shown,
  redacted, in the answer). The test credentials live in that client only: never stored or
  logged. Its requests draw on the connector's rate-limit budget and its JavaScript runs in
  the caller's tenant's engines, like the connections' calls.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import InvalidRequest
from connectory.runtime import ConnectorClient
from connectory.services.connection_runtime import CONNECTOR_PARAMETERS_OWNER, ConnectionRuntimes
from connectory.services.connector_versions import spec_of
from connectory.services.connectors import draft_of, published_version
from connectory.services.draft_exchanges import KEEP_BYTES, ExchangeRecorder
from connectory.services.principal import Principal
from connectory.services.secret_store import SecretBox, read_secrets
from connectory.services.sensitive_defaults import runtime_spec
from connectory.services.server_runtime import transport_factory
from connectory.settings import Settings
from connectory.spec.connector import ConnectorSpec
from connectory.store.models import Connector


async def spec_to_run(
    session: AsyncSession, box: SecretBox, connector: Connector
) -> tuple[ConnectorSpec, str]:
    """The spec a test runs (the draft, else the latest version) and its label.

    Raises:
        InvalidRequest: the draft does not parse into a connector (its problems come first).
    """
    draft = await draft_of(session, connector)
    version = draft or await published_version(session, connector, connector.latest_version)
    spec = spec_of(version) if version is not None else None
    if version is None or spec is None:
        raise InvalidRequest("the connector's draft is not valid; fix its problems first")
    return await runtime_spec(session, box, version.id, spec), version.version or "draft"


async def draft_parameters(
    session: AsyncSession, box: SecretBox, connector: Connector, given: dict[str, Any] | None
) -> dict[str, Any]:
    """The connector parameters of a test: those *given* with it, else the stored ones."""
    if given is not None:
        return given
    return await read_secrets(session, box, CONNECTOR_PARAMETERS_OWNER, connector.id)


def draft_client(
    settings: Settings,
    runtimes: ConnectionRuntimes,
    connector: Connector,
    principal: Principal,
    spec: ConnectorSpec,
    credentials: dict[str, Any],
    parameters: dict[str, Any] | None,
    *,
    keep_bytes: int = KEEP_BYTES,
) -> tuple[ExchangeRecorder, ConnectorClient]:
    """A client for one test, its transport recording each exchange (bodies to *keep_bytes*).

    Use the client as an async context manager: it is this request's alone.
    """
    recorder = ExchangeRecorder(transport_factory(settings)(), keep_bytes=keep_bytes)
    client = ConnectorClient(
        spec,
        credentials=credentials,
        connector_parameters=parameters,
        transport=recorder,
        pipeline=runtimes.pipeline,
        connection_key=f"draft:{connector.id}:{principal.user_id}",
        # A draft run draws on the connector's budget like the caller's connections do.
        connector_key=connector.id,
        # ... and its JavaScript runs in the caller's tenant's engine instances.
        tenant_key=principal.enterprise_id or "platform",
        js_engine=runtimes.js_engine,
    )
    return recorder, client
