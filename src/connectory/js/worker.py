"""V8 in worker processes: a crash in tenant code costs a worker, never the server.

V8 stops most runaway code itself (time limits terminate it, the heap limit terminates it at
the next garbage collection), but some allocations abort the whole process from inside one
builtin, whatever the limits: ``'x'.repeat(2**28).split('')`` ends in "Fatal JavaScript invalid
size error", ``new Array(2**28).fill(0)`` in "invalid table size". In a worker process that
is a worker lost: the calls it was running fail with a clear error, the next call starts a
new worker.

Each worker serves one tenant at a time (``max_workers`` tenants at once; the least recently
used idle worker gives way), so one enterprise's crash never touches another's instances.
The worker is ``python -m connectory.js.worker``: it reads length-prefixed JSON requests on
stdin (``create``, ``eval``, ``close``), runs them on an :class:`InProcessHost`, and answers
on stdout. It inherits no secrets: its environment holds only what Python needs to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import struct
import sys
from collections import OrderedDict
from typing import Any

import orjson

from connectory.js.host import (
    EngineGone,
    EvalOutOfMemory,
    EvalThrew,
    EvalTimeout,
    InProcessHost,
    LocalIsolate,
)

#: Seconds a worker may take beyond an entry's own time limit before it is killed.
GRACE = 5.0
#: Seconds a worker may take to start and create an isolate.
START_TIMEOUT = 60.0
_HEADER = struct.Struct(">I")
_MAX_FRAME = 256 * 1024 * 1024
_ENVIRONMENT = ("PATH", "PYTHONPATH", "PYTHONHOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
_FATAL_MEMORY = ("out of memory", "invalid size", "invalid table size", "invalid array length")


class ProcessHost:
    """Isolates in worker processes, one tenant per worker (see the module docstring)."""

    def __init__(self, max_workers: int = 8) -> None:
        self._max = max(1, max_workers)
        self._workers: OrderedDict[str, _Worker] = OrderedDict()

    async def create_isolate(self, tenant: str, memory_bytes: int) -> RemoteIsolate:
        """An isolate in *tenant*'s worker (started if needed)."""
        worker = await self._worker_for(tenant)
        number = await worker.request({"op": "create", "mem": memory_bytes}, START_TIMEOUT)
        return RemoteIsolate(worker, int(number))

    async def aclose(self) -> None:
        """Stop every worker."""
        while self._workers:
            _, worker = self._workers.popitem()
            await worker.stop()

    @property
    def workers(self) -> int:
        """Workers running now."""
        return sum(1 for worker in self._workers.values() if worker.alive)

    async def _worker_for(self, tenant: str) -> _Worker:
        worker = self._workers.get(tenant)
        if worker is not None and worker.alive:
            self._workers.move_to_end(tenant)
            return worker
        self._workers.pop(tenant, None)
        while len(self._workers) >= self._max:
            idle = next((t for t, w in self._workers.items() if not w.pending), None)
            if idle is None:
                break  # every worker is busy: grow for now, trim later
            await self._workers.pop(idle).stop()
        worker = await _Worker.start()
        self._workers[tenant] = worker
        return worker


class RemoteIsolate:
    """An isolate in a worker process."""

    def __init__(self, worker: _Worker, number: int) -> None:
        self._worker = worker
        self._number = number
        self._closed = False

    @property
    def alive(self) -> bool:
        """False once closed, or when its worker is gone."""
        return not self._closed and self._worker.alive

    async def eval(self, code: str, timeout: float) -> str:
        """Evaluate one entry in the worker (see :class:`~connectory.js.host.Isolate`)."""
        if not self.alive:
            raise EngineGone("the JavaScript engine instance was closed")
        message = {"op": "eval", "iso": self._number, "code": code, "timeout": timeout}
        reply = await self._worker.request(message, timeout + GRACE)
        return str(reply)

    async def collect(self) -> None:
        """A full garbage collection in the worker."""
        if self.alive:
            with contextlib.suppress(EngineGone):
                await self._worker.request({"op": "gc", "iso": self._number}, START_TIMEOUT)

    async def close(self) -> None:
        """Free the isolate in its worker."""
        if self._closed:
            return
        self._closed = True
        if self._worker.alive:
            with contextlib.suppress(EngineGone):
                await self._worker.request({"op": "close", "iso": self._number}, GRACE)


class _Worker:
    """One worker process and the requests waiting for its answers."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.alive = True
        self._next = 0
        self._stderr = b""
        assert process.stdout is not None and process.stderr is not None
        self._reader = asyncio.create_task(self._read(process.stdout))
        self._errors = asyncio.create_task(self._keep_stderr(process.stderr))

    @classmethod
    async def start(cls) -> _Worker:
        environment = {name: os.environ[name] for name in _ENVIRONMENT if name in os.environ}
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "connectory.js.worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=environment,
            )
        except OSError as error:
            raise EngineGone(f"the JavaScript worker could not start ({error})") from None
        return cls(process)

    async def request(self, message: dict[str, Any], timeout: float) -> Any:
        if not self.alive:
            raise EngineGone(self.reason())
        self._next += 1
        number = self._next
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[number] = future
        payload = orjson.dumps({**message, "id": number})
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(_HEADER.pack(len(payload)) + payload)
            await self.process.stdin.drain()
            async with asyncio.timeout(timeout):
                return await future
        except (ConnectionError, BrokenPipeError):
            raise EngineGone(self.reason()) from None
        except TimeoutError:
            self.kill()
            raise EngineGone("the JavaScript worker did not stop at the time limit") from None
        finally:
            self.pending.pop(number, None)

    def reason(self) -> str:
        text = self._stderr.decode("utf-8", "replace")
        if any(marker in text for marker in _FATAL_MEMORY):
            return "V8 ran out of memory in one step and stopped its worker process"
        return "the JavaScript worker process stopped"

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()

    async def stop(self) -> None:
        self.alive = False
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), GRACE)
        except TimeoutError:
            self.kill()
            await self.process.wait()
        self._reader.cancel()
        self._errors.cancel()

    async def _read(self, stream: asyncio.StreamReader) -> None:
        try:
            while True:
                header = await stream.readexactly(_HEADER.size)
                (size,) = _HEADER.unpack(header)
                reply = orjson.loads(await stream.readexactly(size))
                future = self.pending.get(int(reply["id"]))
                if future is None or future.done():
                    continue
                if "ok" in reply:
                    future.set_result(reply["ok"])
                else:
                    future.set_exception(_error_of(reply))
        except (asyncio.IncompleteReadError, ConnectionError, orjson.JSONDecodeError):
            pass
        finally:
            await self._lost()

    async def _lost(self) -> None:
        self.alive = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), GRACE)
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self._errors), 1.0)
        reason = self.reason()
        memory = reason.startswith("V8 ran out of memory")
        for future in self.pending.values():
            if not future.done():
                future.set_exception(EngineGone(reason, memory=memory))

    async def _keep_stderr(self, stream: asyncio.StreamReader) -> None:
        # The tail is enough to tell a V8 abort from an ordinary exit.
        while chunk := await stream.read(4096):
            self._stderr = (self._stderr + chunk)[-8192:]


def _error_of(reply: dict[str, Any]) -> Exception:
    kind = reply.get("err")
    text = str(reply.get("text", ""))
    if kind == "threw":
        return EvalThrew(text)
    if kind == "parse":
        return EvalThrew(text, parse=True)
    if kind == "timeout":
        return EvalTimeout()
    if kind == "oom":
        return EvalOutOfMemory()
    return EngineGone(text or "the JavaScript instance is gone")


# ---- the worker's side --------------------------------------------------------------------


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_MAX_FRAME)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, sys.stdout.buffer
    )
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    host = InProcessHost()
    isolates: dict[int, LocalIsolate] = {}
    numbers = itertools.count(1)
    tasks: set[asyncio.Task[None]] = set()

    async def answer(number: int, body: dict[str, Any]) -> None:
        payload = orjson.dumps({"id": number, **body})
        writer.write(_HEADER.pack(len(payload)) + payload)
        await writer.drain()

    async def handle(message: dict[str, Any]) -> None:
        number = int(message["id"])
        try:
            if message["op"] == "create":
                isolate = await host.create_isolate("", int(message["mem"]))
                key = next(numbers)
                isolates[key] = isolate
                await answer(number, {"ok": key})
            elif message["op"] == "eval":
                found = isolates.get(int(message["iso"]))
                if found is None:
                    raise EngineGone("no such isolate")
                text = await found.eval(str(message["code"]), float(message["timeout"]))
                await answer(number, {"ok": text})
            elif message["op"] == "gc":
                found = isolates.get(int(message["iso"]))
                if found is not None:
                    await found.collect()
                await answer(number, {"ok": None})
            elif message["op"] == "close":
                closing = isolates.pop(int(message["iso"]), None)
                if closing is not None:
                    await closing.close()
                await answer(number, {"ok": None})
        except EvalThrew as threw:
            await answer(number, {"err": "parse" if threw.parse else "threw", "text": threw.text})
        except EvalTimeout:
            await answer(number, {"err": "timeout"})
        except EvalOutOfMemory:
            await answer(number, {"err": "oom"})
        except EngineGone as gone:
            await answer(number, {"err": "gone", "text": gone.reason})

    while True:
        try:
            header = await reader.readexactly(_HEADER.size)
            (size,) = _HEADER.unpack(header)
            message = orjson.loads(await reader.readexactly(size))
        except asyncio.IncompleteReadError:
            break  # the parent closed our stdin: stop
        task = asyncio.create_task(handle(message))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await host.aclose()


def main() -> None:
    """Serve the parent until it closes stdin."""
    asyncio.run(_serve())


if __name__ == "__main__":
    main()
