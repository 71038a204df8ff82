"""A fault-injecting HTTP upstream on loopback, for resilience tests.

It is a deliberately small raw-asyncio HTTP/1.1 server (keep-alive, ``Content-Length`` bodies)
running in a background thread, because the faults it must produce are below what an ASGI
server lets an app do: hanging without a word, closing without an answer, resetting the TCP
connection. Each path plays a script of faults, then a default; every request is recorded with
its arrival time on :func:`time.monotonic`, so tests can count attempts and check spacing.

Example::

    with FaultyUpstream() as upstream:
        upstream.script("/flaky", *burst(503, 2))          # two 503s, then 200s
        upstream.script("/slow", Hang())                   # the first request never gets an answer
        upstream.script("/busy", too_many_requests("1"))   # 429 with Retry-After: 1
        upstream.script("/rst", Reset())                   # TCP reset after reading the request
        ...
        assert upstream.count("/flaky") == 3
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType

_MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class Reply:
    """Answer with *status*, *headers* and *body*, after *delay* seconds."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b'{"ok": true}'
    delay: float = 0.0


@dataclass(frozen=True)
class Hang:
    """Read the request and never answer; the connection stays open until the client leaves."""


@dataclass(frozen=True)
class Reset:
    """Read the request, then reset the TCP connection (RST, no answer)."""


@dataclass(frozen=True)
class Close:
    """Read the request, then close the connection cleanly without answering."""


Fault = Reply | Hang | Reset | Close


def burst(status: int, count: int, *headers: tuple[str, str]) -> list[Fault]:
    """Return *count* replies with *status* (e.g. a burst of 503s) to pass to ``script``."""
    return [Reply(status, tuple(headers)) for _ in range(count)]


def too_many_requests(retry_after: str | None = None, *headers: tuple[str, str]) -> Reply:
    """Return a 429 reply, with ``Retry-After: retry_after`` when given."""
    extra = (("Retry-After", retry_after),) if retry_after is not None else ()
    return Reply(429, extra + tuple(headers), b'{"error": "slow down"}')


@dataclass(frozen=True)
class Arrival:
    """One request as the upstream saw it."""

    method: str
    path: str
    at: float
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class FaultyUpstream:
    """The fault-injecting server; use it as a context manager (``with FaultyUpstream() as u``).

    Args:
        host: Interface to bind (loopback).
        port: Port to bind; 0 picks a free one.
        default: What paths without a script (or past the end of theirs) answer.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, default: Fault | None = None):
        self.host = host
        self.port = port
        self._default: Fault = default or Reply()
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[Fault]] = {}
        self._then: dict[str, Fault] = {}
        self._arrivals: list[Arrival] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None

    # -- scripting and records (thread-safe) ---------------------------------------------------

    def script(self, path: str, *faults: Fault, then: Fault | None = None) -> None:
        """Make *path* play *faults* in order, then answer *then* (default: the server default)."""
        with self._lock:
            self._scripts[path] = deque(faults)
            if then is not None:
                self._then[path] = then
            else:
                self._then.pop(path, None)

    def arrivals(self, path: str | None = None) -> list[Arrival]:
        """Return the requests received so far (on *path* only, when given), in arrival order."""
        with self._lock:
            return [a for a in self._arrivals if path is None or a.path == path]

    def times(self, path: str | None = None) -> list[float]:
        """Return the arrival times (:func:`time.monotonic`) of the requests on *path*."""
        return [a.at for a in self.arrivals(path)]

    def count(self, path: str | None = None) -> int:
        """Return how many requests arrived (on *path*, when given)."""
        return len(self.arrivals(path))

    def clear(self) -> None:
        """Forget every script and arrival."""
        with self._lock:
            self._scripts.clear()
            self._then.clear()
            self._arrivals.clear()

    def url(self, path: str = "") -> str:
        """Return the absolute URL of *path* on this server."""
        return f"http://{self.host}:{self.port}{path}"

    def _next_fault(self, arrival: Arrival) -> Fault:
        with self._lock:
            self._arrivals.append(arrival)
            queue = self._scripts.get(arrival.path)
            if queue:
                return queue.popleft()
            return self._then.get(arrival.path, self._default)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Start serving in a background thread; returns once the socket accepts."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(sock, ready), name=f"faulty-{self.port}", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError(f"the faulty upstream did not start within {timeout} s")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving; open connections (hanging ones included) are closed."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> FaultyUpstream:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, sock: socket.socket, ready: threading.Event) -> None:
        asyncio.run(self._serve(sock, ready))

    async def _serve(self, sock: socket.socket, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        handlers: set[asyncio.Task[None]] = set()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            handlers.add(task)
            try:
                await self._connection(reader, writer)
            except asyncio.CancelledError:
                # Only stop() cancels handlers; end quietly (asyncio logs cancelled handlers).
                pass
            finally:
                handlers.discard(task)

        server = await asyncio.start_server(on_connect, sock=sock, limit=_MAX_HEAD, backlog=512)
        ready.set()
        await self._stop.wait()
        server.close()
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        with contextlib.suppress(Exception):
            await server.wait_closed()

    # -- one connection --------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                arrival = await self._read_request(reader)
                if arrival is None:
                    return
                fault = self._next_fault(arrival)
                if isinstance(fault, Hang):
                    # Hold the connection until the client gives up (EOF) or the server stops.
                    while await reader.read(4096):
                        pass
                    return
                if isinstance(fault, Reset):
                    sock = writer.get_extra_info("socket")
                    if sock is not None:
                        # SO_LINGER with a zero timeout turns close() into a TCP RST.
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                    writer.transport.abort()
                    return
                if isinstance(fault, Close):
                    return
                if fault.delay > 0:
                    await asyncio.sleep(fault.delay)
                writer.write(_render(fault))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        finally:
            if not writer.transport.is_closing():
                writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_request(self, reader: asyncio.StreamReader) -> Arrival | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None  # the client closed the connection between requests
        at = time.monotonic()
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        method, target = parts[0], parts[1] if len(parts) > 1 else "/"
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or "0")
        body = await reader.readexactly(length) if length else b""
        return Arrival(method, target.split("?", 1)[0], at, headers, body)


def _render(reply: Reply) -> bytes:
    try:
        phrase = HTTPStatus(reply.status).phrase
    except ValueError:
        phrase = "Unknown"
    lines = [f"HTTP/1.1 {reply.status} {phrase}"]
    names = {name.lower() for name, _ in reply.headers}
    if "content-type" not in names:
        lines.append("Content-Type: application/json")
    lines += [f"{name}: {value}" for name, value in reply.headers]
    lines.append(f"Content-Length: {len(reply.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + reply.body
