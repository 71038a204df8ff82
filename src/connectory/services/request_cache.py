"""What every operation call reads, kept in process: the caller behind a token, the connection.

An operation call (``POST /connections/{id}/operations/{name}``) needs the principal behind
its API token and the connection with its connector, version and spec. Reading them from the
database on every call cost more than the call itself, so :class:`RequestCache` keeps them
between requests and forgets them when they change:

- **Connections** are dropped when their generation is announced
  (:mod:`connectory.services.generations`: credentials, config, version moves, deletion,
  connector parameters, stored OAuth2 tokens), in every process.
- **Health.** A connection is also dropped when a change of its stored health is announced
  (:func:`~connectory.services.generations.announce_health`), and only a ``healthy`` one is
  served from memory: a call compares its outcome with the stored health to write only changes.
- **Principals** are dropped when their user's identity is announced
  (:func:`~connectory.services.generations.announce_identity`: a token revoked, the user's
  role or SDK access changed, the user deleted). A token's expiry is checked on each use.
- **Everything** is dropped when announcements may have been missed (the channel reconnected),
  and no entry is used for longer than ``ttl`` seconds on the cache's clock: the time-based
  fallback for announcements lost without a gap (a process that died between its commit and
  its publish), and for the health another process stored.
- **No stale fill.** A read that began before an announcement arrived is not cached (it may
  have seen the old row), so a change is never hidden by a request that raced it.
- **One read per miss.** Concurrent requests missing the same entry (all of them, under load,
  each time an entry's TTL runs out) share one database read (:meth:`RequestCache.shared_read`),
  unless an announcement arrived after it began: then a request reads for itself. The API's
  fast path, which has no session to read with, waits for that read
  (:meth:`RequestCache.await_read`) instead of sending every request in flight down the slow
  path at once.

The database stays the truth; the cache only saves reading it again.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from connectory.services.connections import ConnectionDetails, get_connection
from connectory.services.generations import HEALTH_PREFIX, IDENTITY_PREFIX, GenerationNotifier
from connectory.services.principal import Principal

Clock = Callable[[], float]
T = TypeVar("T")

#: Entries kept per kind at most; the least recently used beyond it are dropped.
DEFAULT_MAX_ENTRIES = 4096


@dataclass(frozen=True)
class _CachedPrincipal:
    principal: Principal
    expires_at: datetime | None
    cached_at: float


@dataclass(frozen=True)
class _CachedConnection:
    details: ConnectionDetails
    cached_at: float


class RequestCache:
    """Principals by token hash and connections by id, invalidated by announcements.

    Args:
        ttl: Seconds an entry is used at most without reading the database again; 0 turns
            the cache off (every request reads the database).
        notifier: Announcements that drop changed entries (every process's notifier).
        clock: Monotonic seconds (tests inject one).
        max_entries: Entries per kind at most.
    """

    def __init__(
        self,
        ttl: float,
        notifier: GenerationNotifier | None = None,
        *,
        clock: Clock = time.monotonic,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self._max_entries = max(1, max_entries)
        self._principals: OrderedDict[str, _CachedPrincipal] = OrderedDict()
        self._connections: OrderedDict[str, _CachedConnection] = OrderedDict()
        #: Counts announcements; a read that saw another value began before one of them.
        self._epoch = 0
        #: Reads in flight by key: the epoch they began in, and their outcome.
        self._flights: dict[object, tuple[int, asyncio.Future[Any]]] = {}
        self._unsubscribe = (
            notifier.subscribe(self._on_change, self.clear) if notifier is not None else None
        )

    @property
    def enabled(self) -> bool:
        """False when the TTL is 0: nothing is kept."""
        return self.ttl > 0

    def epoch(self) -> int:
        """Take before reading the database; pass to ``remember_*`` with what was read."""
        return self._epoch

    def principal(self, token_hash: str, now: datetime) -> Principal | None:
        """The cached principal behind a token (by its hash), or None: read the database."""
        entry = self._principals.get(token_hash)
        if entry is None:
            return None
        if self.clock() - entry.cached_at >= self.ttl or (
            entry.expires_at is not None and entry.expires_at <= now
        ):
            del self._principals[token_hash]
            return None
        return entry.principal

    def remember_principal(
        self, token_hash: str, principal: Principal, expires_at: datetime | None, epoch: int
    ) -> None:
        """Keep the principal read from the database, unless a change arrived meanwhile."""
        if self.enabled and epoch == self._epoch:
            self._principals[token_hash] = _CachedPrincipal(principal, expires_at, self.clock())
            _trim(self._principals, self._max_entries)

    def connection(self, principal: Principal, connection_id: str) -> ConnectionDetails | None:
        """The cached connection if *principal* may see it, else None: read the database.

        Visibility is the same rule as
        :func:`~connectory.services.access.visible_connections` (the caller's enterprise's live
        connections); None sends the request to the database, which answers 404 itself.
        """
        entry = self._connections.get(connection_id)
        if entry is None:
            return None
        if self.clock() - entry.cached_at >= self.ttl:
            del self._connections[connection_id]
            return None
        connection = entry.details.connection
        if connection.health != "healthy":
            # Only a healthy connection is served from memory: a call compares its outcome
            # with the stored health, which another process may have changed since.
            return None
        if (
            principal.enterprise_id is None
            or connection.enterprise_id != principal.enterprise_id
            or connection.deleted_at is not None
        ):
            return None
        self._connections.move_to_end(connection_id)
        return entry.details

    def remember_connection(self, details: ConnectionDetails, epoch: int) -> None:
        """Keep a connection read from the database, unless a change arrived meanwhile."""
        if self.enabled and epoch == self._epoch:
            entry = _CachedConnection(details, self.clock())
            self._connections[details.connection.id] = entry
            _trim(self._connections, self._max_entries)

    async def shared_read(self, key: object, read: Callable[[], Awaitable[T]]) -> T:
        """Run *read* (a database read of the entry *key*), or share the one in flight.

        A request joins a read of the same key only if no announcement arrived since it began
        (it might have seen the row before the change). Joiners get its result or its error
        (a refused token, a connection not found: the answers they would have read); if it is
        cancelled (its client went away), each reads for itself.
        """
        flight = self._flights.get(key)
        if flight is not None and flight[0] == self._epoch:
            try:
                result: T = await asyncio.shield(flight[1])
                return result
            except asyncio.CancelledError:
                if _cancelled_itself(flight[1]):
                    raise
        return await self._lead(key, read)

    async def await_read(self, key: object) -> bool:
        """Wait for the read of *key* in flight, if one began since the last announcement.

        For a caller that cannot read itself (the API's fast path has no database session):
        instead of taking the slow path with every other request each time an entry's TTL runs
        out, it waits for the one read already under way and then looks the entry up again.
        The read's outcome is not passed on (an error or a read that was not kept leaves the
        entry missing, and the caller goes the slow way, which reads and answers for itself).

        Returns:
            Whether there was such a read (it is over now); False: nothing was awaited.
        """
        flight = self._flights.get(key)
        if flight is None or flight[0] != self._epoch:
            return False
        try:
            await asyncio.shield(flight[1])
        except asyncio.CancelledError:
            if _cancelled_itself(flight[1]):
                raise
        except Exception:
            pass  # its reader answers the error; this caller looks the entry up again
        return True

    async def _lead(self, key: object, read: Callable[[], Awaitable[T]]) -> T:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        flight = (self._epoch, future)
        self._flights[key] = flight
        try:
            result = await read()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: joiners re-raise it; none is not an error
            raise
        else:
            future.set_result(result)
            return result
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]

    def clear(self) -> None:
        """Forget everything (announcements may have been missed)."""
        self._epoch += 1
        self._principals.clear()
        self._connections.clear()

    def close(self) -> None:
        """Stop listening to announcements."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_change(self, key: str, generation: int) -> None:
        self._epoch += 1
        if key.startswith(HEALTH_PREFIX):
            self._connections.pop(key[len(HEALTH_PREFIX) :], None)
            return
        if key.startswith(IDENTITY_PREFIX):
            user_id = key[len(IDENTITY_PREFIX) :]
            for token_hash in [
                h for h, e in self._principals.items() if e.principal.user_id == user_id
            ]:
                del self._principals[token_hash]
            return
        entry = self._connections.get(key)
        if entry is not None and entry.details.connection.generation < generation:
            del self._connections[key]


def _trim(
    entries: OrderedDict[str, _CachedPrincipal] | OrderedDict[str, _CachedConnection], size: int
) -> None:
    while len(entries) > size:
        entries.popitem(last=False)


async def get_connection_cached(
    session: AsyncSession, cache: RequestCache, principal: Principal, connection_id: str
) -> ConnectionDetails:
    """:func:`~connectory.services.connections.get_connection` through *cache*.

    Raises:
        NotFound: no such connection, or another enterprise's, or deleted.
    """
    details = cache.connection(principal, connection_id)
    if details is not None:
        return details
    if not cache.enabled:
        return await get_connection(session, principal, connection_id)

    async def read() -> ConnectionDetails:
        epoch = cache.epoch()
        found = await get_connection(session, principal, connection_id)
        # Shared with later requests: detached, so nothing this request's session does (a
        # rollback expiring its objects) reaches the copy others use.
        for row in (found.connection, found.connector, found.version):
            session.expunge(row)
        cache.remember_connection(found, epoch)
        return found

    return await cache.shared_read(connection_read_key(connection_id, principal), read)


def principal_read_key(token_hash: str) -> object:
    """The :meth:`RequestCache.shared_read` key of reading the principal behind a token."""
    return ("principal", token_hash)


def connection_read_key(connection_id: str, principal: Principal) -> object:
    """The :meth:`RequestCache.shared_read` key of reading a connection for *principal*.

    Visibility depends on the caller: only the same principal shares a read.
    """
    return ("connection", connection_id, principal)


def _cancelled_itself(read: asyncio.Future[Any]) -> bool:
    """Whether a CancelledError out of awaiting a shared *read* is the caller's own.

    It is when the read was not cancelled (only the caller's wait was), and also when both
    were (at shut-down): a caller asked to stop must stop, not go on to read for itself.
    """
    if not read.cancelled():
        return True
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
