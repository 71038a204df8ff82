"""The server's side of background work: the events context and, unless told not to, a worker.

On the embedded default (SQLite) the worker runs here, in process, on procrastinate's
in-memory queue; on PostgreSQL it runs here too unless ``CONNECTORY_RUN_WORKER=false``
(scale-out: API processes only queue, ``connectory worker`` processes work).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectory.services.connection_runtime import ConnectionRuntimes
from connectory.services.events.context import EventsContext
from connectory.services.secret_store import SecretBox
from connectory.settings import Settings
from connectory.worker.engine import uses_postgres
from connectory.worker.runner import Worker, delivery_client, egress_policy

logger = logging.getLogger("connectory.api")


@asynccontextmanager
async def run_events(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    runtimes: ConnectionRuntimes,
) -> AsyncIterator[EventsContext]:
    """Set up the events context (and the in-process worker) for the app's lifetime."""
    http = delivery_client(settings)
    context = EventsContext(
        settings=settings,
        sessions=sessions,
        box=box,
        runtimes=runtimes,
        http=http,
        egress=egress_policy(settings),
        public_url=settings.public_url,
    )
    run_tasks = settings.run_worker is not False
    if not run_tasks and not uses_postgres(settings):
        logger.warning(
            "CONNECTORY_RUN_WORKER=false on SQLite: nothing will run background work "
            "(events, deliveries); the embedded default needs the worker in process"
        )
    worker = Worker(context, concurrency=settings.worker_concurrency, run_tasks=run_tasks)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop), name="connectory-worker")
    try:
        yield context
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=10)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await context.intake.aclose()
        # Route look-ups still in flight would run against the disposed engine.
        await context.intake_routes.aclose()
        await http.close()
