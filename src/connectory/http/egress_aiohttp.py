"""The egress guard for aiohttp: outgoing webhooks go through the same checks as connector calls.

Deliveries are many small POSTs at high concurrency, where aiohttp costs a fraction of
httpx's async path (bench/events.py measured httpx's own transport at under 5% of an aiohttp
loop at 50 concurrent requests). The guard is the same as :mod:`connectory.http.egress`: the
host is resolved once by :class:`GuardedResolver`, every address must be allowed, and aiohttp
connects to those checked addresses (no second look-up). aiohttp does not call a resolver for
IP literals, so :func:`check_destination` checks those before a request is made.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from connectory.errors import EgressDenied
from connectory.http.aiohttp_transport import AiohttpTransport
from connectory.http.egress import EgressPolicy, Resolver, connector_refusal, system_resolver


class GuardedResolver(AbstractResolver):
    """Resolves a host once and refuses it when any of its addresses is not allowed."""

    def __init__(
        self,
        policy: EgressPolicy,
        resolver: Resolver = system_resolver,
        refuse: Refusal | None = None,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._refuse = refuse or _refusal

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The checked addresses of *host*.

        Raises:
            EgressDenied: an address of *host* is internal and not allowlisted.
            OSError: the name does not resolve.
        """
        found = await self._resolver(host, port)
        if not found:
            raise OSError(f"could not resolve {host}")
        results: list[ResolveResult] = []
        for text in found:
            address = ipaddress.ip_address(text)
            reason = self._policy.refusal(host, address)
            if reason is not None:
                raise self._refuse(host, address, reason)
            results.append(
                {
                    "hostname": host,
                    "host": text,
                    "port": port,
                    "family": socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
            )
        return results

    async def close(self) -> None:
        """Nothing to release."""


#: Builds the error for a refused ``(host, address, reason)``.
Refusal = Callable[[str, Any, str], EgressDenied]


def _refusal(host: str, address: Any, reason: str) -> EgressDenied:
    return EgressDenied(
        f"refusing to connect to {host} ({address}): {reason} addresses are not allowed; "
        "an administrator can allow this destination with CONNECTORY_EGRESS_ALLOW"
    )


def _refuse(policy: EgressPolicy, host: str, address: Any) -> None:
    reason = policy.refusal(host, address)
    if reason is not None:
        raise _refusal(host, address, reason)


def check_destination(policy: EgressPolicy, url: str) -> None:
    """Refuse a URL whose host is an IP literal the policy does not allow.

    Raises:
        EgressDenied: the literal address is internal and not allowlisted.
    """
    host = URL(url).host or ""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return  # a name: the resolver checks it
    _refuse(policy, host, address)


def guarded_session(policy: EgressPolicy, *, limit: int = 200) -> aiohttp.ClientSession:
    """An aiohttp session whose connections go only where *policy* allows; no proxies."""
    connector = aiohttp.TCPConnector(
        limit=limit, resolver=GuardedResolver(policy), use_dns_cache=False
    )
    return aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=False)


#: The server's connector pool, as :class:`~connectory.http.egress.GuardedTransport` sizes it.
SERVER_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)


_MAX_VERDICTS = 64


class GuardedAiohttpTransport(AiohttpTransport):
    """The server's transport for connector calls: aiohttp, behind the egress guard.

    The same guard as :class:`~connectory.http.egress.GuardedTransport` (same policy, same
    errors): a host is resolved once per connection by :class:`GuardedResolver`, every address
    must be allowed, aiohttp connects to the checked addresses; IP literals (which aiohttp
    does not resolve) are checked before the request; proxies from the environment are
    ignored. Many concurrent calls on one connection cost a fraction of httpx's own pool
    (bench/api_proxy.py).

    Args:
        policy: Which destinations are allowed.
        resolver: Name resolution (tests inject one).
        limits: Connection pool size.
        verify: Verify TLS certificates.
    """

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        resolver: Resolver = system_resolver,
        limits: httpx.Limits = SERVER_LIMITS,
        verify: bool = True,
    ) -> None:
        super().__init__(limits=limits, verify=verify)
        self._policy = policy
        self._resolver = resolver
        self._verdicts: dict[str, tuple[Any, str] | None] = {}

    def _connector(self) -> aiohttp.TCPConnector:
        return aiohttp.TCPConnector(
            limit=self._limits.max_connections or 0,
            keepalive_timeout=self._limits.keepalive_expiry or 5.0,
            resolver=GuardedResolver(self._policy, self._resolver, connector_refusal),
            use_dns_cache=False,  # every new connection is resolved and checked again
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Refuse a disallowed IP literal, then send *request* through the guarded pool."""
        self.refuse(request.url.host)
        return await super().handle_async_request(request)

    def refuse(self, host: str) -> None:
        """Refuse *host* when it is an IP literal the policy does not allow.

        Raises:
            EgressDenied: the literal address is internal and not allowlisted.
        """
        # The policy is fixed, so a host's verdict is too: worked out once per host (a
        # client calls one or two), not per request.
        if host in self._verdicts:
            verdict = self._verdicts[host]
        else:
            verdict = self._literal_verdict(host)
            if len(self._verdicts) >= _MAX_VERDICTS:
                self._verdicts.clear()
            self._verdicts[host] = verdict
        if verdict is not None:
            raise connector_refusal(host, verdict[0], verdict[1])

    def _literal_verdict(self, host: str) -> tuple[Any, str] | None:
        """Why an IP-literal *host* is refused (address, reason); None: allowed, or a name."""
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return None  # a name: the resolver checks it
        reason = self._policy.refusal(host, address)
        return (address, reason) if reason is not None else None
