"""Health follows every outcome of a call, also the ones that raise; successes write nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import event, update

from connectory.settings import Settings
from connectory.store import Connection, create_engine, create_sessionmaker

from .gated_upstream import GatedUpstream, gated_document
from .support import Server, World, insert_published_connector

#: A private address the egress guard refuses before any packet is sent.
REFUSED_BASE_URL = "http://10.255.255.1:9"


@pytest.fixture
async def upstream() -> AsyncIterator[GatedUpstream]:
    async with GatedUpstream() as server:
        yield server


async def connection_to(
    api: httpx.AsyncClient, world: World, settings: Settings, base_url: str, **resilience: Any
) -> str:
    connector_id = await insert_published_connector(
        settings.database_url, gated_document(base_url, **resilience)
    )
    response = await api.post(
        "/connections",
        json={"connector_id": connector_id, "name": "c", "credentials": {"api_key": "k"}},
        headers=world.auth("a_admin"),
    )
    assert response.status_code == 201, response.text
    connection_id: str = response.json()["id"]
    return connection_id


async def run(
    api: httpx.AsyncClient, world: World, connection_id: str, operation: str, query: str = ""
) -> httpx.Response:
    return await api.post(
        f"/connections/{connection_id}/operations/{operation}{query}",
        headers=world.auth("a_viewer"),
    )


async def health_of(api: httpx.AsyncClient, world: World, connection_id: str) -> tuple[str, str]:
    shown = (await api.get(f"/connections/{connection_id}", headers=world.auth("a_admin"))).json()
    return shown["health"], shown["health_detail"]


async def set_health(settings: Settings, connection_id: str, health: str) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            await session.execute(
                update(Connection).where(Connection.id == connection_id).values(health=health)
            )
            await session.commit()
    finally:
        await engine.dispose()


async def test_a_timeout_leaves_the_connection_unreachable(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: GatedUpstream
) -> None:
    connection_id = await connection_to(api, world, settings, upstream.url, timeout=0.2)
    response = await run(api, world, connection_id, "slow")  # the gate never opens
    assert response.status_code == 504, response.text
    health, detail = await health_of(api, world, connection_id)
    assert health == "unreachable"
    assert "did not answer in time" in detail


async def test_an_open_circuit_leaves_the_connection_degraded(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: GatedUpstream
) -> None:
    connection_id = await connection_to(
        api, world, settings, upstream.url, circuit_breaker_threshold=1
    )
    assert (await run(api, world, connection_id, "fail")).json()["status_code"] == 503
    assert (await health_of(api, world, connection_id))[0] == "degraded"
    await set_health(settings, connection_id, "healthy")  # as if another process saw a success
    response = await run(api, world, connection_id, "fast")
    assert response.status_code == 503
    assert response.json()["code"] == "circuit_open"
    health, detail = await health_of(api, world, connection_id)
    assert health == "degraded"
    assert "circuit" in detail
    assert upstream.count("/fast") == 0


async def test_connectorys_own_rate_limit_leaves_the_connection_degraded(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: GatedUpstream
) -> None:
    connection_id = await connection_to(api, world, settings, upstream.url, rate_limit=1)
    assert (await run(api, world, connection_id, "fast")).status_code == 200
    assert (await health_of(api, world, connection_id))[0] == "healthy"
    response = await run(api, world, connection_id, "fast")
    assert response.status_code == 429
    health, detail = await health_of(api, world, connection_id)
    assert health == "degraded"
    assert "rate limit" in detail


async def test_a_refused_address_leaves_the_connection_unreachable(
    api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    connection_id = await connection_to(api, world, settings, REFUSED_BASE_URL)
    response = await run(api, world, connection_id, "fast")
    assert response.status_code == 502
    assert response.json()["code"] == "egress_denied"
    assert (await health_of(api, world, connection_id))[0] == "unreachable"


async def test_a_failed_stream_records_the_health(
    api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    connection_id = await connection_to(api, world, settings, REFUSED_BASE_URL)
    response = await run(api, world, connection_id, "fast", "?all_pages=true")
    assert response.status_code == 200
    assert "_connectory_error" in orjson.loads(response.content.splitlines()[-1])
    assert (await health_of(api, world, connection_id))[0] == "unreachable"


async def test_successful_calls_write_health_only_when_it_changes(
    api: httpx.AsyncClient,
    server: Server,
    world: World,
    settings: Settings,
    upstream: GatedUpstream,
) -> None:
    connection_id = await connection_to(api, world, settings, upstream.url)
    writes: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE CONNECTIONS"):
            writes.append(statement)

    engine = server.app.state.engine.sync_engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(5):
            assert (await run(api, world, connection_id, "fast")).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(writes) == 1  # unknown -> healthy, then nothing
    assert (await health_of(api, world, connection_id))[0] == "healthy"
