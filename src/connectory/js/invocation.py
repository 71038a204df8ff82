"""One invocation of connector code: a hook or a method, from its call to its result.

The code runs in entries (see ``prelude.js``): ``begin/call/finish`` calls the function; a
function that returns a plain value is done in that one entry (no promise round trip). A
promise makes the invocation wait: ``drain`` hands over the outbox (apiClient requests,
timers); Python performs them, concurrently, and ``settle`` + ``drain`` deliver each result,
until the promise settles. Time is counted only inside entries and timers, so awaiting
the API does not use the JavaScript time limit (each request has its own deadline).

A promise that can no longer settle (nothing in the outbox, nothing in flight) is an error
at once: "never-resolving" is detected, not waited out.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import orjson

from connectory.errors import ConnectoryError, LogLine, ScriptError, ScriptLimitError
from connectory.http.redaction import Redactor
from connectory.js.bundle import CodeBundle
from connectory.js.host import EngineGone, EvalOutOfMemory, EvalThrew, EvalTimeout
from connectory.js.module import LINE_OFFSET
from connectory.js.pool import Instance
from connectory.js.stacks import Located, headline_of, locate_uncaught, map_stack
from connectory.spec.code import CodeRefSpec

Kind = Literal["pre", "post", "method"]

#: Characters of a result's JSON (larger results are an error, not a slow copy).
DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024
#: ctx.log lines and characters per invocation.
DEFAULT_MAX_LOG_LINES = 200
DEFAULT_MAX_LOG_CHARS = 64 * 1024
#: Timers (setTimeout) per invocation, and apiClient requests in flight at once.
DEFAULT_MAX_TIMERS = 100
DEFAULT_MAX_CONCURRENT_CALLS = 8


class Bridge(Protocol):
    """What a method's ``ctx.apiClient`` reaches: the runtime (auth, hooks, resilience)."""

    async def http(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Perform one apiClient request; return ``{status, headers, body}``.

        Raises:
            ConnectoryError: the request was refused or failed (the code sees an ApiError).
        """


@dataclass(frozen=True)
class RunLimits:
    """The limits of one invocation."""

    time: float = 5.0
    api_calls: int = 1000
    output: int = DEFAULT_MAX_OUTPUT
    log_lines: int = DEFAULT_MAX_LOG_LINES
    log_chars: int = DEFAULT_MAX_LOG_CHARS
    timers: int = DEFAULT_MAX_TIMERS
    concurrent_calls: int = DEFAULT_MAX_CONCURRENT_CALLS


@dataclass
class RunRequest:
    """What to run, and the ctx it gets.

    Attributes:
        ref: The function.
        kind: ``pre`` (pre-request hook), ``post`` (post-response hook) or ``method``.
        ctx: The ctx fields as JSON data (request, parameters, credentials, ...).
        secrets: Values whose derivations (ctx.utils outputs) become secrets too.
        now: The wall time the code sees (``Date.now()``, ``new Date()``, ``ctx.utils.now()``),
            in Unix milliseconds, or None for the real time. Replay sets the recording's clock.
    """

    ref: CodeRefSpec
    kind: Kind
    ctx: dict[str, Any]
    secrets: list[str] = field(default_factory=list)
    now: float | None = None


@dataclass
class RunOutcome:
    """A finished invocation: its value, what it logged, and how many API calls it made."""

    value: Any
    logs: list[LogLine]
    api_calls: int = 0
    #: Values the code marked public (ctx.markPublic): never registered as secrets.
    public: frozenset[str] = frozenset()


async def invoke(
    instance: Instance,
    bundle: CodeBundle,
    request: RunRequest,
    limits: RunLimits,
    redactor: Redactor,
    bridge: Bridge | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> RunOutcome:
    """Run *request* on *instance*; see the module docstring.

    Raises:
        ScriptError: the code threw, is missing, or returned something unusable.
        ScriptLimitError: the code hit a limit (time, memory, output, apiClient calls).
    """
    _check_runnable(instance, bundle, request.ref)
    return await _Run(instance, bundle, request, limits, redactor, bridge, clock).run()


def _check_runnable(instance: Instance, bundle: CodeBundle, ref: CodeRefSpec) -> None:
    module = bundle.modules.get(ref.file)
    if module is None:
        raise ScriptError(
            f"{ref.file}: the file does not exist; create it or fix the reference", file=ref.file
        )
    if module.problems:
        problem = module.problems[0]
        raise ScriptError(
            f"{problem.location()}: {problem.message}",
            file=ref.file,
            line=problem.line,
            column=problem.column,
        )
    if ref.file in instance.load_errors:
        raise instance.load_errors[ref.file]
    if ref.export not in module.exports:
        names = ", ".join(module.exports) or "none"
        written = (
            "export default function (ctx) { ... }"
            if ref.export == "default"
            else f"export function {ref.export}(ctx) {{ ... }}"
        )
        raise ScriptError(
            f"{ref.file}:1:1: the file has no export '{ref.export}' (its exports: {names}); "
            f"write {written}",
            file=ref.file,
            line=1,
            column=1,
        )


class _Run:
    def __init__(
        self,
        instance: Instance,
        bundle: CodeBundle,
        request: RunRequest,
        limits: RunLimits,
        redactor: Redactor,
        bridge: Bridge | None,
        clock: Callable[[], float],
    ) -> None:
        self.instance = instance
        self.bundle = bundle
        self.request = request
        self.ref = request.ref
        self.limits = limits
        self.redactor = redactor
        self.bridge = bridge
        self.clock = clock
        self.id = instance.new_run_id()
        self.spent = 0.0
        self.tasks: dict[int, asyncio.Task[tuple[bool, str]]] = {}
        self.calls: asyncio.Semaphore | None = None  # made by the first apiClient request
        self.finished = False

    async def run(self) -> RunOutcome:
        try:
            drain = f"__cty.drain({self.id})"
            async with self.instance.lock:
                if self.request.kind == "method":
                    # Methods are usually async: ask for the outbox in the same breath.
                    reply, drained = await self.entries(self.begin_code(), drain)
                    reply = drained if reply == '{"s":"wait"}' else reply
                else:
                    reply = await self.entry(self.begin_code(), collect_on_throw=True)
                    if reply == '{"s":"wait"}':
                        reply = await self.entry(drain)
            state = self.parse(reply)
            while state["s"] == "wait":
                state = await self.wait(state)
            self.finished = True
            return self.outcome(state)
        finally:
            for task in self.tasks.values():
                task.cancel()
            if not self.finished and not self.instance.broken:
                await self.forget()

    def begin_code(self) -> str:
        limits = self.limits
        payload = {
            "kind": self.request.kind,
            "file": self.ref.file,
            "export": self.ref.export,
            "label": self.ref.label,
            "ctx": self.request.ctx,
            "secrets": [s for s in self.request.secrets if isinstance(s, str) and len(s) >= 4],
            "seed": f"{self.instance.seed}:{self.id}",
            "now": self.request.now,
            "limits": {
                "apiCalls": limits.api_calls,
                "output": limits.output,
                "logLines": limits.log_lines,
                "logBytes": limits.log_chars,
                "timers": limits.timers,
            },
        }
        text = orjson.dumps(payload).decode()
        literal = orjson.dumps(text).decode()
        run = self.id
        return f"__cty.begin({run},{literal});__cty.finish({run},__cty.call({run}))"

    async def entry(self, code: str, *, collect_on_throw: bool = False) -> str:
        """Evaluate one entry under the remaining time; the caller holds the lock."""
        self.instance.fed += len(code)
        remaining = self.remaining()
        started = self.clock()
        try:
            return await self.mapped(self.instance.isolate.eval(code, remaining), collect_on_throw)
        finally:
            self.spent += self.clock() - started

    async def entries(self, first: str, second: str) -> tuple[str, str]:
        """Two entries posted at once: V8 runs *second* after *first* and its microtasks.

        One round trip instead of two; *second* is a drain, which must see the state the
        microtasks of *first* left. The caller holds the lock.
        """
        self.instance.fed += len(first) + len(second)
        remaining = self.remaining()
        started = self.clock()
        isolate = self.instance.isolate
        later = asyncio.ensure_future(isolate.eval(second, remaining))
        try:
            try:
                reply = await self.mapped(isolate.eval(first, remaining), True)
            except BaseException:
                later.cancel()
                with contextlib.suppress(BaseException):
                    await later
                raise
            return reply, await self.mapped(later, False)
        finally:
            self.spent += self.clock() - started

    def remaining(self) -> float:
        remaining = self.limits.time - self.spent
        if remaining <= 0:
            raise self.limit_error("time")
        return remaining

    async def mapped(self, evaluation: Awaitable[str], collect_on_throw: bool) -> str:
        """Await an entry, turning the host's exceptions into script errors."""
        try:
            return await evaluation
        except EvalTimeout:
            self.instance.broken = True
            raise self.limit_error("time") from None
        except EvalOutOfMemory:
            self.instance.broken = True
            raise self.limit_error("memory") from None
        except EngineGone as gone:
            self.instance.broken = True
            if gone.memory:
                raise self.limit_error("memory") from None
            raise ScriptError(
                f"{self.where()}: the JavaScript engine stopped ({gone.reason})", **self.place()
            ) from None
        except EvalThrew as threw:
            logs = self.log_lines(await self.collect()) if collect_on_throw else []
            self.finished = True
            raise self.thrown(locate_uncaught(threw.text, self.bundle.modules), logs) from None

    async def collect(self) -> list[Any]:
        try:
            state = orjson.loads(await self.instance.isolate.eval(f"__cty.collect({self.id})", 1.0))
        except (EvalThrew, EvalTimeout, EvalOutOfMemory, EngineGone, orjson.JSONDecodeError):
            return []
        self.register(state.get("taint", []), [])
        logs: list[Any] = state.get("logs", [])
        return logs

    async def forget(self) -> None:
        try:
            async with self.instance.lock:
                await self.instance.isolate.eval(f"__cty.cancel({self.id})", 1.0)
        except (EvalThrew, EvalTimeout, EvalOutOfMemory, EngineGone):
            self.instance.broken = True

    async def wait(self, state: dict[str, Any]) -> dict[str, Any]:
        for item in state.get("out", []):
            self.start(item)
        if not self.tasks:
            raise ScriptError(
                f"{self.where()}: the promise {self.ref.label} returned never settles: nothing "
                "it awaits can finish (a Promise whose resolve is never called?)",
                **self.place(),
            )
        done, _ = await asyncio.wait(self.tasks.values(), return_when=asyncio.FIRST_COMPLETED)
        settled = [(item, task) for item, task in self.tasks.items() if task in done]
        parts = []
        for item, task in settled:
            del self.tasks[item]
            ok, text = task.result()
            parts.append(
                f"__cty.settle({self.id},{item},{'true' if ok else 'false'},"
                f"{orjson.dumps(text).decode()});"
            )
        async with self.instance.lock:
            _, reply = await self.entries("".join(parts) + "'ok'", f"__cty.drain({self.id})")
        return self.parse(reply)

    def parse(self, reply: str) -> dict[str, Any]:
        """The prelude's JSON, checked: code that rewired the engine's builtins gets an error."""
        try:
            state = orjson.loads(reply)
        except orjson.JSONDecodeError:
            state = None
        if not isinstance(state, dict) or state.get("s") not in ("ok", "err", "wait", "gone"):
            self.finished = True
            self.instance.broken = True  # its builtins are not what the prelude expects
            raise ScriptError(
                f"{self.where()}: the engine could not read the code's result: the code "
                "replaced JSON, Object.prototype or Array.prototype in a way that breaks "
                "the sandbox's bookkeeping; leave the built-in objects alone",
                **self.place(),
            )
        if not isinstance(state.get("out", []), list) or not isinstance(
            state.get("logs", []), list
        ):
            raise ScriptError(f"{self.where()}: the engine could not read the code's result")
        return state

    def start(self, item: dict[str, Any]) -> None:
        number = int(item["id"])
        if item.get("k") == "timer":
            seconds = max(float(item.get("ms", 0)), 0.0) / 1000
            self.spent += seconds  # waiting on a timer is the code's time
            if self.spent > self.limits.time:
                raise self.limit_error("time")
            self.tasks[number] = asyncio.create_task(_after(seconds))
        elif item.get("k") == "http" and self.bridge is not None:
            self.tasks[number] = asyncio.create_task(self.http(item.get("r", {})))
        else:
            raise ScriptError(f"{self.where()}: ctx.apiClient is only available to methods")

    async def http(self, request: Mapping[str, Any]) -> tuple[bool, str]:
        assert self.bridge is not None
        if self.calls is None:
            self.calls = asyncio.Semaphore(self.limits.concurrent_calls)
        async with self.calls:
            try:
                response = await self.bridge.http(request)
            except ScriptError:
                raise
            except ConnectoryError as error:
                failure = {
                    "message": self.redactor.redact(str(error))[:2000],
                    "status": getattr(error, "status_code", None),
                }
                return False, orjson.dumps(failure).decode()
        return True, orjson.dumps(response).decode()

    def outcome(self, state: dict[str, Any]) -> RunOutcome:
        self.register(state.get("taint", []), state.get("pub", []))
        logs = self.log_lines(state.get("logs", []))
        if state.get("s") == "ok":
            public = frozenset(v for v in state.get("pub", []) if isinstance(v, str))
            return RunOutcome(state.get("v"), logs, int(state.get("calls", 0)), public)
        if state.get("s") == "gone":
            raise ScriptError(f"{self.where()}: the run was lost (the engine restarted)")
        raise self.error_of(state.get("e", {}), logs)

    def register(self, taint: list[Any], public: list[Any]) -> None:
        shown = {value for value in public if isinstance(value, str)}
        self.redactor.add(*(v for v in taint if isinstance(v, str) and v not in shown))

    def log_lines(self, raw: list[Any]) -> list[LogLine]:
        lines = []
        for entry in raw:
            if not isinstance(entry, list) or len(entry) != 3:
                continue
            level, text, where = entry
            lines.append(LogLine(str(level), self.redactor.redact(str(text)), _map_location(where)))
        return lines

    def error_of(self, error: dict[str, Any], logs: list[LogLine]) -> ScriptError:
        name = str(error.get("name", "Error"))
        message = self.redactor.redact(str(error.get("message", "")))
        if name == "OutputLimit":
            return self.limit_error("output", logs=logs)
        if error.get("nonError"):
            return ScriptError(
                f"{self.where()}: {self.ref.label} {error.get('how', 'threw')} with {message}, "
                "not an Error; throw new Error('...') so the message has a place and a stack",
                logs=logs,
                **self.place(),
            )
        stack = self.redactor.redact(str(error.get("stack", "")))
        frames, first = map_stack(stack, self.bundle.modules)
        headline = headline_of(stack) or f"{name}: {message}"
        located = Located(headline, stack=frames)
        if first is not None:
            located.file, located.line, located.column = first
        if error.get("how") == "limit":
            return self.limit_error("api_calls", located=located, logs=logs)
        failed = self.thrown(located, logs)
        status = error.get("status")
        if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
            failed.upstream_status = status
        return failed

    def thrown(self, located: Located, logs: list[LogLine]) -> ScriptError:
        headline = self.redactor.redact(located.headline)
        stack = [self.redactor.redact(frame) for frame in located.stack]
        if located.file is None:
            return ScriptError(
                f"{self.where()}: {headline}", stack=stack, logs=logs, **self.place()
            )
        if not located.stack and ":" not in headline.split("\n", 1)[0]:
            headline = (
                f"threw {headline}, not an Error; throw new Error('...') so the message has a stack"
            )
        where = f"{located.file}:{located.line}:{located.column or 1}"
        return ScriptError(
            f"{where}: {headline}",
            file=located.file,
            line=located.line,
            column=located.column,
            stack=stack,
            logs=logs,
        )

    def limit_error(
        self, limit: str, *, located: Located | None = None, logs: list[LogLine] | None = None
    ) -> ScriptLimitError:
        self.finished = True
        where = self.where()
        place = self.place()
        if located is not None and located.file is not None:
            where = f"{located.file}:{located.line}:{located.column or 1}"
            place = {"file": located.file, "line": located.line, "column": located.column}
        messages = {
            "time": f"ran longer than the JavaScript time limit of {self.limits.time:g} s (an "
            "endless loop or a long wait?); the limit is javascript.time_limit",
            "memory": "used more memory than the JavaScript memory limit (an allocation that "
            "keeps growing?); the limit is javascript.memory_limit",
            "output": f"returned more than {self.limits.output:,} characters of JSON; return "
            "less (page through the data)",
            "api_calls": f"called ctx.apiClient more than {self.limits.api_calls:,} times in one "
            "invocation; the limit is javascript.max_api_calls",
        }
        return ScriptLimitError(
            f"{where}: {messages.get(limit, limit)}",
            limit=limit,
            stack=located.stack if located else None,
            logs=logs,
            **place,
        )

    def where(self) -> str:
        line, column = self.bundle.export_line(self.ref)
        return f"{self.ref.file}:{line or 1}:{column or 1} ({self.ref.label})"

    def place(self) -> dict[str, Any]:
        line, column = self.bundle.export_line(self.ref)
        return {"file": self.ref.file, "line": line, "column": column}


async def _after(seconds: float) -> tuple[bool, str]:
    await asyncio.sleep(seconds)
    return True, "null"


def _map_location(where: Any) -> str | None:
    if not isinstance(where, str):
        return None
    file, _, rest = where.partition(":")
    line, _, column = rest.partition(":")
    if not line.isdigit():
        return where
    return f"{file}:{max(int(line) - LINE_OFFSET, 1)}:{column}"
