"""The JavaScript engine of a process: hosts, pooled instances, platform caps."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from connectory.http.redaction import Redactor
from connectory.js.bundle import CodeBundle
from connectory.js.host import Host, InProcessHost
from connectory.js.invocation import Bridge, RunLimits, RunOutcome, RunRequest, invoke
from connectory.js.pool import InstancePool
from connectory.spec.code import JavaScriptSpec

Isolation = Literal["inprocess", "process"]

_MIB = 1024 * 1024


@dataclass(frozen=True)
class JsCaps:
    """Platform caps on what a connector's ``javascript`` section may ask for.

    Attributes:
        max_time_limit: Seconds of JavaScript per invocation.
        max_memory_limit: MiB of heap per engine instance.
        max_api_calls: apiClient requests per invocation.
    """

    max_time_limit: float = 30.0
    max_memory_limit: int = 512
    max_api_calls: int = 10_000


class JsEngine:
    """Runs connector JavaScript in pooled V8 instances, one pool per engine.

    Args:
        isolation: ``process`` runs V8 in worker processes (one per tenant at a time), so code
            that makes V8 abort (some allocation bombs do, whatever the heap limit) takes down
            a worker, never this process; ``inprocess`` runs V8 here, faster per call, for
            code you trust (the CLI running your own connector).
        max_instances: Instances kept warm across tenants and connector versions.
        max_workers: Worker processes (``process`` isolation).
        caps: Platform caps on the connectors' own limits.

    An engine belongs to the event loop it is first used on; close it with :meth:`aclose`.
    """

    def __init__(
        self,
        *,
        isolation: Isolation = "inprocess",
        max_instances: int = 64,
        max_workers: int = 8,
        caps: JsCaps | None = None,
    ) -> None:
        self.isolation = isolation
        self.caps = caps or JsCaps()
        self._max_workers = max_workers
        self._host: Host | None = None
        self._max_instances = max_instances
        self._pool: InstancePool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def instances(self) -> int:
        """Engine instances alive now."""
        return self._pool.size if self._pool is not None else 0

    def limits_for(self, settings: JavaScriptSpec) -> RunLimits:
        """The limits of one invocation: the connector's settings under the platform caps."""
        return RunLimits(
            time=min(settings.time_limit, self.caps.max_time_limit),
            api_calls=min(settings.max_api_calls, self.caps.max_api_calls),
        )

    async def run(
        self,
        bundle: CodeBundle,
        request: RunRequest,
        *,
        settings: JavaScriptSpec,
        tenant: str,
        redactor: Redactor,
        bridge: Bridge | None = None,
    ) -> RunOutcome:
        """Run one hook or method of *bundle* for *tenant*.

        Raises:
            ScriptError: the code threw, is missing, or returned something unusable.
            ScriptLimitError: it hit a limit (time, memory, output, apiClient calls).
        """
        pool = self._pool_for_loop()
        limits = self.limits_for(settings)
        memory = min(settings.memory_limit, self.caps.max_memory_limit) * _MIB
        instance = await pool.acquire(tenant, bundle, memory, limits.time)
        try:
            return await invoke(instance, bundle, request, limits, redactor, bridge)
        finally:
            await pool.release(instance)

    async def aclose(self) -> None:
        """Close every instance and worker process."""
        if self._pool is not None:
            await self._pool.aclose()
        if self._host is not None:
            await self._host.aclose()
        self._pool = None
        self._host = None

    def _pool_for_loop(self) -> InstancePool:
        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop is not loop and self._pool is not None:
            raise RuntimeError(
                "a JsEngine serves the event loop it was first used on; create one per loop"
            )
        self._loop = loop
        if self._pool is None:
            self._host = self._create_host()
            self._pool = InstancePool(self._host, self._max_instances)
        return self._pool

    def _create_host(self) -> Host:
        if self.isolation == "process":
            from connectory.js.worker import ProcessHost

            return ProcessHost(max_workers=self._max_workers)
        return InProcessHost()
