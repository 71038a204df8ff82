"""The server's aiohttp transport refuses what httpx's guarded transport refuses, the same way."""

from __future__ import annotations

import re

import httpx
import pytest

from connectory.errors import EgressDenied
from connectory.http.egress import EgressPolicy
from connectory.http.egress_aiohttp import GuardedAiohttpTransport


def answering(answers: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return answers[host]

    return resolve


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:9/", "loopback"),
        ("http://[::ffff:127.0.0.1]:9/", "loopback"),
        ("http://[::7f00:1]:9/", "loopback (embedded in ::7f00:1)"),
        ("http://[::a9fe:a9fe]/latest/meta-data/", "link-local"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fec0::1]:9/", "private-network (site-local"),
    ],
)
async def test_internal_ip_literals_are_refused_before_any_socket(url: str, reason: str) -> None:
    async with httpx.AsyncClient(transport=GuardedAiohttpTransport(EgressPolicy())) as client:
        with pytest.raises(EgressDenied, match=re.escape(reason)) as refused:
            await client.get(url)
    # The connector wording of GuardedTransport, so users see one message whichever wire.
    assert "not allowed for connectors" in str(refused.value)


async def test_names_with_any_internal_address_are_refused() -> None:
    resolver = answering(
        {"mixed.test": ["93.184.216.34", "10.0.0.5"], "meta.test": ["169.254.1.1"]}
    )
    transport = GuardedAiohttpTransport(EgressPolicy(), resolver=resolver)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(EgressDenied, match="private-network"):
            await client.get("http://mixed.test/")
        with pytest.raises(EgressDenied, match="link-local"):
            await client.get("http://meta.test/")


async def test_an_allowlisted_name_reaches_the_checked_address() -> None:
    from connectory.testing import create_test_api, serve

    with serve(create_test_api(records=3)) as url:
        port = httpx.URL(url).port
        resolver = answering({"upstream.test": ["127.0.0.1"]})
        policy = EgressPolicy.allowing(["127.0.0.1"])
        transport = GuardedAiohttpTransport(policy, resolver=resolver)
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.get(f"http://upstream.test:{port}/")
        assert response.status_code < 500
        refused = GuardedAiohttpTransport(EgressPolicy(), resolver=resolver)
        async with httpx.AsyncClient(transport=refused) as client:
            with pytest.raises(EgressDenied, match="loopback"):
                await client.get(f"http://upstream.test:{port}/")
