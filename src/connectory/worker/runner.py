"""Running the worker: in its own process (``connectory worker``) or inside the server.

procrastinate's worker stops when its database connection breaks (measured in
bench/engine_spike: a PostgreSQL restart ends ``run_worker_async``); :meth:`Worker.run`
reopens the app and starts again, with a growing pause, until it is stopped. Nothing is lost
meanwhile: the work is in the database, and the reconciler asks for it again on each start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from procrastinate.exceptions import ConnectorException
from psycopg import OperationalError

from connectory.http.egress import EgressPolicy
from connectory.http.egress_aiohttp import guarded_session
from connectory.services.events.context import WORK_KINDS, EventsContext
from connectory.services.generations import attach_notifier, create_notifier
from connectory.services.secret_store import SecretBox
from connectory.services.server_runtime import create_runtimes, load_key_ring
from connectory.services.telemetry import create_telemetry
from connectory.settings import Settings
from connectory.store import create_engine, create_sessionmaker, migrate
from connectory.worker.engine import TaskEngine, create_task_app
from connectory.worker.reconcile import wake_due

logger = logging.getLogger("connectory.worker")

#: Longest pause between two attempts to reach the database again.
_MAX_PAUSE = 10.0


def egress_policy(settings: Settings) -> EgressPolicy:
    """The server's egress policy (``CONNECTORY_EGRESS_ALLOW``)."""
    return EgressPolicy.allowing(settings.egress_allow_list)


def delivery_client(settings: Settings) -> aiohttp.ClientSession:
    """The session deliveries go out with: egress-guarded, no proxies (call in a running loop)."""
    return guarded_session(egress_policy(settings))


@asynccontextmanager
async def build_context(
    settings: Settings, public_url: str | None = None
) -> AsyncIterator[EventsContext]:
    """Open what background work needs (database, keys, clients) and close it after."""
    box = SecretBox(lambda: load_key_ring(settings))
    engine = create_engine(settings.database_url)
    await migrate(engine, box.ring)
    sessions = create_sessionmaker(engine)
    # A connection changed through an API process retires this worker's client of it too.
    notifier = create_notifier(settings, engine)
    attach_notifier(sessions, notifier)
    await notifier.start()
    # Polls, handled webhooks and deliveries are entries of their connections' call logs.
    telemetry = create_telemetry(settings, sessions)
    telemetry.start()
    runtimes = create_runtimes(settings, sessions, box, notifier, telemetry.telemetry)
    http = delivery_client(settings)
    try:
        yield EventsContext(
            settings=settings,
            sessions=sessions,
            box=box,
            runtimes=runtimes,
            http=http,
            egress=egress_policy(settings),
            public_url=public_url or settings.public_url,
        )
    finally:
        await http.close()
        await runtimes.aclose()
        await telemetry.aclose()  # the last entries, before the database goes
        await notifier.aclose()
        await engine.dispose()


class Worker:
    """Runs Connectory's tasks on a procrastinate app until stopped.

    Args:
        context: What the tasks use; its ``wake`` is pointed at this worker's engine.
        concurrency: Tasks run at once.
        run_tasks: False for an API process that only queues work for other workers.
    """

    def __init__(self, context: EventsContext, concurrency: int = 8, run_tasks: bool = True):
        self.context = context
        self.engine = TaskEngine(create_task_app(context.settings), context, run_here=run_tasks)
        context.wake = self.engine.wake
        self.concurrency = concurrency
        self.run_tasks = run_tasks
        self.restarts = 0

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Work until *stop* is set (or the task is cancelled), reconnecting as needed."""
        try:
            await self._run(stop or asyncio.Event())
        finally:
            self.engine.cancel_pending_wakes()

    async def _run(self, stop: asyncio.Event) -> None:
        pause = 0.5
        while not stop.is_set():
            try:
                async with self.engine.app.open_async():
                    await self._reconcile()
                    pause = 0.5
                    if not self.run_tasks:
                        await stop.wait()
                        return
                    worker = asyncio.create_task(
                        self.engine.app.run_worker_async(
                            concurrency=self.concurrency,
                            wait=True,
                            install_signal_handlers=False,
                            fetch_job_polling_interval=1.0,
                            name="connectory",
                        )
                    )
                    stopping = asyncio.create_task(stop.wait())
                    done, _ = await asyncio.wait(
                        {worker, stopping}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if stopping in done:
                        worker.cancel()
                        await asyncio.gather(worker, return_exceptions=True)
                        return
                    stopping.cancel()
                    worker.result()  # raises what ended it, if anything did
                    # Ended without being asked to: procrastinate stops its worker when the
                    # LISTEN connection breaks (a database restart). Start it again.
                    self.restarts += 1
                    logger.warning("the task worker stopped on its own; starting it again")
            except (ConnectorException, OperationalError, OSError) as error:
                self.restarts += 1
                logger.warning(
                    "the task queue's database is unreachable (%s); trying again in %.1f s",
                    type(error).__name__,
                    pause,
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause)
            pause = min(pause * 2, _MAX_PAUSE)

    async def _reconcile(self) -> None:
        # On every (re)start: whatever is due now is asked for, whatever the queue lost.
        try:
            await wake_due(self.context)
        except Exception as error:
            logger.warning("the reconciler could not run: %s", error)
            for kind in WORK_KINDS:
                await self.context.wake(kind)
