"""Run an ASGI app (the test API, or any other) on a free loopback port in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

import uvicorn
from starlette.types import ASGIApp


def _wait_until_accepting(
    host: str, port: int, server: uvicorn.Server, thread: threading.Thread, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError(f"the server on {host}:{port} stopped while starting; see its log")
        if server.started:
            # "started" is set once uvicorn listens; one real connection proves it accepts.
            try:
                with socket.create_connection((host, port), timeout=1):
                    return
            except OSError:
                pass
        time.sleep(0.01)
    raise TimeoutError(f"the server on {host}:{port} did not start within {timeout} s")


@contextmanager
def serve(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    startup_timeout: float = 10.0,
    shutdown_timeout: float = 5.0,
    log_level: str = "warning",
    access_log: bool = False,
    lifespan: Literal["on", "off", "auto"] = "auto",
    options: Mapping[str, Any] | None = None,
) -> Iterator[str]:
    """Serve *app* with uvicorn in a background thread for the duration of the ``with`` block.

    The socket is bound before uvicorn starts, so port 0 picks a free port without the race of
    "find a free port, then hope it is still free".

    Args:
        app: The ASGI application, e.g. ``create_test_api()``.
        host: Interface to bind; keep the default loopback address unless you know why not.
        port: Port to bind; 0 picks a free one.
        startup_timeout: Seconds to wait for the server to accept connections.
        shutdown_timeout: Seconds to wait for a graceful stop before forcing it.
        log_level: uvicorn's log level.
        access_log: Log every request (to the ``uvicorn.access`` logger).
        lifespan: Run the app's startup and shutdown (``auto``: if it has them).
        options: More ``uvicorn.Config`` options (``connectory.api.limits.server_options``
            gives the ones ``connectory serve`` uses).

    Yields:
        The base URL, e.g. ``http://127.0.0.1:54321``.

    Raises:
        RuntimeError: The server stopped while starting.
        TimeoutError: The server did not accept connections within *startup_timeout*.

    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto is
    # IPPROTO_TCP, and without it every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        bound_port: int = sock.getsockname()[1]
        # log_config=None: a library must not reconfigure the host program's logging.
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level=log_level,
            access_log=access_log,
            lifespan=lifespan,
            **dict(options or {}),
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"connectory-serve-{bound_port}",
            daemon=True,
        )
        thread.start()
        try:
            _wait_until_accepting(host, bound_port, server, thread, startup_timeout)
            url_host = f"[{host}]" if family == socket.AF_INET6 else host
            yield f"http://{url_host}:{bound_port}"
        finally:
            server.should_exit = True
            thread.join(shutdown_timeout)
            if thread.is_alive():
                # Open keep-alive connections can hold a graceful stop; end them.
                server.force_exit = True
                thread.join(shutdown_timeout)
    finally:
        sock.close()
