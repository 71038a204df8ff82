"""Two server instances on one PostgreSQL database: a change in one reaches the other.

Each instance has its own engine, notifier, clients and limiter, exactly like two processes
(they only share the database and, in the Redis runs, Redis). Runs with announcements over
PostgreSQL LISTEN/NOTIFY (no Redis) and over Redis pub/sub. Tests wait on the announcement
itself, never on time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
import redis

from connectory.api import create_app
from connectory.services.connection_runtime import ConnectionRuntimes
from connectory.services.generation_channels import (
    POSTGRES_CHANNEL,
    PostgresNotifier,
    RedisNotifier,
)
from connectory.services.generations import GenerationNotifier, bump_connection
from connectory.settings import Settings

from .conftest import POSTGRES_ADMIN_DSN
from .gated_upstream import GatedUpstream, gated_document
from .state_support import REDIS_URL, redis_prefix
from .support import Server, World, insert_published_connector

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

#: Longest a test waits for an announcement: a safety net against a hang, not a timing.
WAIT = 30.0


@pytest.fixture(params=["listen-notify", "redis"])
def state(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None: announcements over PostgreSQL; else the Redis prefix of this test."""
    if request.param == "listen-notify":
        yield None
        return
    yield from redis_prefix()


@pytest.fixture
def settings(settings: Settings, state: str | None) -> Settings:
    if state is None:
        return settings
    return settings.model_copy(update={"redis_url": REDIS_URL, "redis_prefix": state})


@pytest.fixture
async def other(server: Server, settings: Settings) -> AsyncIterator[Server]:
    """A second instance of the server on the same database (and Redis)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://other") as client:
            yield Server(client, app, "")


@pytest.fixture
async def upstream() -> AsyncIterator[GatedUpstream]:
    async with GatedUpstream() as server:
        yield server


class Heard:
    """What one instance's notifier announced to it, with a way to wait for one."""

    def __init__(self, notifier: GenerationNotifier) -> None:
        self.changes: list[tuple[str, int]] = []
        self.gaps = 0
        self._changed = asyncio.Condition()
        notifier.subscribe(self._on_change, self._on_gap)

    def _on_change(self, connection_id: str, generation: int) -> None:
        self.changes.append((connection_id, generation))
        asyncio.get_running_loop().create_task(self._notify())

    def _on_gap(self) -> None:
        self.gaps += 1
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def until(self, check: Callable[[], bool]) -> None:
        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(check)

        await asyncio.wait_for(wait(), WAIT)


def notifier_of(server: Server) -> GenerationNotifier:
    notifier: GenerationNotifier = server.app.state.notifier  # type: ignore[attr-defined]
    return notifier


def runtimes_of(server: Server) -> ConnectionRuntimes:
    runtimes: ConnectionRuntimes = server.app.state.runtimes  # type: ignore[attr-defined]
    return runtimes


async def connect(api: httpx.AsyncClient, world: World, connector_id: str) -> str:
    response = await api.post(
        "/connections",
        json={"connector_id": connector_id, "name": "x", "credentials": {"api_key": "old-key"}},
        headers=world.auth("a_admin"),
    )
    assert response.status_code == 201, response.text
    connection_id: str = response.json()["id"]
    return connection_id


async def fast(server: Server, world: World, connection_id: str) -> httpx.Response:
    return await server.client.post(
        f"/connections/{connection_id}/operations/fast", headers=world.auth("a_viewer")
    )


async def test_the_channel_follows_the_settings(
    server: Server, other: Server, state: str | None
) -> None:
    kind = PostgresNotifier if state is None else RedisNotifier
    assert isinstance(notifier_of(server), kind)
    assert isinstance(notifier_of(other), kind)


async def test_a_credential_change_reaches_the_other_process(
    api: httpx.AsyncClient,
    server: Server,
    other: Server,
    world: World,
    settings: Settings,
    upstream: GatedUpstream,
) -> None:
    connector_id = await insert_published_connector(
        settings.database_url, gated_document(upstream.url)
    )
    connection_id = await connect(api, world, connector_id)
    assert (await fast(other, world, connection_id)).status_code == 200
    assert runtimes_of(other).stats().cached == 1
    heard = Heard(notifier_of(other))
    changed = await api.put(
        f"/connections/{connection_id}",
        json={"credentials": {"api_key": "new-key"}},
        headers=world.auth("a_admin"),
    )
    assert changed.status_code == 200
    await heard.until(lambda: (connection_id, 2) in heard.changes)
    # The other process dropped its client on the announcement, before any request to it.
    assert runtimes_of(other).stats().cached == 0
    assert (await fast(other, world, connection_id)).status_code == 200
    assert upstream.keys("/fast") == ["old-key", "new-key"]
    assert runtimes_of(other).stats().built == 2


async def test_publish_reaches_the_other_process(server: Server, other: Server) -> None:
    heard = Heard(notifier_of(other))
    mine = Heard(notifier_of(server))
    await notifier_of(server).publish("some-connection", 7)
    await heard.until(lambda: ("some-connection", 7) in heard.changes)
    # An answer from the other side arrives after the channel's echo of the first message
    # (one channel, in order), so by then an echo would have been heard twice at home.
    await notifier_of(other).publish("another-connection", 8)
    await mine.until(lambda: ("another-connection", 8) in mine.changes)
    assert mine.changes == [("some-connection", 7), ("another-connection", 8)]


async def test_a_rolled_back_bump_is_never_announced(
    server: Server, other: Server, world: World, settings: Settings, upstream: GatedUpstream
) -> None:
    connector_id = await insert_published_connector(
        settings.database_url, gated_document(upstream.url)
    )
    first = await connect(server.client, world, connector_id)
    second = await connect(server.client, world, connector_id)
    heard = Heard(notifier_of(other))
    sessions = server.app.state.sessions  # type: ignore[attr-defined]
    async with sessions() as session:
        assert await bump_connection(session, first) == 2
        await session.rollback()
    async with sessions() as session:
        assert await bump_connection(session, second) == 2
        await session.commit()
    # Announcements from one process arrive in commit order: the first would be here by now.
    await heard.until(lambda: (second, 2) in heard.changes)
    assert [cid for cid, _ in heard.changes] == [second]


async def test_listening_resumes_after_the_connection_is_lost(
    server: Server,
    other: Server,
    world: World,
    settings: Settings,
    upstream: GatedUpstream,
    state: str | None,
) -> None:
    connector_id = await insert_published_connector(
        settings.database_url, gated_document(upstream.url)
    )
    connection_id = await connect(server.client, world, connector_id)
    notifier = notifier_of(other)
    heard = Heard(notifier)
    if state is None:
        await _terminate_postgres_listener(settings)
    else:
        _kill_redis_client(f"connectory-generations-{notifier.sender}")
    # The listener reconnects and says announcements may have been missed meanwhile...
    await heard.until(lambda: heard.gaps >= 1)
    # ...and hears the next ones.
    changed = await server.client.put(
        f"/connections/{connection_id}", json={"config": {"a": 1}}, headers=world.auth("a_admin")
    )
    assert changed.status_code == 200
    await heard.until(lambda: (connection_id, 2) in heard.changes)


async def _terminate_postgres_listener(settings: Settings) -> None:
    database = settings.database_url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        killed = await connection.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND query ILIKE 'LISTEN%' AND query LIKE '%' || $2 || '%'",
            database,
            POSTGRES_CHANNEL,
        )
    finally:
        await connection.close()
    # One listener per instance (the task engine's workers listen on channels of their own).
    assert len(killed) == 2


def _kill_redis_client(name: str) -> None:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        ids = [entry["id"] for entry in client.client_list() if entry.get("name") == name]
        assert len(ids) == 1, ids
        client.client_kill_filter(_id=ids[0])
    finally:
        client.close()


# --- the request cache (connectory.services.request_cache) across the two instances ----------
# Each test warms the other instance's cache, changes something through the first, waits for
# the announcement to reach the other, and checks that the other's next request reflects it.


async def cached_fast(
    server: Server, world: World, connection_id: str, who: str = "a_viewer"
) -> Any:
    return await server.client.post(
        f"/connections/{connection_id}/operations/fast", headers=world.auth(who)
    )


async def warm_cache(
    server: Server, world: World, connection_id: str, who: str = "a_viewer"
) -> None:
    """Calls until the instance serves the token and the connection from its cache."""
    for _ in range(2):  # the first stores unknown -> healthy, which is announced
        assert (await cached_fast(server, world, connection_id, who)).status_code == 200
    cache = server.app.state.request_cache  # type: ignore[attr-defined]
    assert connection_id in cache._connections


async def cache_setup(
    api: httpx.AsyncClient,
    other: Server,
    world: World,
    settings: Settings,
    url: str,
    **resilience: Any,
) -> tuple[str, Heard]:
    """A connection whose token and details the other instance has cached."""
    document = gated_document(url, **resilience)
    connector_id = await insert_published_connector(settings.database_url, document)
    connection_id = await connect(api, world, connector_id)
    await warm_cache(other, world, connection_id)
    return connection_id, Heard(notifier_of(other))


async def test_a_revoked_token_is_refused_by_the_other_process(
    api: httpx.AsyncClient,
    server: Server,
    other: Server,
    world: World,
    settings: Settings,
    upstream: GatedUpstream,
) -> None:
    connection_id, heard = await cache_setup(api, other, world, settings, upstream.url)
    listed = await api.get("/tokens", headers=world.auth("a_viewer"))
    token_id = listed.json()["items"][0]["id"]
    assert (await api.delete(f"/tokens/{token_id}", headers=world.auth("a_admin"))).is_success
    user = world.users["a_viewer"]
    await heard.until(lambda: (f"user:{user}", 0) in heard.changes)
    assert (await cached_fast(other, world, connection_id)).status_code == 401
    assert (await cached_fast(other, world, connection_id, "a_admin")).status_code == 200


async def test_a_role_change_reaches_the_other_process(
    api: httpx.AsyncClient,
    server: Server,
    other: Server,
    world: World,
    settings: Settings,
    upstream: GatedUpstream,
) -> None:
    connection_id, heard = await cache_setup(api, other, world, settings, upstream.url)
    await warm_cache(other, world, connection_id, "a_plain_admin")
    user = world.users["a_plain_admin"]
    demoted = await api.patch(
        f"/users/{user}", json={"role": "viewer"}, headers=world.auth("a_admin")
    )
    assert demoted.status_code == 200, demoted.text
    await heard.until(lambda: (f"user:{user}", 0) in heard.changes)
    created = await other.client.post(
        "/connections",
        json={"connector_id": "x" * 32, "name": "c", "credentials": {}},
        headers=world.auth("a_plain_admin"),
    )
    assert created.status_code == 403, created.text


async def test_a_deleted_connection_is_gone_in_the_other_process(
    api: httpx.AsyncClient,
    server: Server,
    other: Server,
    world: World,
    settings: Settings,
    upstream: GatedUpstream,
) -> None:
    connection_id, heard = await cache_setup(api, other, world, settings, upstream.url)
    deleted = await api.delete(f"/connections/{connection_id}", headers=world.auth("a_admin"))
    assert deleted.status_code == 204
    await heard.until(lambda: any(cid == connection_id for cid, _ in heard.changes))
    assert (await cached_fast(other, world, connection_id)).status_code == 404
    assert upstream.count("/fast") == 2


async def test_new_credentials_are_used_by_the_other_process(
    api: httpx.AsyncClient,
    server: Server,
    other: Server,
    world: World,
    settings: Settings,
    upstream: GatedUpstream,
) -> None:
    connection_id, heard = await cache_setup(api, other, world, settings, upstream.url)
    changed = await api.put(
        f"/connections/{connection_id}",
        json={"credentials": {"api_key": "new-key"}},
        headers=world.auth("a_admin"),
    )
    assert changed.status_code == 200
    await heard.until(lambda: (connection_id, 2) in heard.changes)
    assert (await cached_fast(other, world, connection_id)).status_code == 200
    assert upstream.keys("/fast") == ["old-key", "old-key", "new-key"]
    # And it is cached again at the new generation: later calls read nothing.
    await warm_cache(other, world, connection_id)


async def test_a_health_change_reaches_the_other_process(
    api: httpx.AsyncClient,
    server: Server,
    other: Server,
    world: World,
    settings: Settings,
    upstream: GatedUpstream,
) -> None:
    connection_id, heard = await cache_setup(api, other, world, settings, upstream.url, timeout=0.2)
    # The first instance's call times out: the stored health becomes unreachable.
    failed = await server.client.post(
        f"/connections/{connection_id}/operations/slow", headers=world.auth("a_viewer")
    )
    assert failed.status_code == 504
    await heard.until(lambda: (f"health:{connection_id}", 0) in heard.changes)
    cache = other.app.state.request_cache  # type: ignore[attr-defined]
    assert connection_id not in cache._connections
    # The other process compares its next outcome with the stored (degraded) health.
    assert (await cached_fast(other, world, connection_id)).status_code == 200
    shown = await api.get(f"/connections/{connection_id}", headers=world.auth("a_admin"))
    assert shown.json()["health"] == "healthy"
