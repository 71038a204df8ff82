"""The procrastinate app of Connectory and its tasks.

Tasks, all idempotent, each looking at the database for due rows of its kind:

* ``connectory.tick``, periodic every second; procrastinate defers one run per second across
  every worker (a unique row per timestamp in PostgreSQL); it runs the reconciler;
* ``connectory.deliveries``, ``connectory.intake``, ``connectory.subscriptions``: claim due
  rows of their kind and work them off; each has a queueing lock, so at most one of each
  waits in the queue however often it is woken;
* ``connectory.oauth_refresh``, every five minutes (once across every worker, like the
  tick): refreshes idle connections' OAuth2 grants whose refresh token expires within
  ``CONNECTORY_OAUTH_REFRESH_HORIZON_HOURS`` (see services.oauth_refresh);
* ``connectory.housekeeping``, hourly: retention of events, finished engine jobs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException, ProcrastinateException
from procrastinate.testing import InMemoryConnector
from sqlalchemy import text
from sqlalchemy.engine import make_url

from connectory.services.events.context import WORK_KINDS, EventsContext
from connectory.services.events.deliveries import dispatch_due
from connectory.services.events.feed import purge_expired
from connectory.services.events.intake_handling import process_due_intake
from connectory.services.events.records import dialect_of
from connectory.services.events.subscriptions import run_due_subscriptions
from connectory.services.oauth_refresh import RefreshReport, refresh_expiring_grants
from connectory.settings import Settings
from connectory.worker.reconcile import wake_due

logger = logging.getLogger("connectory.worker")

#: Wakes of one kind closer together than this are merged into one at the window's end.
_DEBOUNCE_SECONDS = 0.05

#: When idle grants are looked at: every five minutes, so a refresh that failed (a provider
#: down) is tried again well within any horizon of an hour or more.
OAUTH_REFRESH_CRON = "*/5 * * * *"


def uses_postgres(settings: Settings) -> bool:
    """Whether the store (and so the task queue) is PostgreSQL."""
    return make_url(settings.database_url).get_backend_name() == "postgresql"


def _conninfo(settings: Settings) -> str:
    url = make_url(settings.database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def create_task_app(settings: Settings) -> procrastinate.App:
    """The procrastinate app: PostgreSQL's queue, or an in-memory one for the embedded default.

    The in-memory queue lives and dies with the process; nothing is lost with it, because
    the work itself is in the database and the reconciler asks for it again at start.
    """
    connector: procrastinate.BaseConnector
    if uses_postgres(settings):
        connector = procrastinate.PsycopgConnector(
            conninfo=_conninfo(settings), min_size=1, max_size=4
        )
    else:
        connector = InMemoryConnector()
    return procrastinate.App(connector=connector)


class Pump:
    """Runs one kind of work in this process: one run at a time, and one more pass if asked.

    A kick while a run is going does not start a second run: it asks the running one to look
    again when it is done (work stored after its last look is then not left for a tick).
    Errors are logged: the work stays in its table, the next wake or tick retries it.
    """

    def __init__(self, kind: str, work: Callable[[], Awaitable[object]]) -> None:
        self.kind = kind
        self._work = work
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def kick(self) -> asyncio.Task[None]:
        """Start a run, or ask the running one for another pass; the run's task."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())
        else:
            self._again = True
        return self._task

    async def _loop(self) -> None:
        while True:
            self._again = False
            try:
                await self._work()
            except Exception:
                logger.exception("%s work failed; the next wake or tick tries again", self.kind)
            if not self._again:
                return

    def cancel(self) -> None:
        """Stop a run (at shutdown)."""
        if self._task is not None:
            self._task.cancel()


class TaskEngine:
    """Connectory's tasks on a procrastinate app, and the :meth:`wake` that defers them.

    Args:
        app: The procrastinate app.
        context: What the tasks use.
        run_here: This process runs the tasks (a worker): its own wakes then start the work
            in process at once (a :class:`Pump` per kind) instead of a round trip through
            the task queue; tasks from the queue (ticks, other processes' wakes) run through
            the same pumps, so one run of each kind goes on at a time per process.
    """

    def __init__(
        self, app: procrastinate.App, context: EventsContext, run_here: bool = False
    ) -> None:
        self.app = app
        self.context = context
        self.run_here = run_here
        self._last_wake: dict[str, float] = {}
        #: A wake of each kind asked for inside the debounce window, sent at its end.
        self._trailing: dict[str, asyncio.TimerHandle] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self._pumps: dict[str, Pump] = {}
        self._register()

    def _register(self) -> None:
        context = self.context
        app = self.app
        runners: dict[str, Callable[[], Awaitable[object]]] = {
            "deliveries": lambda: dispatch_due(context),
            "intake": lambda: process_due_intake(context),
            "subscriptions": lambda: run_due_subscriptions(context),
        }
        for kind in WORK_KINDS:
            pump = self._pumps[kind] = Pump(kind, runners[kind])

            async def work(pump: Pump = pump) -> None:
                # Shielded: a cancelled job (shutdown) leaves the run to cancel_pending_wakes.
                await asyncio.shield(pump.kick())

            app.task(name=f"connectory.{kind}", queueing_lock=kind)(work)

        async def tick(timestamp: int) -> None:
            self._started("tick", timestamp)
            await wake_due(context)

        app.periodic(cron="* * * * * *", periodic_id="tick")(
            app.task(name="connectory.tick", queueing_lock="tick")(tick)
        )

        async def oauth_refresh(timestamp: int) -> None:
            self._started("oauth_refresh", timestamp)
            await self.refresh_grants()

        app.periodic(cron=OAUTH_REFRESH_CRON, periodic_id="oauth_refresh")(
            app.task(name="connectory.oauth_refresh", queueing_lock="oauth_refresh")(oauth_refresh)
        )

        async def housekeeping(timestamp: int) -> None:
            self._started("housekeeping", timestamp)
            await self.housekeeping()

        app.periodic(cron="17 * * * *", periodic_id="housekeeping")(
            app.task(name="connectory.housekeeping", queueing_lock="housekeeping")(housekeeping)
        )

    def _started(self, task: str, timestamp: int) -> None:
        # A periodic task's timestamp is the second it was scheduled for (procrastinate's).
        self.context.task_started(task, datetime.fromtimestamp(timestamp, UTC), self.context.now())

    async def wake(self, kind: str) -> None:
        """Ask for due work of *kind* to be looked at now (merged with a wake just before).

        A wake inside the debounce window is not dropped: one wake is sent when the window
        ends. Dropping it could leave work stored just after a running task's last look
        waiting for the next tick (a second); merging keeps the queue's load bounded.
        """
        if self.run_here and kind in self._pumps:
            self._pumps[kind].kick()  # this process runs it: no round trip through the queue
            return
        now = time.monotonic()
        since = now - self._last_wake.get(kind, -1.0)
        if since < _DEBOUNCE_SECONDS:
            if kind not in self._trailing:
                self._trailing[kind] = asyncio.get_running_loop().call_later(
                    _DEBOUNCE_SECONDS - since, self._wake_later, kind
                )
            return
        self._last_wake[kind] = now
        try:
            await self.app.configure_task(f"connectory.{kind}", queueing_lock=kind).defer_async()
        except AlreadyEnqueued:
            pass  # one is waiting already: it will see this work too
        except (ConnectorException, ProcrastinateException) as error:
            # The queue is away (database restarting, app not open yet): the tick finds the
            # work later; nothing is lost, it waits in its table.
            logger.warning("could not queue %s work: %s", kind, type(error).__name__)

    def _wake_later(self, kind: str) -> None:
        self._trailing.pop(kind, None)
        task = asyncio.get_running_loop().create_task(self.wake(kind))
        self._pending.add(task)  # held until done: the loop keeps weak references only
        task.add_done_callback(self._pending.discard)

    def cancel_pending_wakes(self) -> None:
        """Drop wakes waiting for their window (at shutdown; the reconciler redoes them)."""
        for handle in self._trailing.values():
            handle.cancel()
        self._trailing.clear()
        for task in self._pending:
            task.cancel()
        for pump in self._pumps.values():
            pump.cancel()

    async def refresh_grants(self) -> RefreshReport:
        """Refresh the OAuth2 grants of idle connections before their refresh tokens expire."""
        context = self.context
        horizon = timedelta(hours=context.settings.oauth_refresh_horizon_hours)
        report = await refresh_expiring_grants(context.runtimes, horizon=horizon, now=context.now())
        if report.refreshed or report.rejected or report.failed:
            logger.info(
                "background OAuth refresh: %d refreshed, %d need re-authorization, %d failed",
                len(report.refreshed),
                len(report.rejected),
                len(report.failed),
            )
        return report

    async def housekeeping(self) -> None:
        """Drop events past their retention and engine jobs finished over a day ago."""
        context = self.context
        async with context.sessions() as session:
            purged = await purge_expired(
                session, context.now(), context.settings.event_retention_days
            )
            if dialect_of(session) == "postgresql":
                await session.execute(
                    text(
                        "DELETE FROM procrastinate_jobs WHERE (status IN "
                        "('succeeded', 'failed', 'cancelled', 'aborted') OR (status = 'doing' "
                        "AND worker_id IS NULL)) AND id < (SELECT coalesce(max(id), 0) - 10000 "
                        "FROM procrastinate_jobs)"
                    )
                )
            await session.commit()
        if purged:
            logger.info(
                "removed %d events older than %s",
                purged,
                timedelta(days=context.settings.event_retention_days),
            )
