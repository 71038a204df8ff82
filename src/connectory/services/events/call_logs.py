"""The call logs background work writes to: polls, received webhooks handled, deliveries.

Polls run through the connection's client and track their call with ``client.calls``. Intake
handling and deliveries make no call through a client, so :class:`BackgroundCalls` finds the
call log of each connection they touch, once per run:

* for a received webhook, the connection's client's log (built or warm), so excerpts are
  redacted with everything the client knows to be secret (credentials, connector parameters,
  tokens); if no client can be built (credentials that no longer fit), the entry is still
  written, without the request excerpt;
* for a delivery, a log whose redactor knows the endpoint's signing secrets (the event's
  connection is the one whose log it is; its credentials play no part in a delivery).

Nothing is looked up when nothing listens (no call log, metrics or tracing).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import ConnectoryError
from connectory.http.redaction import REDACTED, Redactor
from connectory.observability.calls import ConnectionCalls, Telemetry
from connectory.services.events.context import EventsContext
from connectory.store.models import Connection

logger = logging.getLogger("connectory.events")


def listening(context: EventsContext) -> Telemetry | None:
    """The telemetry background work reports to, or None when nothing listens."""
    telemetry = context.runtimes.telemetry
    return telemetry if telemetry is not None and telemetry.active else None


class BackgroundCalls:
    """Call logs of the connections one background run records entries for (cached per run)."""

    def __init__(self, context: EventsContext) -> None:
        self._context = context
        self._telemetry = listening(context)
        self._clients: dict[str, ConnectionCalls | None] = {}
        self._blind: set[str] = set()
        #: Records nothing: what deliveries get when nothing listens (no redactor to build).
        self._idle = ConnectionCalls(None, "")

    @property
    def enabled(self) -> bool:
        """True when entries are recorded (or counted, or traced)."""
        return self._telemetry is not None

    async def of_client(self, connection_id: str) -> ConnectionCalls | None:
        """The log of a connection's client (its secrets known to the redactor).

        None when nothing listens or the connection is gone. A connection whose client cannot
        be built gets a log that knows no secret: :meth:`may_excerpt` is then False.
        """
        if self._telemetry is None:
            return None
        if connection_id in self._clients:
            return self._clients[connection_id]
        # Imported here: subscriptions imports the modules that import this one.
        from connectory.services.events.subscriptions import load_details

        calls: ConnectionCalls | None = None
        async with self._context.sessions() as session:
            details = await load_details(session, connection_id)
            if details is not None and details.connection.deleted_at is None:
                try:
                    lease = await self._context.runtimes.acquire(session, details)
                except ConnectoryError as error:
                    logger.info(
                        "connection %s: no client for its call log (%s); entries without excerpts",
                        connection_id,
                        type(error).__name__,
                    )
                    self._blind.add(connection_id)
                    calls = ConnectionCalls(
                        self._telemetry,
                        connection_id,
                        enterprise_id=details.connection.enterprise_id,
                        connector_id=details.connector.id,
                    )
                else:
                    # The log outlives the lease: it only holds the client's redactor.
                    calls = lease.client.calls
                    await lease.release()
        self._clients[connection_id] = calls
        return calls

    def may_excerpt(self, connection_id: str) -> bool:
        """False when the connection's secrets are unknown (excerpts are then left out)."""
        return connection_id not in self._blind

    async def connectors_of(
        self, connection_ids: Iterable[str], session: AsyncSession | None = None
    ) -> dict[str, str]:
        """The connector id of each connection (one query, in *session* when given)."""
        wanted = set(connection_ids)
        if self._telemetry is None or not wanted:
            return {}
        query = select(Connection.id, Connection.connector_id).where(Connection.id.in_(wanted))
        if session is not None:
            return {
                connection_id: connector_id
                for connection_id, connector_id in await session.execute(query)
            }
        async with self._context.sessions() as own:
            return {
                connection_id: connector_id
                for connection_id, connector_id in await own.execute(query)
            }

    def for_endpoint(
        self,
        connection_id: str,
        enterprise_id: str,
        connector_id: str | None,
        secrets: list[str],
    ) -> ConnectionCalls:
        """The log a delivery of *connection_id*'s event records to (endpoint secrets known)."""
        if self._telemetry is None:
            return self._idle
        return ConnectionCalls(
            self._telemetry,
            connection_id,
            redactor=Redactor(secrets),
            enterprise_id=enterprise_id,
            connector_id=connector_id,
        )


def intake_request_line(query: dict[str, str]) -> str:
    """The URL of a received webhook for its excerpt: the secret token is never shown."""
    line = f"/hooks/{REDACTED}"
    return f"{line}?{urlencode(query)}" if query else line
