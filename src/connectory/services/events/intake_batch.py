"""Storing received webhooks in batches: one transaction for every request that arrived meanwhile.

Each request waits for the commit of the batch holding its row (so a 2xx still means "durably
stored"); under load a batch holds many rows, so the cost of a commit is shared. A repeated
message id (same route) is skipped by the insert itself (``ON CONFLICT DO NOTHING``) and
reported as a duplicate. The worker is woken once per committed batch, after its requests
are answered, not once per request (a wake is a round trip to the task queue).
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
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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

    async def store(self, values: dict[str, Any]) -> bool:
        """Store one row; True once committed, False when its message id was stored before.

        Raises:
            Exception: the batch's transaction failed (the caller answers an error, and the
                sender retries).
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
                future.set_exception(RuntimeError("the server is stopping"))

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                stored = await self._write([values for values, _ in batch])
            except Exception as error:
                logger.warning("storing %d received webhooks failed: %s", len(batch), error)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for values, future in batch:
                if not future.done():
                    future.set_result(values["id"] in stored)
            if stored and self._stored is not None:
                try:
                    await self._stored()
                except Exception as error:  # the tick finds the rows anyway
                    logger.warning("waking the worker after an intake batch failed: %s", error)

    async def _write(self, rows: list[dict[str, Any]]) -> set[str]:
        async with self._sessions() as session:
            dialect = session.get_bind().dialect.name
            insert = postgres_insert if dialect == "postgresql" else sqlite_insert
            statement = (
                insert(IntakeRequest)
                .values(rows)
                .on_conflict_do_nothing(
                    index_elements=["route", "message_id"],
                    index_where=text("message_id IS NOT NULL"),
                )
                .returning(IntakeRequest.id)
            )
            stored = set((await session.execute(statement)).scalars())
            await session.commit()
            return stored
