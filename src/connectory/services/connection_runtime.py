"""Connector clients for stored connections, kept warm between requests.

A client holds what makes calls cheap and correct: its OAuth2 token cache, its pooled HTTP
connections, and (through the shared pipeline) the connection's breaker and rate limit. Clients
are rebuilt when the connection, its version or the connector's parameters change, and the
least recently used are closed beyond a cap.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectory.resilience import ResiliencePipeline
from connectory.runtime import ConnectorClient
from connectory.services.connections import CREDENTIALS_OWNER, ConnectionDetails, load_credentials
from connectory.services.secret_store import SecretBox, read_secrets, write_secrets
from connectory.services.sensitive_defaults import runtime_spec
from connectory.spec.connector import ConnectorSpec
from connectory.store.models import Connection

#: Owner type of a connector's (write-only) parameter values.
CONNECTOR_PARAMETERS_OWNER = "connector_parameters"

TransportFactory = Callable[[], httpx.AsyncBaseTransport | None]


class ConnectionRuntimes:
    """One :class:`ConnectorClient` per connection, shared by the server's requests."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        box: SecretBox,
        pipeline: ResiliencePipeline,
        transport_factory: TransportFactory,
        max_clients: int = 256,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self.pipeline = pipeline
        self._transport_factory = transport_factory
        self._max_clients = max_clients
        self._clients: OrderedDict[str, tuple[tuple[object, ...], ConnectorClient]] = OrderedDict()

    async def client_for(
        self, session: AsyncSession, details: ConnectionDetails
    ) -> ConnectorClient:
        """The client of *details*' connection, built on first use or after a change.

        Raises:
            CredentialsError, TemplateError: the stored credentials no longer fit the connector.
        """
        connection = details.connection
        stamp: tuple[object, ...] = (
            _moment(connection.updated_at),
            connection.version_id,
            _moment(details.connector.updated_at),
        )
        cached = self._clients.get(connection.id)
        if cached is not None and cached[0] == stamp:
            self._clients.move_to_end(connection.id)
            return cached[1]
        credentials = await load_credentials(session, self._box, details)
        parameters = await read_secrets(
            session, self._box, CONNECTOR_PARAMETERS_OWNER, details.connector.id
        )
        # The stored spec shows sensitive defaults as the placeholder; the client gets them.
        spec = await runtime_spec(session, self._box, details.version.id, details.spec)
        client = ConnectorClient(
            spec,
            credentials=credentials,
            connector_parameters=parameters,
            config=connection.config,
            transport=self._transport_factory(),
            pipeline=self.pipeline,
            connection_key=connection.id,
            on_tokens=self._token_saver(connection.id, details.spec),
        )
        await self.forget(connection.id)
        self._clients[connection.id] = (stamp, client)
        while len(self._clients) > self._max_clients:
            _, (_, oldest) = self._clients.popitem(last=False)
            await oldest.aclose()
        return client

    async def forget(self, connection_id: str) -> None:
        """Close and drop the client of a connection (changed or deleted)."""
        entry = self._clients.pop(connection_id, None)
        if entry is not None:
            await entry[1].aclose()

    async def aclose(self) -> None:
        """Close every client."""
        while self._clients:
            _, (_, client) = self._clients.popitem()
            await client.aclose()

    def _token_saver(
        self, connection_id: str, spec: ConnectorSpec
    ) -> Callable[[dict[str, str]], Awaitable[None]]:
        """Store refreshed OAuth2 tokens, for the credential fields the connector declares."""
        schema = spec.auth.credential_schema

        async def save(tokens: dict[str, str]) -> None:
            secret = {k: v for k, v in tokens.items() if k in schema and schema[k].is_sensitive}
            public = {k: v for k, v in tokens.items() if k in schema and not schema[k].is_sensitive}
            if not secret and not public:
                return
            async with self._sessions() as session:
                await write_secrets(session, self._box, CREDENTIALS_OWNER, connection_id, secret)
                if public:
                    connection = await session.scalar(
                        select(Connection).where(Connection.id == connection_id)
                    )
                    if connection is not None:
                        connection.public_credentials = {
                            **connection.public_credentials,
                            **public,
                        }
                await session.commit()

        return save


def _moment(value: datetime) -> str:
    # SQLite returns naive datetimes, PostgreSQL aware ones; compare them as text.
    return value.isoformat()
