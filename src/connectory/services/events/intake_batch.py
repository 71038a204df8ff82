"""Storing received webhooks in batches: one transaction for every request that arrived meanwhile.

Each request waits for the commit of the batch holding its row (so a 2xx still means "durably
stored"); under load a batch holds many rows, so the cost of a commit is shared. A repeated
message id (same route) is skipped by the insert itself (``ON CONFLICT DO NOTHING``) and
reported as a duplicate. The worker is woken once per committed batch, not once per request
(a wake is a round trip to the task queue), by a task of its own: the next batch does not wait
for the task queue's round trip.

A batch holds many tenants' webhooks, so one row must not fail the others. When the database
fails a batch:

- transiently (down, connection lost, pool exhausted, out of resources: see
  :func:`is_transient`), each of its requests fails with
  :class:`~connectory.errors.StorageUnavailable` (a 503 with ``Retry-After``: the sender
  retries). The webhook *may* have been stored (a connection lost during COMMIT may have
  committed); the retry is recognised as a repeat by its message id.
- otherwise (the database refuses a row: a value too long, a constraint), its rows are
  written again one per transaction, so only the refused row fails, with
  :class:`~connectory.errors.WebhookUnstorable` (not "retry": a retry would be refused too),
  and the others are stored and answered as usual.

The driver's error never reaches the sender (its message may quote the statement).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import (
    DBAPIError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import (
    TimeoutError as PoolTimeout,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectory.errors import StorageUnavailable, WebhookUnstorable
from connectory.store.event_models import IntakeRequest

logger = logging.getLogger("connectory.events.intake")

#: Rows written by one transaction at most.
MAX_BATCH = 500

#: SQLSTATE classes of PostgreSQL errors a retry can get past: connection exception,
#: transaction rollback (serialization, deadlock), insufficient resources (disk full, out of
#: memory, too many connections), operator intervention (shutdown), system (I/O) error.
_TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
#: SQLite's primary result codes of a database that may work again: busy, locked, out of
#: memory, I/O error, disk full, cannot open, protocol (a lock race).
_TRANSIENT_SQLITE_CODES = frozenset({5, 6, 7, 10, 13, 14, 15})

_UNAVAILABLE = (
    "the webhook may not have been stored; send it again (a repeat is recognised by its message id)"
)
_UNSTORABLE = "the database refuses to store this webhook (a repeat would be refused too)"

_Pending = tuple[dict[str, Any], asyncio.Future[bool]]
#: What one row's request is answered: stored (True), a repeat (False), or an error.
_Outcome = bool | BaseException


def is_transient(error: BaseException) -> bool:
    """Whether *error* is the database being unavailable, not it refusing the data.

    Transient: the network or the connection (``OSError``, DBAPI ``OperationalError`` /
    ``InterfaceError``, a disconnect), the pool's time-out, and PostgreSQL's SQLSTATE classes
    of unavailability (asyncpg's errors reach SQLAlchemy as plain ``DBAPIError`` with a
    ``sqlstate``); on SQLite, by its result code (busy, locked, I/O, full...: a schema error
    is an ``OperationalError`` there too, and is not transient). Anything else (integrity,
    data, programming errors) would fail again.
    """
    if isinstance(error, (OSError, PoolTimeout, InterfaceError)):
        return True
    code = getattr(getattr(error, "orig", None), "sqlite_errorcode", None)
    if isinstance(error, DBAPIError) and isinstance(code, int):
        # SQLite raises OperationalError for its schema errors too ("no such column": our
        # bug, not an unavailable database); its primary result code tells them apart.
        return error.connection_invalidated or code & 0xFF in _TRANSIENT_SQLITE_CODES
    if isinstance(error, OperationalError):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        return isinstance(sqlstate, str) and sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES
    return False


class IntakeBatcher:
    """Writes received webhooks to ``intake_requests`` in batched transactions.

    Args:
        sessions: Database sessions.
        stored: Called after a batch that stored at least one new row is committed and
            answered (wakes the worker); its failures are logged, never raised.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        stored: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._sessions = sessions
        self._stored = stored
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._wakes: set[asyncio.Task[None]] = set()

    async def store(self, values: dict[str, Any]) -> bool:
        """Store one row; True once committed, False when its message id was stored before.

        Raises:
            StorageUnavailable: the database was unavailable; the row may not have been
                stored (the caller answers 503, and the sender retries).
            WebhookUnstorable: the database refuses this row (other rows of its batch are
                stored).
        """
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="connectory-intake-batcher")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self._queue.put((values, future))
        return await future

    async def aclose(self) -> None:
        """Stop writing (pending requests fail)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(StorageUnavailable("the server is stopping"))
        for wake in list(self._wakes):
            wake.cancel()
        await asyncio.gather(*self._wakes, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                outcomes = await self._store_batch([values for values, _ in batch])
            except asyncio.CancelledError:
                # Stopped mid-write (shutdown): its requests are answered, not left waiting.
                for _, future in batch:
                    if not future.done():
                        future.set_exception(StorageUnavailable(_UNAVAILABLE))
                raise
            if any(outcome is True for outcome in outcomes) and self._stored is not None:
                # Started before the answers are released, so it runs up to its first wait
                # at once; the next batch does not wait for the task queue's round trip.
                wake = asyncio.create_task(self._wake(self._stored))
                self._wakes.add(wake)  # held until done: the loop keeps weak references only
                wake.add_done_callback(self._wakes.discard)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    async def _store_batch(self, rows: list[dict[str, Any]]) -> list[_Outcome]:
        """Each row's outcome: the batch in one transaction, else row by row if refused."""
        try:
            stored = await self._write(rows)
        except Exception as error:
            outcome = _failure(error, len(rows))
            if not isinstance(outcome, WebhookUnstorable) or len(rows) == 1:
                return [_own(outcome) for _ in rows]
        else:
            return [row["id"] in stored for row in rows]
        # Refused: one bad row fails the statement. Written again one per transaction, so
        # only the refused row fails (rare: message ids are checked before they are queued).
        outcomes: list[_Outcome] = []
        for index, row in enumerate(rows):
            try:
                outcomes.append(row["id"] in await self._write([row]))
            except Exception as error:
                outcome = _failure(error, 1)
                if isinstance(outcome, StorageUnavailable):
                    # Unavailable now: the rest would wait for it too; their senders retry.
                    rest = len(rows) - index
                    outcomes.extend(StorageUnavailable(_UNAVAILABLE) for _ in range(rest))
                    return outcomes
                outcomes.append(outcome)
        return outcomes

    @staticmethod
    async def _wake(stored: Callable[[], Awaitable[None]]) -> None:
        try:
            await stored()
        except Exception as error:  # the tick finds the rows anyway
            logger.warning("waking the worker after an intake batch failed: %s", error)

    async def _write(self, rows: list[dict[str, Any]]) -> set[str]:
        async with self._sessions() as session:
            dialect = session.get_bind().dialect.name
            # One statement, its rows as parameters: SQLAlchemy sends them as multi-row
            # INSERTs ("insertmanyvalues") from one compiled form. Rows given in ``.values()``
            # were compiled again for every batch: about 8 ms of the event loop per batch of
            # 20, five times the cost of this.
            statement = _INSERTS[dialect]
            stored = set((await session.execute(statement, rows)).scalars())
            await session.commit()
            return stored


def _failure(error: Exception, rows: int) -> BaseException:
    """What a write of *rows* rows failing with *error* is answered (and logged)."""
    # The driver's message may quote the statement: the log gets the type only.
    logger.warning("storing %d received webhooks failed: %s", rows, type(error).__name__)
    if is_transient(error):
        return StorageUnavailable(_UNAVAILABLE)
    if isinstance(error, SQLAlchemyError):
        return WebhookUnstorable(_UNSTORABLE)
    return error  # a bug: each request's 500 logs the traceback


def _own(error: BaseException) -> BaseException:
    """One error instance per request (a shared one would be raised, and mutated, by many)."""
    if isinstance(error, StorageUnavailable):
        return StorageUnavailable(_UNAVAILABLE)
    if isinstance(error, WebhookUnstorable):
        return WebhookUnstorable(_UNSTORABLE)
    return error


def _insert(insert: Any) -> Any:
    # The table, not the mapped class: a plain Core executemany, without the ORM's bulk
    # insert bookkeeping (the rows are complete dicts already).
    return (
        insert(IntakeRequest.__table__)
        .on_conflict_do_nothing(
            index_elements=["route", "message_id"],
            index_where=text("message_id IS NOT NULL"),
        )
        .returning(IntakeRequest.id)
    )


#: The insert of a batch by dialect: a repeated message id (same route) is skipped.
_INSERTS = {"postgresql": _insert(postgres_insert), "sqlite": _insert(sqlite_insert)}
