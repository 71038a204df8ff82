"""The egress guard on the aiohttp session deliveries use."""

from __future__ import annotations

import pytest

from connectory.errors import EgressDenied
from connectory.http.egress import EgressPolicy
from connectory.http.egress_aiohttp import GuardedResolver, check_destination


def _resolver(answers: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return answers[host]

    return resolve


async def test_names_resolving_to_internal_addresses_are_refused() -> None:
    guard = GuardedResolver(
        EgressPolicy(),
        _resolver({"evil.test": ["203.0.113.9", "10.0.0.5"], "metadata.test": ["169.254.169.254"]}),
    )
    with pytest.raises(EgressDenied, match="private-network"):
        await guard.resolve("evil.test", 443)
    with pytest.raises(EgressDenied, match="link-local"):
        await guard.resolve("metadata.test", 80)


async def test_public_and_allowlisted_addresses_resolve_to_the_checked_ones() -> None:
    guard = GuardedResolver(
        EgressPolicy.allowing(["127.0.0.1"]),
        _resolver({"ok.test": ["8.8.8.8"], "local.test": ["127.0.0.1"]}),
    )
    [public] = await guard.resolve("ok.test", 443)
    assert public["host"] == "8.8.8.8" and public["port"] == 443
    [local] = await guard.resolve("local.test", 80)
    assert local["host"] == "127.0.0.1"


def test_ip_literals_are_checked_before_the_request() -> None:
    with pytest.raises(EgressDenied):
        check_destination(EgressPolicy(), "http://127.0.0.1:8080/hook")
    with pytest.raises(EgressDenied):
        check_destination(EgressPolicy(), "http://[::ffff:10.0.0.1]/hook")
    check_destination(EgressPolicy.allowing(["127.0.0.1"]), "http://127.0.0.1:8080/hook")
    check_destination(EgressPolicy(), "https://hooks.example.com/x")  # names: the resolver's job
