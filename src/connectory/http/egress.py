"""The egress guard: the server must not become a way into its own network.

Connectors and connections are configured by tenants, so every outgoing connection the server
makes (operations, pages, token requests, redirects) is checked where it is opened: the host is
resolved once, every address it resolves to must be public (or allowlisted), and the socket is
connected to that checked address. Checking and connecting in one place is what defeats DNS
rebinding: there is no second lookup that could answer differently. TLS still verifies the
certificate against the host name, which httpcore passes separately.

Blocked: loopback, private (RFC 1918, ULA, the deprecated site-local fec0::/10), link-local
(cloud metadata lives there), shared (100.64/10), reserved and documentation ranges, multicast,
unspecified; and IPv6 forms that embed such an IPv4 address: IPv4-mapped (::ffff:0:0/96),
IPv4-compatible (::/96, deprecated: refused whatever it embeds), IPv4-translated
(::ffff:0:0:0/96), 6to4, NAT64 (64:ff9b::/96, 64:ff9b:1::/48), Teredo. Python's ``ipaddress``
calls some of these global (``::7f00:1`` is), so each form is unwrapped here first.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from connectory.errors import EgressDenied

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Resolves a host name to IP address strings.
Resolver = Callable[[str, int], Awaitable[list[str]]]

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
#: ::a.b.c.d (RFC 4291 2.5.5.1, deprecated); :: and ::1 are the unspecified and loopback addresses.
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
#: ::ffff:0:a.b.c.d (RFC 2765, SIIT).
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")


def blocked_reason(address: IPAddress) -> str | None:
    """Return why *address* may not be called ("loopback", ...), or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = blocked_reason(embedded)
            if inner is not None:
                return f"{inner} (embedded in {address})"
            if address in _IPV4_COMPATIBLE:
                return f"IPv4-compatible (deprecated, never routed on the internet: {address})"
        if address.is_site_local:
            return "private-network (site-local fec0::/10, deprecated)"
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local (cloud metadata services live there)"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private-network"
    if not address.is_global:
        return "non-public"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _IPV4_TRANSLATED or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    for network in _NAT64:
        if address in network:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True)
class EgressPolicy:
    """Which destinations are allowed besides public addresses.

    Attributes:
        networks: Address ranges opened explicitly (``127.0.0.1/32`` in tests).
        hosts: Host names opened explicitly, whatever they resolve to.
    """

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def allowing(cls, entries: Iterable[str]) -> EgressPolicy:
        """Build a policy from entries that are addresses, ranges (CIDR) or host names."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in entries:
            text = entry.strip()
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                hosts.add(text.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    def refusal(self, host: str, address: IPAddress) -> str | None:
        """Return why connecting to *address* (resolved from *host*) is refused, or None."""
        if host.lower().rstrip(".") in self.hosts:
            return None
        if any(address in network for network in self.networks):
            return None
        return blocked_reason(address)


def connector_refusal(host: str, address: IPAddress, reason: str) -> EgressDenied:
    """The error for a connector call to a destination the policy refuses."""
    return EgressDenied(
        f"refusing to connect to {host} ({address}): {reason} addresses are not "
        "allowed for connectors; an administrator can allow this destination with "
        "CONNECTORY_EGRESS_ALLOW"
    )


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve *host* with the system resolver (IP literals resolve to themselves)."""
    import asyncio

    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]
        if address not in seen:
            seen.append(address)
    return seen


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to addresses the policy allows, pinned to the checked IP."""

    def __init__(
        self,
        policy: EgressPolicy,
        resolver: Resolver = system_resolver,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._backend = backend or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve *host* once, refuse if any address is blocked, connect to a checked one."""
        try:
            resolved = await self._resolver(host, port)
        except OSError as error:
            raise httpcore.ConnectError(f"could not resolve {host}: {error.strerror}") from None
        if not resolved:
            raise httpcore.ConnectError(f"could not resolve {host}")
        addresses = [ipaddress.ip_address(text) for text in resolved]
        for address in addresses:
            # All or nothing: a name that resolves to a public and a private address could be
            # steered to the private one by whoever controls its DNS.
            reason = self._policy.refusal(host, address)
            if reason is not None:
                raise connector_refusal(host, address, reason)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Unix sockets are local by definition: always refused."""
        raise EgressDenied("connectors may not connect to Unix sockets")

    async def sleep(self, seconds: float) -> None:
        """Delegate to the real backend."""
        await self._backend.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose every connection goes through :class:`GuardedNetworkBackend`.

    Proxies from the environment are ignored (``trust_env`` off): a proxy would make the
    connection the guard sees a different one from the request's destination.
    """

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        resolver: Resolver = system_resolver,
        limits: httpx.Limits | None = None,
        verify: bool = True,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        super().__init__(verify=verify, trust_env=False, limits=limits)
        # httpx has no parameter for the network backend, so its pool is rebuilt with one;
        # the arguments mirror httpx.AsyncHTTPTransport's own (httpx is pinned below 1.0).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(policy, resolver),
        )
