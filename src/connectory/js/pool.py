"""Engine instances, reused per (tenant, code bundle, memory limit), with a cap.

An instance is one isolate with the prelude and a bundle's modules loaded: code is compiled
once per instance, not per call. Instances are never shared between tenants, so globals one
enterprise's code sets are invisible to another's, and an instance that hits a hard limit is
replaced without touching any other. Several invocations may use one instance at once: each
entry into JavaScript holds the instance's lock, and awaiting an apiClient call does not.

Beyond ``max_instances`` the least recently used idle instances are closed; while every
instance is busy the pool grows past the cap rather than make a call wait, and trims back as
calls finish.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from importlib import resources

from connectory.errors import ScriptError, ScriptLimitError
from connectory.js.bundle import CodeBundle
from connectory.js.host import EngineGone, EvalOutOfMemory, EvalThrew, EvalTimeout, Host, Isolate
from connectory.js.stacks import locate_parse_error, locate_uncaught

logger = logging.getLogger("connectory.js")

#: Seconds the prelude may take to load (it defines functions; it takes milliseconds).
_PRELUDE_TIME = 10.0
_PRELUDE_NAME = "connectory:prelude"

InstanceKey = tuple[str, str, int]
#: A full collection once the entries' scripts add up to this share of the heap limit.
_GARBAGE_SHARE = 8


def prelude_script() -> str:
    """The prelude's source, named for stack traces."""
    text = resources.files("connectory.js").joinpath("prelude.js").read_text(encoding="utf-8")
    return f"{text}\n//# sourceURL={_PRELUDE_NAME}\n"


@dataclass
class Instance:
    """One isolate with a bundle loaded.

    Attributes:
        key: (tenant, bundle key, memory bytes).
        isolate: The isolate.
        lock: Held for each entry (or pair of entries) into its JavaScript.
        load_errors: Modules whose top level failed, by file: running them raises this.
        broken: Set when an entry timed out or ran out of memory; the pool closes it.
        users: Invocations using it now.
    """

    key: InstanceKey
    isolate: Isolate
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    load_errors: dict[str, ScriptError] = field(default_factory=dict)
    broken: bool = False
    users: int = 0
    next_run: int = 0
    #: Random per instance; with the run number it seeds ctx.utils.uuid() of each run.
    seed: str = field(default_factory=lambda: os.urandom(16).hex())
    #: Characters of entry scripts evaluated since the last full collection.
    fed: int = 0

    def new_run_id(self) -> int:
        """A run number unique within this instance."""
        self.next_run += 1
        return self.next_run


class InstancePool:
    """Instances by key; see the module docstring."""

    def __init__(self, host: Host, max_instances: int = 64) -> None:
        self._host = host
        self._max = max_instances
        self._instances: OrderedDict[InstanceKey, Instance] = OrderedDict()
        self._creating: dict[InstanceKey, asyncio.Lock] = {}

    @property
    def size(self) -> int:
        """Instances alive now."""
        return len(self._instances)

    async def acquire(
        self, tenant: str, bundle: CodeBundle, memory_bytes: int, load_time: float
    ) -> Instance:
        """Use the instance of (*tenant*, *bundle*), creating and loading it if needed.

        Give it back with :meth:`release`.

        Raises:
            ScriptLimitError: the engine could not start or load within its limits.
        """
        key: InstanceKey = (tenant, bundle.key, memory_bytes)
        instance = self._instances.get(key)
        if instance is None or instance.broken or not instance.isolate.alive:
            instance = await self._get(key, bundle, load_time)
        else:
            self._instances.move_to_end(key)  # the warm path: no await, no allocation
        instance.users += 1
        return instance

    async def release(self, instance: Instance) -> None:
        """Give back an instance from :meth:`acquire`; a broken one is replaced."""
        instance.users -= 1
        if instance.broken:
            await self._discard(instance)
        elif instance.fed > instance.key[2] // _GARBAGE_SHARE:
            # Every entry is a script of its own, garbage once run, and V8 counts garbage
            # against the heap limit until a full collection: collect before it can add up
            # to a limit the code itself never reached.
            instance.fed = 0
            await instance.isolate.collect()
        if len(self._instances) > self._max:
            await self._trim()

    async def aclose(self) -> None:
        """Close every instance."""
        while self._instances:
            _, instance = self._instances.popitem()
            await instance.isolate.close()

    async def _get(self, key: InstanceKey, bundle: CodeBundle, load_time: float) -> Instance:
        instance = self._instances.get(key)
        if instance is not None and instance.isolate.alive and not instance.broken:
            self._instances.move_to_end(key)
            return instance
        lock = self._creating.setdefault(key, asyncio.Lock())
        async with lock:
            instance = self._instances.get(key)
            if instance is not None and instance.isolate.alive and not instance.broken:
                return instance
            if instance is not None:
                await self._discard(instance)
            instance = await self._create(key, bundle, load_time)
            self._instances[key] = instance
        self._creating.pop(key, None)
        return instance

    async def _create(self, key: InstanceKey, bundle: CodeBundle, load_time: float) -> Instance:
        started = time.monotonic()
        try:
            isolate = await self._host.create_isolate(key[0], key[2])
        except EngineGone as gone:
            raise ScriptLimitError(
                f"the JavaScript engine could not start: {gone.reason}", limit="engine"
            ) from None
        instance = Instance(key, isolate)
        try:
            await isolate.eval(prelude_script(), _PRELUDE_TIME)
            for module in bundle.modules.values():
                if module.problems:
                    continue  # reported when the module is used, and by validation
                await self._load(instance, module.file, module.script(), load_time)
        except BaseException:
            await isolate.close()
            raise
        logger.debug(
            "JavaScript instance for %s loaded %d module(s) in %.1f ms",
            key[0],
            len(bundle.modules),
            (time.monotonic() - started) * 1000,
        )
        return instance

    async def _load(self, instance: Instance, file: str, script: str, load_time: float) -> None:
        files = [file]
        try:
            await instance.isolate.eval(script, load_time)
        except EvalThrew as threw:
            located = (
                locate_parse_error(threw.text, file)
                if threw.parse
                else locate_uncaught(threw.text, files)
            )
            where = f"{file}:{located.line or 1}:{located.column or 1}"
            instance.load_errors[file] = ScriptError(
                f"{where}: {located.headline} (while loading the file)",
                file=file,
                line=located.line,
                column=located.column,
                stack=located.stack,
            )
        except (EvalTimeout, EvalOutOfMemory, EngineGone) as error:
            limit = "memory" if isinstance(error, EvalOutOfMemory) else "time"
            raise ScriptLimitError(
                f"{file}:1:1: the file's top-level code hit the {limit} limit while loading; "
                "do the work inside the exported function",
                limit=limit,
                file=file,
                line=1,
                column=1,
            ) from None

    async def _discard(self, instance: Instance) -> None:
        if self._instances.get(instance.key) is instance:
            del self._instances[instance.key]
        await instance.isolate.close()

    async def _trim(self) -> None:
        while len(self._instances) > self._max:
            idle = next((i for i in self._instances.values() if i.users == 0), None)
            if idle is None:
                return
            await self._discard(idle)
