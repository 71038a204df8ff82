"""What background work needs: the database, secrets, connection clients, an HTTP client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectory.http.egress import EgressPolicy
from connectory.services.connection_runtime import ConnectionRuntimes
from connectory.services.events.intake_batch import IntakeBatcher
from connectory.services.events.intake_routes import RouteCache
from connectory.services.secret_store import SecretBox
from connectory.settings import Settings
from connectory.spec.connector import ConnectorSpec
from connectory.store.models import ConnectorVersion, utcnow

if TYPE_CHECKING:
    from connectory.observability.metrics import Metrics

#: Work kinds the worker runs: each is a task that looks for due rows of its kind.
WORK_KINDS: tuple[str, ...] = ("deliveries", "intake", "subscriptions")

#: Asks the worker to look for due work of one kind now (instead of at its next tick).
Wake = Callable[[str], Awaitable[None]]


async def no_wake(kind: str) -> None:
    """A :data:`Wake` that does nothing: the next tick finds the work."""


@dataclass
class EventsContext:
    """Shared by the tasks of one worker (and the API's event endpoints).

    Attributes:
        settings: Server settings (delivery schedule, public URL, retention).
        sessions: Database sessions.
        box: Opens stored secrets (endpoint secrets, credentials).
        runtimes: Connector clients of connections (subscribe, poll, refresh).
        http: The session deliveries are sent with, through the egress guard.
        egress: The egress policy (checked again for IP-literal endpoint URLs).
        wake: Asks for due work to be looked at now.
        now: The clock (injected in tests).
        public_url: Base of intake URLs; None when it is not configured.
    """

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    box: SecretBox
    runtimes: ConnectionRuntimes
    http: aiohttp.ClientSession
    egress: EgressPolicy
    wake: Wake = no_wake
    now: Callable[[], datetime] = field(default=utcnow)
    public_url: str | None = None
    _specs: dict[str, ConnectorSpec] = field(default_factory=dict)
    #: Intake routes by URL token (see services.events.intake).
    intake_routes: RouteCache[Any] = field(default_factory=RouteCache)
    intake: IntakeBatcher = field(init=False)

    def __post_init__(self) -> None:
        # Read at call time: ``wake`` may be set after construction.
        self.intake = IntakeBatcher(self.sessions, lambda: self.wake("intake"))

    @property
    def metrics(self) -> Metrics | None:
        """The process's Prometheus metrics (those its connections' calls count in); None: off.

        The API's ``/metrics`` renders this same object; a ``connectory worker`` process has
        its own, summed with the API's under ``PROMETHEUS_MULTIPROC_DIR``.
        """
        telemetry = self.runtimes.telemetry
        return telemetry.metrics if telemetry is not None else None

    def task_started(self, task: str, due: datetime | None, started: datetime) -> None:
        """Report how late work of kind *task* started: *due* (its next-run time) to *started*.

        Work taken over after an expired claim counts from its first due time: it was that
        late when it finally ran.
        """
        metrics = self.metrics
        if metrics is None or due is None:
            return
        if due.tzinfo is None:  # SQLite gives naive UTC datetimes back
            due = due.replace(tzinfo=UTC)
        metrics.observe_task_latency(task, (started - due).total_seconds())

    async def spec_by_version_id(
        self, session: AsyncSession, version_id: str
    ) -> ConnectorSpec | None:
        """The spec of a version by id: from the cache, else read (and cached) once."""
        spec = self._specs.get(version_id)
        if spec is not None:
            return spec
        version = await session.get(ConnectorVersion, version_id)
        return None if version is None else self.spec_of(version)

    def spec_of(self, version: ConnectorVersion) -> ConnectorSpec:
        """The spec of a stored version, parsed once (published versions never change)."""
        from connectory.services.connections import spec_of  # with the version's code files

        if version.is_draft:
            return spec_of(version)
        spec = self._specs.get(version.id)
        if spec is None:
            if len(self._specs) >= 256:
                self._specs.pop(next(iter(self._specs)))
            spec = self._specs[version.id] = spec_of(version)
        return spec
