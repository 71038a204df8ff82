"""Connections under concurrency: one client per connection, never closed under a call.

The upstream holds calls in flight until the test lets them go (``GatedUpstream``), so each
test knows exactly which calls are in flight when it changes a connection or fills the cache.
The client cache is capped at 2 connections here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from connectory.services.connection_runtime import ConnectionRuntimes
from connectory.settings import Settings

from .gated_upstream import GatedUpstream, gated_document
from .support import Server, World, insert_published_connector


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The API tests' settings with a client cache of two connections."""
    return settings.model_copy(update={"client_cache_size": 2})


@pytest.fixture
async def upstream() -> AsyncIterator[GatedUpstream]:
    async with GatedUpstream() as server:
        yield server


@pytest.fixture
async def connector_id(world: World, settings: Settings, upstream: GatedUpstream) -> str:
    return await insert_published_connector(settings.database_url, gated_document(upstream.url))


def runtimes_of(server: Server) -> ConnectionRuntimes:
    runtimes: ConnectionRuntimes = server.app.state.runtimes  # type: ignore[attr-defined]
    return runtimes


async def connect(api: httpx.AsyncClient, world: World, connector_id: str, key: str) -> str:
    response = await api.post(
        "/connections",
        json={"connector_id": connector_id, "name": key, "credentials": {"api_key": key}},
        headers=world.auth("a_admin"),
    )
    assert response.status_code == 201, response.text
    connection_id: str = response.json()["id"]
    return connection_id


def call(
    api: httpx.AsyncClient, world: World, connection_id: str, operation: str, query: str = ""
) -> asyncio.Task[httpx.Response]:
    return asyncio.ensure_future(
        api.post(
            f"/connections/{connection_id}/operations/{operation}{query}",
            headers=world.auth("a_viewer"),
        )
    )


async def test_concurrent_first_calls_share_one_client(
    api: httpx.AsyncClient,
    server: Server,
    world: World,
    connector_id: str,
    upstream: GatedUpstream,
) -> None:
    runtimes = runtimes_of(server)
    for round_ in range(3):
        connection_id = await connect(api, world, connector_id, f"key-{round_}")
        calls = [call(api, world, connection_id, "slow") for _ in range(20)]
        # All twenty reach the upstream together: none failed on the way, none finished.
        await upstream.wait_for(20 * (round_ + 1))
        upstream.open()
        responses = await asyncio.gather(*calls)
        assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
        upstream._gate = asyncio.Event()  # close the gate again for the next round
    assert runtimes.stats().built == 3  # one client per connection
    assert upstream.keys("/slow") == [f"key-{n}" for n in range(3) for _ in range(20)]


async def test_changing_a_connection_never_fails_calls_in_flight(
    api: httpx.AsyncClient,
    server: Server,
    world: World,
    connector_id: str,
    upstream: GatedUpstream,
) -> None:
    runtimes = runtimes_of(server)
    connection_id = await connect(api, world, connector_id, "old-key")
    in_flight = [call(api, world, connection_id, "slow") for _ in range(6)]
    stream = call(api, world, connection_id, "slow", "?all_pages=true")
    await upstream.wait_for(7)
    changed = await api.put(
        f"/connections/{connection_id}",
        json={"credentials": {"api_key": "new-key"}},
        headers=world.auth("a_admin"),
    )
    assert changed.status_code == 200, changed.text
    # Calls after the change use the new credentials at once...
    after = await call(api, world, connection_id, "fast")
    assert after.status_code == 200
    assert upstream.keys("/fast") == ["new-key"]
    # ...while the old client keeps serving the calls that started before it.
    assert runtimes.stats().retiring == 1
    upstream.open()
    responses = await asyncio.gather(*in_flight)
    assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
    streamed = await stream
    assert streamed.status_code == 200
    assert [orjson.loads(line) for line in streamed.content.splitlines()] == [{"path": "/slow"}]
    assert upstream.keys("/slow") == ["old-key"] * 7
    # The replaced client closed after its last call; the change counted as no failure.
    assert runtimes.stats().retiring == 0
    assert runtimes.stats().closed == 1
    assert await runtimes.pipeline.breaker.health(connection_id) == "healthy"
    shown = await api.get(f"/connections/{connection_id}", headers=world.auth("a_admin"))
    assert shown.json()["health"] == "healthy"


async def test_evicted_client_closes_after_its_last_call(
    api: httpx.AsyncClient,
    server: Server,
    world: World,
    connector_id: str,
    upstream: GatedUpstream,
) -> None:
    runtimes = runtimes_of(server)
    first, second, third = [await connect(api, world, connector_id, f"k{n}") for n in range(3)]
    slow = call(api, world, first, "slow")
    await upstream.wait_for(1)
    for connection_id in (second, third):
        assert (await call(api, world, connection_id, "fast")).status_code == 200
    # The cache holds two; the first connection's client left it but serves its call.
    stats = runtimes.stats()
    assert (stats.cached, stats.retiring, stats.closed) == (2, 1, 0)
    upstream.open()
    assert (await slow).status_code == 200
    stats = runtimes.stats()
    assert (stats.cached, stats.retiring, stats.closed) == (2, 0, 1)
    # An idle client evicted from the cache closes at once.
    assert (await call(api, world, first, "fast")).status_code == 200
    stats = runtimes.stats()
    assert (stats.cached, stats.retiring, stats.closed, stats.built) == (2, 0, 2, 4)
    assert upstream.keys("/fast") == ["k1", "k2", "k0"]


async def test_connector_parameters_change_replaces_every_client(
    api: httpx.AsyncClient,
    server: Server,
    world: World,
    settings: Settings,
    upstream: GatedUpstream,
) -> None:
    document: dict[str, Any] = gated_document(upstream.url, "with-parameters")
    document["parameters"] = {"region": {"type": "string", "default": "eu"}}
    document["headers"] = {"X-Region": "{{ connector_parameters.region }}"}
    connector_id = await insert_published_connector(settings.database_url, document)
    connections = [await connect(api, world, connector_id, f"p{n}") for n in range(2)]
    for connection_id in connections:
        assert (await call(api, world, connection_id, "fast")).status_code == 200
    changed = await api.put(
        f"/connectors/{connector_id}/parameters",
        json={"values": {"region": "us"}},
        headers=world.auth("platform"),
    )
    assert changed.status_code == 200, changed.text
    for connection_id in connections:
        assert (await call(api, world, connection_id, "fast")).status_code == 200
    regions = [headers.get("x-region") for path, headers in upstream.arrivals]
    assert regions == ["eu", "eu", "us", "us"]
    assert runtimes_of(server).stats().built == 4
