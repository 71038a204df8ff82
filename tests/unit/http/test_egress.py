"""The egress guard: which addresses are refused, allowlists, and pinning (no DNS rebinding)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import httpcore
import httpx
import pytest

from connectory.errors import EgressDenied
from connectory.http.egress import (
    EgressPolicy,
    GuardedNetworkBackend,
    GuardedTransport,
    blocked_reason,
)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private-network"),
        ("172.16.0.1", "private-network"),
        ("192.168.1.1", "private-network"),
        ("fd00:ec2::254", "private-network"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "non-public"),
        ("192.0.2.1", "private-network"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback (embedded"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::", "loopback (embedded"),
        ("2002:a00:1::", "private-network (embedded"),
        ("64:ff9b::7f00:1", "loopback (embedded"),
        ("64:ff9b::a9fe:a9fe", "link-local"),
        ("64:ff9b:1::a00:1", "private-network (embedded"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "private-network (embedded"),
        # IPv4-compatible (::a.b.c.d, deprecated): Python calls ::7f00:1 global.
        ("::7f00:1", "loopback (embedded in ::7f00:1)"),
        ("::127.0.0.1", "loopback (embedded"),
        ("::a9fe:a9fe", "link-local (cloud metadata services live there) (embedded"),
        ("::a00:1", "private-network (embedded"),
        ("::808:808", "IPv4-compatible (deprecated"),
        # IPv4-translated (::ffff:0:a.b.c.d, SIIT).
        ("::ffff:0:7f00:1", "loopback (embedded in ::ffff:0:7f00:1)"),
        ("::ffff:0:a9fe:a9fe", "link-local (cloud metadata services live there) (embedded"),
        ("::ffff:0:c0a8:101", "private-network (embedded"),
        # Site-local (fec0::/10, deprecated private addressing): Python calls it global.
        ("fec0::1", "private-network (site-local"),
        ("feff:ffff::1", "private-network (site-local"),
    ],
)
def test_internal_addresses_are_refused(address: str, reason: str) -> None:
    found = blocked_reason(ipaddress.ip_address(address))
    assert found is not None
    assert found.startswith(reason)


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.216.34", "2606:4700::1111", "64:ff9b::808:808", "::ffff:0:808:808"],
)
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


def test_allowlist_by_range_and_by_host() -> None:
    policy = EgressPolicy.allowing(["127.0.0.1", "10.0.0.0/8", "Internal.Example."])
    assert policy.refusal("x", ipaddress.ip_address("127.0.0.1")) is None
    assert policy.refusal("x", ipaddress.ip_address("10.9.9.9")) is None
    assert policy.refusal("internal.example", ipaddress.ip_address("192.168.0.1")) is None
    assert policy.refusal("x", ipaddress.ip_address("192.168.0.1")) == "private-network"


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Records where connections were opened instead of opening them."""

    def __init__(self) -> None:
        self.connected: list[str] = []

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        self.connected.append(host)
        raise httpcore.ConnectError("recorded, not connected")

    async def sleep(self, seconds: float) -> None:
        return None


class FlippingResolver:
    """Answers a public address first and a private one afterwards: a DNS rebinding attack."""

    def __init__(self) -> None:
        self.lookups = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups += 1
        return ["93.184.216.34"] if self.lookups == 1 else ["127.0.0.1"]


async def test_connection_is_pinned_to_the_checked_address() -> None:
    resolver = FlippingResolver()
    recorder = RecordingBackend()
    backend = GuardedNetworkBackend(EgressPolicy(), resolver, recorder)
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("rebind.example", 443)
    # One lookup, and the socket went to the address that was checked, not to the name.
    assert resolver.lookups == 1
    assert recorder.connected == ["93.184.216.34"]
    # The next connection resolves again and is refused: the flip is caught, not followed.
    with pytest.raises(EgressDenied, match="loopback"):
        await backend.connect_tcp("rebind.example", 443)
    assert recorder.connected == ["93.184.216.34"]


async def test_a_name_with_any_internal_address_is_refused() -> None:
    async def mixed(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.5"]

    recorder = RecordingBackend()
    backend = GuardedNetworkBackend(EgressPolicy(), mixed, recorder)
    with pytest.raises(EgressDenied, match="private-network"):
        await backend.connect_tcp("mixed.example", 443)
    assert recorder.connected == []


async def test_unix_sockets_are_refused() -> None:
    backend = GuardedNetworkBackend(EgressPolicy(), backend=RecordingBackend())
    with pytest.raises(EgressDenied):
        await backend.connect_unix_socket("/var/run/docker.sock")


async def test_transport_refuses_loopback_before_any_byte_is_sent() -> None:
    async with httpx.AsyncClient(transport=GuardedTransport(EgressPolicy())) as client:
        with pytest.raises(EgressDenied, match="loopback"):
            await client.get("http://127.0.0.1:9/")
        with pytest.raises(EgressDenied, match="loopback"):
            await client.get("http://[::ffff:127.0.0.1]:9/")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[::7f00:1]:9/", "loopback (embedded in ::7f00:1)"),
        ("http://[::a9fe:a9fe]/latest/meta-data/", "link-local"),
        ("http://[::ffff:0:7f00:1]:9/", "loopback (embedded in ::ffff:0:7f00:1)"),
        ("http://[fec0::1]:9/", "private-network (site-local"),
    ],
)
async def test_transport_refuses_ipv6_forms_of_internal_addresses(url: str, reason: str) -> None:
    # The guard refuses while resolving, before a socket is opened (see the test above).
    async with httpx.AsyncClient(transport=GuardedTransport(EgressPolicy())) as client:
        with pytest.raises(EgressDenied, match=re.escape(reason)):
            await client.get(url)
