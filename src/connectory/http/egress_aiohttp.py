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
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from connectory.errors import EgressDenied
from connectory.http.egress import EgressPolicy, Resolver, system_resolver


class GuardedResolver(AbstractResolver):
    """Resolves a host once and refuses it when any of its addresses is not allowed."""

    def __init__(self, policy: EgressPolicy, resolver: Resolver = system_resolver) -> None:
        self._policy = policy
        self._resolver = resolver

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
            _refuse(self._policy, host, address)
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


def _refuse(policy: EgressPolicy, host: str, address: Any) -> None:
    reason = policy.refusal(host, address)
    if reason is not None:
        raise EgressDenied(
            f"refusing to connect to {host} ({address}): {reason} addresses are not allowed; "
            "an administrator can allow this destination with CONNECTORY_EGRESS_ALLOW"
        )


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
