"""Storing received webhooks in batches: one transaction for every request that arrived meanwhile.

Each request waits for the commit of the batch holding its row (so a 2xx still means "durably
stored"); under load a batch holds many rows, so the cost of a commit is shared. A repeated
message id (same route) is skipped by the insert itself (``ON CONFLICT DO NOTHING``) and
reported as a duplicate. The worker is woken once per committed batch, not once per request
(a wake is a round trip to the task queue), by a task of its own: the next batch does not wait
for the task queue's round trip.

When the database fails a batch, nothing of it is stored (one transaction) and each of its
requests fails with :class:`~connectory.errors.StorageUnavailable` (a 503: the sender
retries), not with the driver's error.
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
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectory.errors import StorageUnavailable
from connectory.store.event_models import IntakeRequest

logger = logging.getLogger("connectory.events.intake")

#: Rows written by one transaction at most.
MAX_BATCH = 500

_Pending = tuple[dict[str, Any], asyncio.Future[bool]]


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
            StorageUnavailable: the batch's transaction failed; nothing of it was stored (the
                caller answers 503, and the sender retries).
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
                stored = await self._write([values for values, _ in batch])
            except (SQLAlchemyError, OSError) as error:
                # The driver's message may quote the statement: the log gets the type only.
                logger.warning(
                    "storing %d received webhooks failed: %s", len(batch), type(error).__name__
                )
                for _, future in batch:
                    if not future.done():
                        future.set_exception(
                            StorageUnavailable(
                                "the webhook could not be stored (nothing was); send it again"
                            )
                        )
                continue
            except Exception as error:  # a bug: each request's 500 logs the traceback
                logger.warning(
                    "storing %d received webhooks failed: %s", len(batch), type(error).__name__
                )
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            if stored and self._stored is not None:
                # Started before the answers are released, so it runs up to its first wait
                # at once; the next batch does not wait for the task queue's round trip.
                wake = asyncio.create_task(self._wake(self._stored))
                self._wakes.add(wake)  # held until done: the loop keeps weak references only
                wake.add_done_callback(self._wakes.discard)
            for values, future in batch:
                if not future.done():
                    future.set_result(values["id"] in stored)

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
