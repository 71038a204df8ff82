"""Where V8 isolates live: in this process, or in worker processes (:mod:`connectory.js.worker`).

An isolate evaluates *entries*: short scripts that return JSON text (see ``prelude.js``). Each
entry runs on V8's own thread (mini-racer gives every isolate one), never on the event loop's,
and is cancelled at its time limit, which terminates the JavaScript. Four things can go wrong,
each a small exception of this module that :mod:`connectory.js.invocation` turns into a
:class:`~connectory.errors.ScriptError` naming the file and line:

* :class:`EvalThrew`: the code threw and nothing caught it (V8's message, with location);
* :class:`EvalTimeout`: the entry ran past its time (the isolate is then discarded: work the
  entry left queued, such as a promise callback that never returns, cannot be cancelled);
* :class:`EvalOutOfMemory`: the heap grew past the isolate's limit (discarded too);
* :class:`EngineGone`: the isolate, or the worker process holding it, is no more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from py_mini_racer import MiniRacer


class EvalThrew(Exception):
    """The entry threw; ``text`` is V8's message (``file:line: ...``, source line, stack)."""

    def __init__(self, text: str, *, parse: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.parse = parse


class EvalTimeout(Exception):
    """The entry did not finish in its time."""


class EvalOutOfMemory(Exception):
    """The isolate's heap passed its limit."""


class EngineGone(Exception):
    """The isolate (or its worker process) stopped; ``reason`` says why, when known."""

    def __init__(self, reason: str, *, memory: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.memory = memory


class Isolate(Protocol):
    """One V8 isolate: a heap, a global object, and a thread that runs its JavaScript."""

    @property
    def alive(self) -> bool:
        """False once closed or lost; a pool replaces it."""

    async def eval(self, code: str, timeout: float) -> str:
        """Evaluate one entry and return its JSON text.

        Raises:
            EvalThrew, EvalTimeout, EvalOutOfMemory, EngineGone: see the module docstring.
        """

    async def collect(self) -> None:
        """Run a full garbage collection (the entries' own scripts are garbage once run)."""

    async def close(self) -> None:
        """Stop its JavaScript and free it."""


class Host(Protocol):
    """Creates isolates for tenants; one host serves a whole :class:`~connectory.js.JsEngine`."""

    async def create_isolate(self, tenant: str, memory_bytes: int) -> Isolate:
        """A new isolate for *tenant* with a heap limit of *memory_bytes*.

        Raises:
            EngineGone: the engine cannot start (mini-racer missing, worker cannot start).
        """

    async def aclose(self) -> None:
        """Close every isolate (and worker process)."""


class InProcessHost:
    """Isolates in this process, bound to the running event loop.

    Fast (one thread hop per entry), but V8 aborts the whole process on some allocation
    patterns its own limits cannot stop (see docs/javascript.md); use the process host
    for code you do not trust.
    """

    def __init__(self) -> None:
        self._isolates: set[LocalIsolate] = set()

    async def create_isolate(self, tenant: str, memory_bytes: int) -> LocalIsolate:
        """Create an isolate (V8 starts in a worker thread so the event loop keeps running)."""
        try:
            from py_mini_racer import mini_racer

            from connectory.js.v8_flags import init_v8
        except ImportError as error:  # pragma: no cover - a declared dependency
            raise EngineGone(f"the JavaScript engine is not installed ({error})") from None
        init_v8()
        manager = mini_racer(asyncio.get_running_loop())
        racer = await asyncio.to_thread(manager.__enter__)
        racer.set_hard_memory_limit(memory_bytes)
        # Past half the limit V8 collects more eagerly, so garbage is less often counted
        # against the hard limit (which is checked on the heap after any collection).
        racer.set_soft_memory_limit(memory_bytes // 2)
        isolate = LocalIsolate(manager, racer, self._isolates.discard)
        self._isolates.add(isolate)
        return isolate

    async def aclose(self) -> None:
        """Close every isolate."""
        for isolate in list(self._isolates):
            await isolate.close()


class LocalIsolate:
    """An isolate of this process."""

    def __init__(
        self,
        manager: AbstractContextManager[MiniRacer],
        racer: MiniRacer,
        forget: Callable[[LocalIsolate], None],
    ) -> None:
        self._manager: AbstractContextManager[MiniRacer] | None = manager
        self._racer = racer
        self._forget = forget

    @property
    def alive(self) -> bool:
        """False once closed."""
        return self._manager is not None

    async def eval(self, code: str, timeout: float) -> str:
        """Evaluate one entry (see :class:`Isolate`)."""
        from py_mini_racer import JSEvalException, JSOOMException, JSParseException

        if self._manager is None:
            raise EngineGone("the JavaScript engine instance was closed")
        try:
            # asyncio.timeout cancels the entry's task at the deadline (mini-racer then
            # terminates the JavaScript), without the extra task wait_for would create.
            async with asyncio.timeout(max(timeout, 0.001)):
                result = await self._racer.eval_cancelable(code)
        except TimeoutError:
            raise EvalTimeout() from None
        except JSOOMException:
            raise EvalOutOfMemory() from None
        except JSParseException as error:
            raise EvalThrew(str(error), parse=True) from None
        except JSEvalException as error:
            if self._racer.was_hard_memory_limit_reached():
                raise EvalOutOfMemory() from None
            raise EvalThrew(str(error)) from None
        if self._racer.was_hard_memory_limit_reached():
            # The limit stopped a promise callback that ran after the entry returned.
            raise EvalOutOfMemory()
        if not isinstance(result, str):
            raise EvalThrew(f"<engine>:1: the entry returned {type(result).__name__}, not text")
        return result

    async def collect(self) -> None:
        """A full collection; mini-racer waits for V8's thread, so this runs off the loop."""
        if self._manager is not None:
            await asyncio.to_thread(self._racer.low_memory_notification)

    async def close(self) -> None:
        """Stop and free the isolate; V8 joins its thread, so this runs off the event loop."""
        manager, self._manager = self._manager, None
        if manager is None:
            return
        self._forget(self)
        await asyncio.to_thread(manager.__exit__, None, None, None)
