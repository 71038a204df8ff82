"""Both HTTP/1.1 parsers ``connectory serve`` may run keep the request-head limit.

``server_options`` picks httptools (with Connectory's head limit) when it is installed, else
h11 (with its own): a head over ``max_head_bytes`` is refused with 400 and the connection
closed, a long URL under it gets Connectory's 414 on a connection that stays open, and bodies
(which are not the head) are not counted against it.
"""

from __future__ import annotations

import importlib.util
import select
import socket
from collections.abc import Iterator

import pytest

from connectory.api import create_app
from connectory.api.limits import server_options
from connectory.settings import Settings
from connectory.testing import serve

from .socket_support import read_response

HEAD_LIMIT = 16 * 1024

PARSERS = [
    "h11",
    pytest.param(
        "httptools",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("httptools") is None, reason="httptools is not installed"
        ),
    ),
]


@pytest.fixture(params=PARSERS)
def live(request: pytest.FixtureRequest, settings: Settings) -> Iterator[tuple[str, int]]:
    """The app in uvicorn with each parser and a small head limit: (host, port)."""
    settings = settings.model_copy(update={"max_head_bytes": HEAD_LIMIT, "max_url_bytes": 2048})
    options = server_options(settings, http=request.param)
    with serve(create_app(settings), options=options) as url:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        yield host, int(port)


def _answered(sock: socket.socket) -> bool:
    """Whether the server has written (or closed) already, without waiting."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unfinished_head_over_the_limit_is_refused_and_the_connection_closed(
    live: tuple[str, int],
) -> None:
    with socket.create_connection(live, timeout=30) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n")
        # In pieces, as a slow client would send it, and never finished: the server must not
        # wait for (and hold) the rest. The limit is on the head still unread (h11's rule).
        for _ in range(8):
            if _answered(sock):
                break  # refused already: the rest would meet a closed connection
            try:
                sock.sendall(b"X-Padding: " + b"a" * 4000 + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break  # closed between the check and the write; its answer is still readable
        status, headers, _ = read_response(sock)
        assert status == 400
        assert headers.get("connection") == "close"
        assert _closed(sock)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_under_the_head_limit_urls_get_414_and_bodies_are_not_counted(
    live: tuple[str, int],
) -> None:
    big_body = b'{"params": {"q": "' + b"b" * (HEAD_LIMIT * 4) + b'"}}'
    with socket.create_connection(live, timeout=30) as sock:
        # A URL over max_url_bytes but under the head limit: Connectory's 414, kept open.
        sock.sendall(b"GET /connections?q=" + b"x" * 8000 + b" HTTP/1.1\r\nHost: test\r\n\r\n")
        status, headers, body = read_response(sock)
        assert status == 414, body[:300]
        assert headers.get("connection", "keep-alive") != "close"
        # A body four times the head limit is not a head: the app answers (no token: 401).
        sock.sendall(
            b"POST /connections/c1/operations/op HTTP/1.1\r\nHost: test\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % len(big_body)
            + big_body
        )
        status, headers, body = read_response(sock)
        assert status == 401, body[:300]
        # Two requests in one write (pipelined): both answered, in order.
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n" * 2)
        assert read_response(sock)[0] == 200
        assert read_response(sock)[0] == 200


def test_server_options_pick_httptools_when_installed() -> None:
    options = server_options(Settings(max_head_bytes=HEAD_LIMIT))
    assert options["h11_max_incomplete_event_size"] == HEAD_LIMIT
    if importlib.util.find_spec("httptools") is None:
        assert options["http"] == "h11"
    else:
        from connectory.api.http_protocol import HeadLimitedHttpTools

        assert options["http"] is HeadLimitedHttpTools


@pytest.fixture(params=PARSERS)
def live_long_urls(request: pytest.FixtureRequest, settings: Settings) -> Iterator[tuple[str, int]]:
    """Each parser with room for URLs over 64 KiB (httptools' own URL parser stops there)."""
    settings = settings.model_copy(
        update={"max_head_bytes": 1024 * 1024, "max_url_bytes": 128 * 1024}
    )
    options = server_options(settings, http=request.param)
    with serve(create_app(settings), options=options) as url:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        yield host, int(port)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_urls_over_64_kib_are_served_or_refused_by_the_app(
    live_long_urls: tuple[str, int],
) -> None:
    with socket.create_connection(live_long_urls, timeout=30) as sock:
        # Under max_url_bytes: served, the query intact (the app reads it, /health ignores it).
        sock.sendall(b"GET /health?pad=" + b"p" * 70_000 + b" HTTP/1.1\r\nHost: test\r\n\r\n")
        status, _, body = read_response(sock)
        assert status == 200, body[:300]
        # Over it: the app's 414 (it measured the whole URL), on a connection that stays open.
        sock.sendall(
            b"GET /connections?connector_id=" + b"x" * 200_000 + b" HTTP/1.1\r\nHost: test\r\n\r\n"
        )
        status, headers, body = read_response(sock)
        assert status == 414, body[:300]
        assert b"200,025 bytes long" in body  # path and query, as sent
        assert headers.get("connection", "keep-alive") != "close"
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
        assert read_response(sock)[0] == 200
