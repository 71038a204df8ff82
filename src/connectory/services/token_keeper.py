"""Refreshing a stored connection's OAuth2 grant once, whichever process gets there first.

Two server processes that find the same access token expired must not both refresh it: with
rotating refresh tokens the second refresh sends a token the first one rotated away, and the
provider answers ``invalid_grant`` and revokes the grant. So a refresh runs inside a lock on
the connection, and whoever holds the lock first reads the grant stored *now*:

- **Redis** (``CONNECTORY_REDIS_URL`` set): a Redis lock per connection (redis-py's ``Lock``:
  ``SET NX PX`` and a token-checked release), expiring on its own if its holder dies.
- **Database** otherwise: ``SELECT ... FOR UPDATE`` on the connection's row on PostgreSQL, held
  by the transaction that stores the refreshed grant (the commit is the release). SQLite is one
  process, where the process lock below is all there is.
- Within a process, an asyncio lock per connection first, so the replaced and the new client
  of one connection queue here rather than in Redis or the database.

A holder that finds a grant newer than its own adopts it (see :mod:`connectory.auth.oauth2`);
the one that refreshes stores the result with a generation bump, so every other process drops
its client and builds one from the stored grant.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import LockError, RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectory.auth.grants import TokenSet
from connectory.errors import AuthError
from connectory.services.oauth_grants import load_grant, reject_grant, store_grant
from connectory.services.secret_store import SecretBox
from connectory.store.models import Connection

logger = logging.getLogger("connectory.oauth")

#: Longest a refresh may hold the Redis lock before it expires on its own (a dead holder).
LOCK_TTL = 60.0
#: Longest a refresh waits for another holder's lock.
LOCK_WAIT = 90.0


@dataclass
class _LocalLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class RefreshLocks:
    """The refresh locks of one process: local ones, and Redis when configured.

    Args:
        sessions: Sessions for reading and storing grants.
        box: Decrypts and encrypts the tokens.
        redis: The shared Redis, or None for the database lock.
        prefix: Prefix of the Redis lock keys.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        box: SecretBox,
        redis: Redis | None = None,
        prefix: str = "connectory:",
    ) -> None:
        self.sessions = sessions
        self.box = box
        self._redis = redis
        self._prefix = prefix
        self._local: dict[str, _LocalLock] = {}

    async def aclose(self) -> None:
        """Close the Redis connection, if any."""
        if self._redis is not None:
            await self._redis.aclose()

    def keeper(
        self, connection_id: str, on_stored: Callable[[int], None] | None = None
    ) -> ConnectionTokenKeeper:
        """The keeper of *connection_id*'s grant.

        *on_stored* hears each new generation before it commits (so the client that stored
        the grant stays current).
        """
        return ConnectionTokenKeeper(self, connection_id, on_stored)

    @asynccontextmanager
    async def local(self, connection_id: str) -> AsyncIterator[None]:
        """Hold this process's lock of *connection_id*."""
        entry = self._local.setdefault(connection_id, _LocalLock())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                self._local.pop(connection_id, None)

    @asynccontextmanager
    async def shared(self, connection_id: str) -> AsyncIterator[bool]:
        """Hold the Redis lock of *connection_id*.

        Yields False when there is no Redis (or it cannot be reached): the caller then locks
        the database row instead.
        """
        if self._redis is None:
            yield False
            return
        lock = self._redis.lock(
            f"{self._prefix}oauth-refresh:{connection_id}",
            timeout=LOCK_TTL,
            sleep=0.05,
            blocking_timeout=LOCK_WAIT,
        )
        try:
            acquired = await lock.acquire()
        except RedisError as error:
            logger.warning(
                "Redis refused the refresh lock (%s); locking the database row instead",
                type(error).__name__,
            )
            yield False
            return
        if not acquired:
            raise AuthError(
                "another process has been refreshing this connection's token for over "
                f"{LOCK_WAIT:.0f} s; try again shortly"
            )
        try:
            yield True
        finally:
            try:
                await lock.release()
            except (LockError, RedisError):
                # Expired (the refresh outlived LOCK_TTL) or Redis went away: it frees itself.
                logger.warning("the refresh lock had expired or could not be released")


class ConnectionTokenKeeper:
    """The :class:`~connectory.auth.grants.TokenKeeper` of one stored connection."""

    def __init__(
        self,
        locks: RefreshLocks,
        connection_id: str,
        on_stored: Callable[[int], None] | None,
    ) -> None:
        self._locks = locks
        self._connection_id = connection_id
        self._on_stored = on_stored
        self._session: AsyncSession | None = None

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[TokenSet | None]:
        """Hold the connection's refresh lock and yield the grant stored now."""
        locks = self._locks
        async with (
            locks.local(self._connection_id),
            locks.shared(self._connection_id) as shared,
            locks.sessions() as session,
        ):
            # SQLite is one process: the local lock is all the locking it needs.
            row_lock = not shared and session.get_bind().dialect.name != "sqlite"
            if row_lock:
                # The row lock lasts until this session commits what it stores (or ends).
                await session.execute(
                    select(Connection.id)
                    .where(Connection.id == self._connection_id)
                    .with_for_update()
                )
            grant, _ = await load_grant(session, locks.box, self._connection_id)
            if not row_lock:
                await session.commit()  # no transaction stays open during the refresh
                self._session = None
            else:
                self._session = session
            try:
                yield grant
            finally:
                self._session = None

    async def save(self, tokens: TokenSet) -> None:
        """Store the refreshed grant and bump the generation, in one transaction."""
        async with self._transaction() as session:
            generation = await store_grant(
                session, self._locks.box, self._connection_id, tokens, refreshed=True
            )
            if self._on_stored is not None:
                self._on_stored(generation)

    async def reject(self, reason: str) -> None:
        """Mark the grant revoked and the connection ``auth_error`` (re-authorize)."""
        async with self._transaction() as session:
            await reject_grant(session, self._connection_id, reason)
        logger.warning("connection %s needs re-authorizing: invalid_grant", self._connection_id)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        # Inside a database lock, the locking session stores (its commit releases the row);
        # otherwise a short session of its own.
        if self._session is not None:
            yield self._session
            await self._session.commit()
            return
        async with self._locks.sessions() as session:
            yield session
            await session.commit()
