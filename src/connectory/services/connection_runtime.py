"""Connector clients for stored connections, kept warm between requests.

A client holds what makes calls cheap and correct: its OAuth2 token cache, its pooled HTTP
connections, and (through the shared pipeline) the connection's breaker and rate limit.

- **Built once.** Concurrent first calls on a connection wait for one build (single flight).
- **Leased.** A call holds a lease on the client for as long as it runs (a stream until its
  last page). A client replaced by a newer one, evicted from the cache or forgotten is closed
  when its last lease ends, never under a call in flight.
- **Fresh by generation.** Each client records the connection generation it was built from
  (see :mod:`connectory.services.generations`); a request that reads a higher generation gets
  a new client, and an announced bump retires the old one at once, in every process.
- **Capped.** At most ``max_clients`` connections keep a client; the least recently used
  beyond that is retired (closed once idle).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectory.auth.oauth2 import REAUTHORIZE
from connectory.errors import AuthError
from connectory.js import JsEngine
from connectory.observability.calls import Telemetry
from connectory.resilience import ResiliencePipeline
from connectory.runtime import ConnectorClient
from connectory.services.connections import ConnectionDetails, load_credentials
from connectory.services.generations import GenerationNotifier
from connectory.services.oauth_apps import enterprise_app_parameters
from connectory.services.oauth_grants import load_grant
from connectory.services.secret_store import SecretBox, read_secrets
from connectory.services.sensitive_defaults import runtime_spec
from connectory.services.token_keeper import RefreshLocks
from connectory.spec.connector import ConnectorSpec

#: Owner type of a connector's (write-only) parameter values.
CONNECTOR_PARAMETERS_OWNER = "connector_parameters"

TransportFactory = Callable[[], httpx.AsyncBaseTransport | None]


@dataclass(eq=False)
class _Entry:
    """One built client: the generation it reflects and who is using it."""

    generation: int
    client: ConnectorClient | None = None
    leases: int = 0
    retired: bool = False


@dataclass
class _Flight:
    """The single build in progress for one connection, and how many callers wait on it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0


@dataclass
class RuntimeStats:
    """Counts for tests and metrics."""

    cached: int
    """Connections with a client in the cache."""
    retiring: int
    """Replaced or evicted clients still serving calls in flight."""
    built: int
    """Clients built since start."""
    closed: int
    """Clients closed since start."""


class ClientLease:
    """A connection's client, held for one call or stream; :meth:`release` it when done.

    Use it as an async context manager (``async with lease as client``) or release it in a
    ``finally``. Releasing twice is harmless.
    """

    def __init__(self, runtimes: ConnectionRuntimes, entry: _Entry) -> None:
        assert entry.client is not None
        self.client: ConnectorClient = entry.client
        self._runtimes = runtimes
        self._entry: _Entry | None = entry

    async def release(self) -> None:
        """Give the client back; a retired client closes when its last lease is released."""
        entry, self._entry = self._entry, None
        if entry is not None:
            await self._runtimes._release(entry)

    async def __aenter__(self) -> ConnectorClient:
        return self.client

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.release()


class ConnectionRuntimes:
    """One :class:`ConnectorClient` per connection, shared by the server's requests.

    Args:
        sessions: Sessions for the runtime's own writes (refreshed tokens, health).
        box: Decrypts stored credentials and connector parameters.
        pipeline: The resilience pipeline every client shares.
        transport_factory: A transport per client (the server's egress guard).
        max_clients: Connections that keep a client; the least recently used beyond it retire.
        notifier: Announced generation bumps retire stale clients at once.
        refresh_locks: The OAuth2 refresh locks (Redis or database); default: database.
        telemetry: Where every client records, counts and traces its calls.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        box: SecretBox,
        pipeline: ResiliencePipeline,
        transport_factory: TransportFactory,
        max_clients: int = 256,
        notifier: GenerationNotifier | None = None,
        js_engine: JsEngine | None = None,
        refresh_locks: RefreshLocks | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.sessions = sessions
        #: Serialise OAuth2 refreshes per connection, across processes.
        self.refresh_locks = refresh_locks or RefreshLocks(sessions, box)
        self.telemetry = telemetry
        self._box = box
        self.pipeline = pipeline
        #: Runs connector JavaScript for every connection (instances per enterprise).
        self.js_engine = js_engine or JsEngine()
        self._transport_factory = transport_factory
        self._max_clients = max(1, max_clients)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._flights: dict[str, _Flight] = {}
        self._retiring: set[_Entry] = set()
        self._closing: set[asyncio.Task[None]] = set()
        self._built = 0
        self._closed = 0
        self._unsubscribe = (
            notifier.subscribe(self._on_generation) if notifier is not None else None
        )

    def stats(self) -> RuntimeStats:
        """How many clients are cached, retiring, built and closed."""
        return RuntimeStats(len(self._entries), len(self._retiring), self._built, self._closed)

    async def acquire(self, session: AsyncSession, details: ConnectionDetails) -> ClientLease:
        """Lease the client of *details*' connection, building it on first use or after a change.

        Concurrent callers share one build. *session* reads the stored secrets when a client
        is built.

        Raises:
            CredentialsError, TemplateError, DecryptionError: the stored credentials no longer
                fit the connector, or cannot be read.
        """
        connection_id = details.connection.id
        entry = self._fresh(connection_id, details.connection.generation)
        stale: list[_Entry] = []
        if entry is None:
            entry, stale = await self._build_once(session, details)
        # No await since the entry was found or built: nothing can retire it before this.
        entry.leases += 1
        lease = ClientLease(self, entry)
        try:
            for old in stale:
                await self._close(old)
        except BaseException:
            await lease.release()
            raise
        return lease

    def lease_if_warm(self, details: ConnectionDetails) -> ClientLease | None:
        """Lease the connection's client if one fresh for *details* is built, else None.

        Needs no session (nothing is read): the API's fast path for operation calls uses it
        and leaves a connection without a warm client to :meth:`acquire`.
        """
        entry = self._fresh(details.connection.id, details.connection.generation)
        if entry is None:
            return None
        entry.leases += 1
        return ClientLease(self, entry)

    async def aclose(self) -> None:
        """Close every client, in use or not (the server is stopping)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        entries = [*self._entries.values(), *self._retiring]
        self._entries.clear()
        self._retiring.clear()
        for entry in entries:
            entry.retired = True
            await self._close(entry)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        await self.js_engine.aclose()
        await self.refresh_locks.aclose()

    async def connector_parameters(
        self, session: AsyncSession, spec: ConnectorSpec, connector_id: str, enterprise_id: str
    ) -> dict[str, Any]:
        """The connector's parameter values as *enterprise_id*'s connections see them."""
        parameters: dict[str, Any] = await read_secrets(
            session, self._box, CONNECTOR_PARAMETERS_OWNER, connector_id
        )
        # An enterprise's own OAuth app replaces the catalogue's client id and secret.
        parameters |= await enterprise_app_parameters(
            session, self._box, spec, connector_id, enterprise_id
        )
        return parameters

    def build_client(
        self,
        spec: ConnectorSpec,
        *,
        credentials: Mapping[str, Any],
        connector_parameters: Mapping[str, Any],
        config: Mapping[str, Any],
        connector_id: str,
        enterprise_id: str,
    ) -> ConnectorClient:
        """A client outside the cache, with the server's egress guard and pipeline.

        For a connection not created yet (the OAuth2 code exchange). The caller closes it.
        """
        return ConnectorClient(
            spec,
            credentials=credentials,
            connector_parameters=connector_parameters,
            config=config,
            transport=self._transport_factory(),
            pipeline=self.pipeline,
            connector_key=connector_id,
            tenant_key=enterprise_id,
            js_engine=self.js_engine,
        )

    def _fresh(self, connection_id: str, generation: int) -> _Entry | None:
        entry = self._entries.get(connection_id)
        # A client built from a newer generation than this request read is fresh too.
        if entry is not None and entry.generation >= generation:
            self._entries.move_to_end(connection_id)
            return entry
        return None

    async def _build_once(
        self, session: AsyncSession, details: ConnectionDetails
    ) -> tuple[_Entry, list[_Entry]]:
        """Build the client unless a concurrent caller just did; return it and idle stale ones."""
        connection_id = details.connection.id
        flight = self._flights.setdefault(connection_id, _Flight())
        flight.waiting += 1
        try:
            async with flight.lock:
                entry = self._fresh(connection_id, details.connection.generation)
                if entry is not None:
                    return entry, []
                entry = await self._build(session, details)
                stale: list[_Entry] = []
                previous = self._entries.pop(connection_id, None)
                self._entries[connection_id] = entry
                if previous is not None:
                    stale += self._retire(previous)
                while len(self._entries) > self._max_clients:
                    _, oldest = self._entries.popitem(last=False)
                    stale += self._retire(oldest)
                return entry, stale
        finally:
            flight.waiting -= 1
            if flight.waiting == 0:
                self._flights.pop(connection_id, None)

    async def _build(self, session: AsyncSession, details: ConnectionDetails) -> _Entry:
        entry = _Entry(details.connection.generation)

        def stored(generation: int) -> None:
            # This client already holds the grant it stored: it stays fresh, unless another
            # change came in between (then the generations skip one).
            if entry.generation == generation - 1:
                entry.generation = generation

        entry.client = await self._new_client(
            session, details, self._transport_factory(), stored, None
        )
        self._built += 1
        return entry

    async def build_private_client(
        self,
        session: AsyncSession,
        details: ConnectionDetails,
        wrap: Callable[[httpx.AsyncBaseTransport | None], httpx.AsyncBaseTransport],
        resilience: Mapping[str, Any] | None = None,
    ) -> ConnectorClient:
        """A client of the stored connection outside the cache; the caller closes it.

        It has the connection's credentials, OAuth2 grant (a refresh it makes is stored as
        the cached client's would be), connector parameters, breaker, rate limit and call log;
        its transport is the server's (egress guard included) wrapped by *wrap*, so a caller
        can see every request it sends (a contract test). *resilience* overrides the
        connector's settings for this client only.

        Raises:
            CredentialsError, TemplateError, DecryptionError, AuthError: as :meth:`acquire`.
        """
        return await self._new_client(
            session, details, wrap(self._transport_factory()), lambda _generation: None, resilience
        )

    async def _new_client(
        self,
        session: AsyncSession,
        details: ConnectionDetails,
        transport: httpx.AsyncBaseTransport | None,
        stored: Callable[[int], None],
        resilience: Mapping[str, Any] | None,
    ) -> ConnectorClient:
        connection = details.connection
        credentials = await load_credentials(session, self._box, details)
        grant, rejected = await load_grant(session, self._box, connection.id)
        if rejected:
            # The provider revoked the grant: nothing may call it (or the API) until a person
            # authorizes again; building no client guarantees that.
            raise AuthError(REAUTHORIZE, oauth_error="invalid_grant", reauthorize=True)
        parameters = await self.connector_parameters(
            session, details.spec, details.connector.id, connection.enterprise_id
        )
        # The stored spec shows sensitive defaults as the placeholder; the client gets them.
        spec = await runtime_spec(session, self._box, details.version.id, details.spec)
        metrics = self.telemetry.metrics if self.telemetry is not None else None
        return ConnectorClient(
            spec,
            credentials=credentials,
            connector_parameters=parameters,
            config=connection.config,
            resilience=resilience,
            transport=transport,
            pipeline=self.pipeline,
            connection_key=connection.id,
            # Ids, never slugs: another owner's connector may share the slug.
            connector_key=details.connector.id,
            tenant_key=connection.enterprise_id,
            js_engine=self.js_engine,
            tokens=grant,
            token_keeper=self.refresh_locks.keeper(connection.id, stored),
            telemetry=self.telemetry,
            observer=metrics.resilience_observer(details.connector.id) if metrics else None,
        )

    def _retire(self, entry: _Entry) -> list[_Entry]:
        """Mark *entry* retired; return it if it is idle (the caller closes it)."""
        entry.retired = True
        if entry.leases:
            self._retiring.add(entry)
            return []
        return [entry]

    async def _release(self, entry: _Entry) -> None:
        entry.leases -= 1
        if entry.retired and entry.leases == 0:
            self._retiring.discard(entry)
            await self._close(entry)

    async def _close(self, entry: _Entry) -> None:
        client, entry.client = entry.client, None
        if client is not None:
            self._closed += 1
            await client.aclose()

    def _on_generation(self, connection_id: str, generation: int) -> None:
        """An announced bump: retire a client built from an older generation."""
        entry = self._entries.get(connection_id)
        if entry is None or entry.generation >= generation:
            return
        del self._entries[connection_id]
        for idle in self._retire(entry):
            task = asyncio.get_running_loop().create_task(self._close(idle))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
