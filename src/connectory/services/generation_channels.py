"""The channels that carry generation announcements between processes: Redis and PostgreSQL.

Both follow :class:`~connectory.services.generations.GenerationNotifier`: ``start()`` returns
once this process is listening, announcements from other processes reach the listeners, and a
lost connection is re-established in the background, after which listeners hear ``on_gap``
(announcements sent meanwhile were missed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no type information published
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from connectory.resilience.redis_store import REDIS_UNAVAILABLE, create_redis
from connectory.services.generations import GenerationNotifier

logger = logging.getLogger("connectory.generations")

#: The PostgreSQL channel (LISTEN/NOTIFY is per database, so one name serves a deployment).
POSTGRES_CHANNEL = "connectory_generations"

_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


class RedisNotifier(GenerationNotifier):
    """Announcements over Redis pub/sub, channel ``{prefix}generations``.

    Published after the commit (Redis cannot join the database's transaction): a process that
    dies between its commit and the publish loses that announcement, not the change.

    Args:
        url: The Redis URL.
        prefix: Prefix of the channel name (the deployment's Redis prefix).
        retry_interval: Seconds between attempts to reach Redis again after losing it.
    """

    channel = "Redis"

    def __init__(self, url: str, *, prefix: str = "connectory:", retry_interval: float = 1.0):
        super().__init__()
        self.channel_name = f"{prefix}generations"
        self._url = url
        self._retry_interval = retry_interval
        self._redis: Redis | None = None
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._connects = 0
        self._down = False

    async def start(self) -> None:
        """Subscribe; returns once Redis has confirmed the subscription."""
        self._redis = create_redis(
            self._url, timeout=2.0, client_name=f"connectory-generations-{self.sender}"
        )
        try:
            await self._subscribe()
        except REDIS_UNAVAILABLE as error:
            # Like the limiter and breaker, a missing Redis must not keep the server down:
            # requests still compare generations read from the database.
            logger.warning(
                "Redis is unavailable for connection announcements (%s); retrying in the "
                "background",
                type(error).__name__,
            )
            self._down = True
            await self._drop_pubsub()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def aclose(self) -> None:
        """Stop listening, finish pending publishes, close the connections."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await super().aclose()
        await self._drop_pubsub()
        if self._redis is not None:
            await self._redis.aclose()

    async def _send(self, generations: Mapping[str, int]) -> None:
        if self._redis is None:
            return
        for payload in self.encode(generations):
            await self._redis.publish(self.channel_name, payload)

    async def _subscribe(self) -> None:
        assert self._redis is not None
        pubsub = self._redis.pubsub()
        self._pubsub = pubsub
        await pubsub.subscribe(self.channel_name)
        # Wait for Redis' confirmation: from then on every publish reaches this process.
        while True:
            message = await pubsub.get_message(timeout=None)
            if message is not None and message.get("type") == "subscribe":
                break
        assert pubsub.connection is not None
        # redis-py reconnects and re-subscribes on its own after a dropped connection; every
        # connection after the first means announcements may have been missed.
        self._connects = 1
        pubsub.connection.register_connect_callback(self._on_connect)

    async def _on_connect(self, _connection: Any) -> None:
        self._connects += 1
        if self._connects > 1:
            self.deliver_gap()

    async def _read(self) -> None:
        while True:
            try:
                if self._pubsub is None:
                    await self._subscribe()
                    logger.warning("Redis is back for connection announcements")
                    self._down = False
                    self.deliver_gap()
                assert self._pubsub is not None
                message = await self._pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except REDIS_UNAVAILABLE as error:
                if not self._down:  # one warning per outage, not one per retry
                    self._down = True
                    logger.warning(
                        "lost Redis for connection announcements (%s); retrying every %g s",
                        type(error).__name__,
                        self._retry_interval,
                    )
                await self._drop_pubsub()
                await asyncio.sleep(self._retry_interval)
                continue
            if message is not None and message.get("type") == "message":
                self.receive(message["data"])

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(*REDIS_UNAVAILABLE):
                await pubsub.aclose()


class PostgresNotifier(GenerationNotifier):
    """Announcements over PostgreSQL ``LISTEN/NOTIFY`` on :data:`POSTGRES_CHANNEL`.

    A bump's ``NOTIFY`` is sent inside the committing transaction, so PostgreSQL delivers it
    exactly when the change commits and drops it on rollback. Listening holds one dedicated
    connection per process, outside the engine's pool.

    Args:
        engine: The server's engine (PostgreSQL); its URL gives the listening connection's.
        retry_interval: Seconds between attempts to reconnect after losing the connection.
    """

    channel = "PostgreSQL"

    def __init__(self, engine: AsyncEngine, *, retry_interval: float = 1.0) -> None:
        super().__init__()
        self._engine = engine
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._retry_interval = retry_interval
        self._connection: asyncpg.Connection | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        """Open the listening connection; returns once ``LISTEN`` has been acknowledged."""
        await self._listen()

    async def aclose(self) -> None:
        """Stop listening and close the listening connection."""
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnecting
        await super().aclose()
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            await connection.close(timeout=5)

    def in_transaction(self, session: Session, generations: Mapping[str, int]) -> None:
        """Queue the NOTIFY in the committing transaction (runs inside SQLAlchemy's greenlet)."""
        for payload in self.encode(generations):
            session.execute(_NOTIFY, {"channel": POSTGRES_CHANNEL, "payload": payload})

    def committed(self, generations: Mapping[str, int]) -> None:
        """The transaction's NOTIFY has gone out with the commit; deliver here too."""
        self.deliver(generations)

    async def _send(self, generations: Mapping[str, int]) -> None:
        async with self._engine.begin() as connection:
            for payload in self.encode(generations):
                await connection.execute(_NOTIFY, {"channel": POSTGRES_CHANNEL, "payload": payload})

    async def _listen(self) -> None:
        connection = await asyncpg.connect(self._dsn, timeout=10)
        try:
            await connection.add_listener(POSTGRES_CHANNEL, self._on_notification)
        except BaseException:
            await connection.close()
            raise
        connection.add_termination_listener(self._on_termination)
        self._connection = connection

    def _on_notification(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self.receive(payload)

    def _on_termination(self, _connection: Any) -> None:
        if self._closed or self._reconnecting is not None:
            return
        logger.warning(
            "lost the PostgreSQL connection listening for connection announcements; "
            "reconnecting every %g s",
            self._retry_interval,
        )
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._retry_interval)
            try:
                await self._listen()
            except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                logger.debug("reconnecting for announcements failed: %s", type(error).__name__)
                continue
            logger.warning("listening for connection announcements again")
            self._reconnecting = None
            self.deliver_gap()
            return
