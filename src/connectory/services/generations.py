"""Connection generations: what tells every process that a connection changed.

Each connection has one integer, ``connections.generation``, bumped in the transaction of every
change that state kept outside the database must pick up: credentials, config, a version move,
deletion, the connector's parameters (each of its connections is bumped) and stored OAuth2
token refreshes. Anything derived from a connection and kept between requests (a warm
:class:`~connectory.runtime.ConnectorClient`, a cached read) records the generation it was
built from and is stale once the database holds a higher one.

Writers bump inside their transaction; the commit announces the bump to every process::

    generation = await bump_connection(session, connection.id)
    await session.commit()            # announced on commit, never on rollback

Readers subscribe to announcements to drop stale state early, and compare generations when
they read the connection anyway::

    unsubscribe = notifier.subscribe(on_change, on_gap)
    # on_change(connection_id, generation): that connection is now at least at *generation*
    # on_gap(): announcements may have been missed (a reconnect): treat everything as stale

The database holds the truth; an announcement is a hint that arrives after the commit (never
before it). Announcements can be lost (a process restarting, a broker outage); a reader that
must not serve stale state without reading the database keeps a time-based fallback as well.

Three channels, chosen by :func:`create_notifier`: Redis pub/sub when ``CONNECTORY_REDIS_URL``
is set, PostgreSQL ``LISTEN/NOTIFY`` (sent inside the committing transaction) when the database
is PostgreSQL, and in-process delivery otherwise (SQLite: one process). Every channel also
delivers to the committing process's own listeners at once, when the commit returns.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from connectory.settings import Settings
from connectory.store.models import Connection

logger = logging.getLogger("connectory.generations")

#: Called with ``(connection_id, generation)`` for each announced bump; must not block.
GenerationListener = Callable[[str, int], None]
#: Called when announcements may have been lost (the channel reconnected).
GapListener = Callable[[], None]

#: Keys in ``Session.info``.
_NOTIFIER = "connectory.generation_notifier"
_PENDING = "connectory.pending_generations"
_HOOKED = "connectory.generation_hooks"

#: Announcement keys of identity changes (:func:`announce_identity`), before the user id.
IDENTITY_PREFIX = "user:"

#: Announcement keys of a connection's stored health changing (:func:`announce_health`).
HEALTH_PREFIX = "health:"

#: Largest announcement payload (PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more).
MAX_PAYLOAD_BYTES = 7000


class GenerationNotifier:
    """Announces generation bumps; this base class delivers them within the process only.

    Subclasses carry them to other processes (:class:`~connectory.services.generation_channels.
    RedisNotifier`, :class:`~connectory.services.generation_channels.PostgresNotifier`).
    Listeners are plain callables run on the event loop: they must be quick and must not block.
    """

    #: How the notifier reaches other processes (for logs and docs).
    channel = "in-process"

    def __init__(self) -> None:
        self._listeners: list[tuple[GenerationListener, GapListener | None]] = []
        #: Tells this process's own messages apart when a channel echoes them back.
        self.sender = uuid.uuid4().hex
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Connect to the channel; listeners hear other processes from then on."""

    async def aclose(self) -> None:
        """Stop listening and finish sending what was committed."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def subscribe(
        self, on_change: GenerationListener, on_gap: GapListener | None = None
    ) -> Callable[[], None]:
        """Call *on_change* for each bump, *on_gap* after missed ones; returns an unsubscribe."""
        pair = (on_change, on_gap)
        self._listeners.append(pair)

        def unsubscribe() -> None:
            if pair in self._listeners:
                self._listeners.remove(pair)

        return unsubscribe

    async def publish(self, connection_id: str, generation: int) -> None:
        """Announce that *connection_id* is at *generation* (already committed)."""
        await self.publish_many({connection_id: generation})

    async def publish_many(self, generations: Mapping[str, int]) -> None:
        """Announce several committed bumps at once.

        A channel that cannot be reached is logged, not raised: an announcement is a hint.
        """
        self.deliver(generations)
        try:
            await self._send(generations)
        except Exception as error:
            self._not_sent(error)

    def deliver(self, generations: Mapping[str, int]) -> None:
        """Run this process's listeners for *generations* (a listener's error is logged)."""
        for on_change, _ in list(self._listeners):
            for connection_id, generation in generations.items():
                try:
                    on_change(connection_id, generation)
                except Exception:
                    logger.exception("a generation listener failed")

    def deliver_gap(self) -> None:
        """Tell listeners that announcements may have been missed."""
        for _, on_gap in list(self._listeners):
            if on_gap is not None:
                try:
                    on_gap()
                except Exception:
                    logger.exception("a generation gap listener failed")

    def receive(self, payload: str | bytes) -> None:
        """Deliver an announcement that arrived from the channel (own messages are skipped)."""
        try:
            message = orjson.loads(payload)
            if message.get("from") == self.sender:
                return
            changes = {str(cid): int(gen) for cid, gen in message["changes"]}
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
            logger.warning("ignored a malformed generation announcement")
            return
        self.deliver(changes)

    def encode(self, generations: Mapping[str, int]) -> list[str]:
        """Return *generations* as announcement payloads, each under :data:`MAX_PAYLOAD_BYTES`."""
        payloads: list[str] = []
        batch: list[tuple[str, int]] = []
        size = 0
        for item in generations.items():
            length = len(item[0]) + 24
            if batch and size + length > MAX_PAYLOAD_BYTES - 100:
                payloads.append(self._payload(batch))
                batch, size = [], 0
            batch.append(item)
            size += length
        if batch:
            payloads.append(self._payload(batch))
        return payloads

    def _payload(self, batch: list[tuple[str, int]]) -> str:
        return orjson.dumps({"from": self.sender, "changes": batch}).decode()

    async def _send(self, generations: Mapping[str, int]) -> None:
        """Carry *generations* to other processes (nothing to do within one process)."""

    def in_transaction(self, session: Session, generations: Mapping[str, int]) -> None:
        """Called just before a commit that bumped generations (the transaction is open)."""

    def committed(self, generations: Mapping[str, int]) -> None:
        """Called right after that commit: deliver here, and send to other processes."""
        self.deliver(generations)
        self._spawn(self._send(generations))

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            error = task.exception()
            if error is not None:
                self._not_sent(error)

    def _not_sent(self, error: BaseException) -> None:
        # Announcements are hints: a lost one delays a cache refresh, it loses no data.
        logger.warning(
            "could not announce a connection change over %s (%s); other processes "
            "will see it when they next read the connection",
            self.channel,
            type(error).__name__,
        )


def attach_notifier(
    sessions: async_sessionmaker[AsyncSession], notifier: GenerationNotifier
) -> None:
    """Make every session of *sessions* announce its committed bumps through *notifier*."""
    sessions.configure(info={_NOTIFIER: notifier})


async def bump_connection(session: AsyncSession, connection_id: str) -> int:
    """Bump a connection's generation in the session's transaction; return the new one.

    Pending changes of the session are flushed first (same transaction). The bump is announced
    when the transaction commits; 0 is returned (and nothing announced) for an unknown id.
    """
    generation = await session.scalar(
        update(Connection)
        .where(Connection.id == connection_id)
        .values(generation=Connection.generation + 1)
        .returning(Connection.generation)
    )
    if generation is None:
        return 0
    _remember(session, {connection_id: int(generation)})
    return int(generation)


async def bump_connector_connections(session: AsyncSession, connector_id: str) -> dict[str, int]:
    """Bump the generation of every live connection of a connector (its parameters changed).

    Connector-wide changes bump each connection rather than a second, connector-level
    generation, so a reader compares one number per connection whatever changed.
    """
    rows = await session.execute(
        update(Connection)
        .where(Connection.connector_id == connector_id, Connection.deleted_at.is_(None))
        .values(generation=Connection.generation + 1)
        .returning(Connection.id, Connection.generation)
        .execution_options(synchronize_session="fetch")
    )
    bumped = {str(cid): int(generation) for cid, generation in rows}
    if bumped:
        _remember(session, bumped)
    return bumped


async def announce_identity(session: AsyncSession, user_id: str) -> None:
    """Announce, when the session commits, that a user's identity changed.

    For changes that alter what a request authenticated as that user may do: a token
    revoked, the role or SDK access changed, the user deleted. Processes that keep principals
    between requests (:mod:`connectory.services.request_cache`) drop the user's. The
    announcement travels with the generations, under the key ``user:<id>`` (no connection id
    has that form; listeners of connections find no such connection and ignore it).
    """
    _remember(session, {IDENTITY_PREFIX + user_id: 0})


async def announce_health(session: AsyncSession, connection_id: str) -> None:
    """Announce, when the session commits, that a connection's stored health changed.

    Not a generation bump (clients built from the connection stay valid): processes that
    keep the connection between requests read it again, so their next call compares its
    outcome with the health now stored (key ``health:<id>``).
    """
    _remember(session, {HEALTH_PREFIX + connection_id: 0})


def _remember(session: AsyncSession, generations: Mapping[str, int]) -> None:
    info = session.info
    pending: dict[str, int] = info.setdefault(_PENDING, {})
    pending.update(generations)
    if not info.get(_HOOKED):
        info[_HOOKED] = True
        sync = session.sync_session
        event.listen(sync, "before_commit", _before_commit)
        event.listen(sync, "after_commit", _after_commit)
        event.listen(sync, "after_transaction_end", _after_transaction_end)


def _before_commit(session: Session) -> None:
    notifier = session.info.get(_NOTIFIER)
    pending = session.info.get(_PENDING)
    if isinstance(notifier, GenerationNotifier) and pending:
        notifier.in_transaction(session, dict(pending))


def _after_commit(session: Session) -> None:
    notifier = session.info.get(_NOTIFIER)
    pending = session.info.pop(_PENDING, None)
    if isinstance(notifier, GenerationNotifier) and pending:
        notifier.committed(pending)


def _after_transaction_end(session: Session, transaction: Any) -> None:
    # A rolled-back transaction's bumps never happened: forget them.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def create_notifier(settings: Settings, engine: AsyncEngine) -> GenerationNotifier:
    """Redis pub/sub with a Redis URL, else PostgreSQL LISTEN/NOTIFY, else in-process."""
    if settings.redis_url is not None:
        from connectory.services.generation_channels import RedisNotifier

        return RedisNotifier(settings.redis_url, prefix=settings.redis_prefix)
    if engine.dialect.name == "postgresql":
        from connectory.services.generation_channels import PostgresNotifier

        return PostgresNotifier(engine)
    return GenerationNotifier()
