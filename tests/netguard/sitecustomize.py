"""Keep the test suite on this machine: no DNS look-up or connection leaves it.

Imported by ``tests/conftest.py`` for the pytest process, and by every Python subprocess a test
starts (the CLI, the server, schemathesis, the OpenAPI importer's fetch): the conftest puts this
folder first on ``PYTHONPATH``, and Python imports ``sitecustomize`` at start-up.

* ``socket.getaddrinfo`` (and the ``gethostbyname`` family) resolve IP literals and the names in
  ``/etc/hosts`` only; any other name fails at once with ``EAI_NONAME`` instead of asking a DNS
  server, so a test that would have leaked a look-up fails loudly.
* ``socket.connect`` to an internet address outside loopback and ``/etc/hosts`` is refused.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Any

_MARK = "_connectory_netguard"


def _hosts_file_entries() -> tuple[set[str], set[str]]:
    names = {"localhost"}
    addresses = {"127.0.0.1", "::1"}
    try:
        lines = Path("/etc/hosts").read_text().splitlines()
    except OSError:
        return names, addresses
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2:
            addresses.add(fields[0])
            names.update(name.lower() for name in fields[1:])
    return names, addresses


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def _local_address(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if address.is_loopback or address.is_unspecified:
        return True
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(mapped is not None and mapped.is_loopback)


def install() -> None:
    """Patch the socket module of this process (once)."""
    if getattr(socket, _MARK, False):
        return
    names, addresses = _hosts_file_entries()
    real_getaddrinfo = socket.getaddrinfo
    real_gethostbyname = socket.gethostbyname
    real_gethostbyname_ex = socket.gethostbyname_ex
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def refuse(host: object) -> socket.gaierror:
        return socket.gaierror(
            socket.EAI_NONAME,
            f"the test suite does not resolve {host!r}: only IP literals and /etc/hosts names "
            "(tests never send traffic off this machine)",
        )

    def allowed_name(host: object) -> bool:
        if host is None:
            return True
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        text = str(host)
        return _is_literal(text) or text.lower().rstrip(".") in names

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not allowed_name(host):
            raise refuse(host)
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        if not allowed_name(host):
            raise refuse(host)
        return real_gethostbyname(host)

    def gethostbyname_ex(host: str) -> Any:
        if not allowed_name(host):
            raise refuse(host)
        return real_gethostbyname_ex(host)

    def check_destination(sock: socket.socket, address: Any) -> None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        if isinstance(host, str) and (_local_address(host) or host in addresses):
            return
        if isinstance(host, str) and not _is_literal(host) and allowed_name(host):
            return
        raise ConnectionRefusedError(
            f"the test suite does not connect to {host!r}: only loopback and /etc/hosts "
            "addresses (tests never send traffic off this machine)"
        )

    def connect(self: socket.socket, address: Any) -> None:
        check_destination(self, address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check_destination(self, address)
        return real_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
    socket.gethostbyname_ex = gethostbyname_ex
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    setattr(socket, _MARK, True)


if os.environ.get("CONNECTORY_TEST_NETGUARD") == "1":
    install()
