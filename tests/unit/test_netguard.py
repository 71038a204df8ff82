"""The suite's network guard: names outside /etc/hosts never reach a DNS server."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import pytest


def test_names_outside_etc_hosts_are_not_resolved() -> None:
    with pytest.raises(socket.gaierror, match=r"does not resolve 'api\.example\.com'"):
        socket.getaddrinfo("api.example.com", 443)
    assert socket.getaddrinfo("localhost", 80)
    assert socket.getaddrinfo("127.0.0.1", 80)


async def test_the_event_loops_resolver_is_guarded_too() -> None:
    with pytest.raises(socket.gaierror):
        await asyncio.get_running_loop().getaddrinfo("pypi.org", 443)


def test_connections_off_this_machine_are_refused() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(ConnectionRefusedError, match=r"does not connect to '192\.0\.2\.1'"),
    ):
        sock.connect(("192.0.2.1", 80))


def test_subprocesses_inherit_the_guard() -> None:
    code = (
        "import socket\n"
        "try:\n"
        "    socket.getaddrinfo('example.org', 80)\n"
        "except socket.gaierror as e:\n"
        "    print('refused', e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.startswith("refused"), result.stdout + result.stderr
    assert "does not resolve" in result.stdout
