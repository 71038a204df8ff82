"""``connectory serve`` as a user runs it: a URL too long for the API is a clear 414.

The HTTP server reads request heads up to ``CONNECTORY_MAX_HEAD_BYTES``, above the API's URL
cap, so a 1 MB query string reaches Connectory and gets its JSON 414 on a connection that
stays open (before, uvicorn answered a bare 400 and reset the connection).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectory.testing.instances import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """``connectory serve`` on a free port: (port, the first admin's token)."""
    port = free_port()
    environment = {
        **os.environ,
        "CONNECTORY_DATA_DIR": str(tmp_path),
        "CONNECTORY_DATABASE_URL": f"sqlite:///{tmp_path}/connectory.db",
    }
    # A file, not a pipe: the access log (on stdout) must never block the server.
    output = tmp_path / "serve.out"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "connectory.cli", "serve", "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "connectory serve did not start"
                assert process.poll() is None, output.read_text()
                time.sleep(0.05)
        # The first admin's token is printed once, before the server listens.
        lines = output.read_text().split()
        yield port, next(word for word in lines if word.startswith("cty_"))
    finally:
        process.terminate()
        process.wait(timeout=10)


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection was closed: {data[:200]!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lengths = [
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    ]
    length = lengths[0] if lengths else 0
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the connection was closed mid-body"
        body += chunk
    return int(head.split()[1]), body


def test_a_1mb_query_string_is_a_414_and_the_connection_stays_open(
    served: tuple[int, str],
) -> None:
    port, token = served
    assert token
    auth = f"Host: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /enterprises?q=" + b"x" * 1_000_000 + b" HTTP/1.1\r\n" + auth)
        status, body = _read_response(sock)
        assert status == 414, body
        assert b'"code":"uri_too_long"' in body
        assert b"the limit is 65,536 bytes" in body
        sock.sendall(b"GET /me HTTP/1.1\r\n" + auth)
        status, _ = _read_response(sock)
        assert status == 200
