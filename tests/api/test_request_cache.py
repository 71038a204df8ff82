"""The operation call's hot path: no statement per call, and every change still seen at once.

One server process here (SQLite and PostgreSQL); two processes are in
test_generations_across_processes.py. The time-based fallback runs on an injected clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, update

from connectory.api import deps
from connectory.api.routers import connections as connections_router
from connectory.services.request_cache import RequestCache
from connectory.settings import Settings
from connectory.store import ApiToken, Connection, User, create_engine, create_sessionmaker, utcnow

from .gated_upstream import GatedUpstream, gated_document
from .support import Server, World, insert_published_connector

CALLS = 20


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No call log flush during a test (its batched write is counted on its own), and no
    # background worker in the process: its periodic checks are not per call.
    return settings.model_copy(update={"call_log_flush_interval": 60.0, "run_worker": False})


@pytest.fixture
async def upstream() -> AsyncIterator[GatedUpstream]:
    async with GatedUpstream() as server:
        yield server


@pytest.fixture
def clock(server: Server) -> FakeClock:
    fake = FakeClock()
    cache_of(server).clock = fake
    return fake


def cache_of(server: Server) -> RequestCache:
    cache: RequestCache = server.app.state.request_cache  # type: ignore[attr-defined]
    return cache


@contextmanager
def statements(server: Server) -> Iterator[list[str]]:
    """Every SQL statement the server's engine runs inside the block."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = server.app.state.engine.sync_engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def connect(api: httpx.AsyncClient, world: World, settings: Settings, url: str) -> str:
    connector_id = await insert_published_connector(settings.database_url, gated_document(url))
    response = await api.post(
        "/connections",
        json={"connector_id": connector_id, "name": "c", "credentials": {"api_key": "k"}},
        headers=world.auth("a_admin"),
    )
    assert response.status_code == 201, response.text
    connection_id: str = response.json()["id"]
    return connection_id


async def warm(api: httpx.AsyncClient, world: World, connection_id: str) -> None:
    """Two calls: the first reads everything and stores unknown -> healthy (announced, so
    the connection is read once more by the second), after which both are cached."""
    for _ in range(2):
        assert (await fast(api, world, connection_id)).status_code == 200


async def fast(
    api: httpx.AsyncClient, world: World, connection_id: str, who: str = "a_viewer"
) -> httpx.Response:
    return await api.post(f"/connections/{connection_id}/operations/fast", headers=world.auth(who))


async def behind_its_back(settings: Settings, statement: Any) -> None:
    """Change the database as another process would, without announcing anything."""
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            await session.execute(statement)
            await session.commit()
    finally:
        await engine.dispose()


async def test_operation_calls_run_no_statement_once_warm(
    api: httpx.AsyncClient,
    server: Server,
    world: World,
    settings: Settings,
    upstream: GatedUpstream,
) -> None:
    connection_id = await connect(api, world, settings, upstream.url)
    await warm(api, world, connection_id)
    with statements(server) as seen:
        for _ in range(CALLS):
            response = await fast(api, world, connection_id)
            assert response.status_code == 200
            assert response.json()["status_code"] == 200
    assert seen == []
    assert upstream.count("/fast") == CALLS + 2
    # The call log is written in batches: all of these calls in one INSERT.
    with statements(server) as seen:
        await server.app.state.telemetry.flush()  # type: ignore[attr-defined]
    inserts = [s for s in seen if s.lstrip().upper().startswith("INSERT INTO CALL")]
    assert len(inserts) == 1, seen


async def test_the_first_call_reads_and_later_ones_do_not(
    api: httpx.AsyncClient,
    server: Server,
    world: World,
    settings: Settings,
    upstream: GatedUpstream,
) -> None:
    connection_id = await connect(api, world, settings, upstream.url)
    await warm(api, world, connection_id)
    # Another user of the same enterprise: their token is read once, the connection not.
    with statements(server) as seen:
        assert (await fast(api, world, connection_id, "a_plain_admin")).status_code == 200
    assert any("api_tokens" in s for s in seen)
    assert not any("FROM connections" in s for s in seen)
    with statements(server) as seen:
        assert (await fast(api, world, connection_id, "a_plain_admin")).status_code == 200
    assert seen == []


async def test_a_revoked_token_is_refused_on_the_next_call(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: GatedUpstream
) -> None:
    connection_id = await connect(api, world, settings, upstream.url)
    assert (await fast(api, world, connection_id)).status_code == 200
    listed = await api.get("/tokens", headers=world.auth("a_viewer"))
    token_id = listed.json()["items"][0]["id"]
    revoked = await api.delete(f"/tokens/{token_id}", headers=world.auth("a_admin"))
    assert revoked.status_code in (200, 204), revoked.text
    assert (await fast(api, world, connection_id)).status_code == 401


async def test_a_deleted_connection_is_gone_on_the_next_call(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: GatedUpstream
) -> None:
    connection_id = await connect(api, world, settings, upstream.url)
    assert (await fast(api, world, connection_id)).status_code == 200
    deleted = await api.delete(f"/connections/{connection_id}", headers=world.auth("a_admin"))
    assert deleted.status_code == 204, deleted.text
    assert (await fast(api, world, connection_id)).status_code == 404
    assert upstream.count("/fast") == 1


async def test_a_credential_change_is_used_on_the_next_call(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: GatedUpstream
) -> None:
    connection_id = await connect(api, world, settings, upstream.url)
    assert (await fast(api, world, connection_id)).status_code == 200
    changed = await api.put(
        f"/connections/{connection_id}",
        json={"credentials": {"api_key": "new"}},
        headers=world.auth("a_admin"),
    )
    assert changed.status_code == 200, changed.text
    assert (await fast(api, world, connection_id)).status_code == 200
    assert upstream.keys("/fast") == ["k", "new"]


async def test_a_role_change_applies_on_the_next_call(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: GatedUpstream
) -> None:
    connection_id = await connect(api, world, settings, upstream.url)
    assert (await fast(api, world, connection_id, "a_plain_admin")).status_code == 200
    demoted = await api.patch(
        f"/users/{world.users['a_plain_admin']}",
        json={"role": "viewer"},
        headers=world.auth("a_admin"),
    )
    assert demoted.status_code == 200, demoted.text
    # The cached principal was an admin; the new role is what counts on the next request.
    created = await api.post(
        "/connections",
        json={"connector_id": "x" * 32, "name": "c", "credentials": {}},
        headers=world.auth("a_plain_admin"),
    )
    assert created.status_code == 403, created.text


async def test_another_enterprise_never_gets_a_cached_connection(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: GatedUpstream
) -> None:
    connection_id = await connect(api, world, settings, upstream.url)
    assert (await fast(api, world, connection_id)).status_code == 200
    for who in ("b_viewer", "b_admin", "platform"):
        assert (await fast(api, world, connection_id, who)).status_code == 404
    assert upstream.count("/fast") == 1


async def test_an_expired_token_is_refused_although_cached(
    api: httpx.AsyncClient,
    server: Server,
    world: World,
    settings: Settings,
    upstream: GatedUpstream,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection_id = await connect(api, world, settings, upstream.url)
    created = await api.post(
        f"/users/{world.users['a_viewer']}/tokens",
        json={"name": "short", "expires_in_days": 1},
        headers=world.auth("a_viewer"),
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    headers = {"Authorization": f"Bearer {secret}"}
    path = f"/connections/{connection_id}/operations/fast"
    assert (await api.post(path, headers=headers)).status_code == 200
    assert (await api.post(path, headers=headers)).status_code == 200
    assert any(e.expires_at is not None for e in cache_of(server)._principals.values())
    # The request's clock passes the expiry: the cached entry is not used beyond it.
    later = utcnow() + timedelta(days=2)
    monkeypatch.setattr(deps, "utcnow", lambda: later)
    assert (await api.post(path, headers=headers)).status_code == 401
    assert (await fast(api, world, connection_id)).status_code == 200  # other tokens work


async def test_without_an_announcement_the_ttl_bounds_staleness(
    api: httpx.AsyncClient,
    server: Server,
    world: World,
    settings: Settings,
    upstream: GatedUpstream,
    clock: FakeClock,
) -> None:
    connection_id = await connect(api, world, settings, upstream.url)
    await warm(api, world, connection_id)
    # Another process revoked the token and deleted the connection, and both announcements
    # were lost (it died between its commit and its publish).
    await behind_its_back(
        settings,
        update(ApiToken)
        .where(ApiToken.user_id == world.users["a_viewer"])
        .values(revoked_at=utcnow()),
    )
    await behind_its_back(
        settings,
        update(Connection).where(Connection.id == connection_id).values(deleted_at=utcnow()),
    )
    clock.now += cache_of(server).ttl * 0.9
    assert (await fast(api, world, connection_id)).status_code == 200  # still cached
    clock.now += cache_of(server).ttl * 0.1
    assert (await fast(api, world, connection_id)).status_code == 401
    assert (await fast(api, world, connection_id, "a_admin")).status_code == 404


async def test_a_gap_in_announcements_drops_everything(
    api: httpx.AsyncClient,
    server: Server,
    world: World,
    settings: Settings,
    upstream: GatedUpstream,
    clock: FakeClock,
) -> None:
    connection_id = await connect(api, world, settings, upstream.url)
    await warm(api, world, connection_id)
    await behind_its_back(
        settings,
        update(User).where(User.id == world.users["a_viewer"]).values(deleted_at=utcnow()),
    )
    assert (await fast(api, world, connection_id)).status_code == 200  # still cached
    server.app.state.notifier.deliver_gap()  # type: ignore[attr-defined]
    assert (await fast(api, world, connection_id)).status_code == 401


async def test_a_ttl_of_zero_reads_the_database_every_time(
    api: httpx.AsyncClient,
    server: Server,
    world: World,
    settings: Settings,
    upstream: GatedUpstream,
) -> None:
    connection_id = await connect(api, world, settings, upstream.url)
    cache_of(server).ttl = 0
    assert (await fast(api, world, connection_id)).status_code == 200
    with statements(server) as seen:
        assert (await fast(api, world, connection_id)).status_code == 200
    assert any("api_tokens" in s for s in seen)
    assert any("FROM connections" in s for s in seen)


async def test_concurrent_calls_past_the_ttl_read_the_token_and_connection_once(
    api: httpx.AsyncClient,
    server: Server,
    world: World,
    settings: Settings,
    upstream: GatedUpstream,
    clock: FakeClock,
) -> None:
    connection_id = await connect(api, world, settings, upstream.url)
    await warm(api, world, connection_id)
    clock.now += cache_of(server).ttl  # every entry expired: all of these miss at once
    with statements(server) as seen:
        answers = await asyncio.gather(*(fast(api, world, connection_id) for _ in range(10)))
    assert [a.status_code for a in answers] == [200] * 10
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert len([s for s in selects if "FROM api_tokens" in s]) == 1, selects
    assert len([s for s in selects if "FROM connections" in s]) == 1, selects
    # Served from the cache again afterwards.
    with statements(server) as seen:
        assert (await fast(api, world, connection_id)).status_code == 200
    assert seen == []


async def test_past_the_ttl_one_call_takes_the_slow_path_and_the_others_wait_for_its_reads(
    api: httpx.AsyncClient,
    server: Server,
    world: World,
    settings: Settings,
    upstream: GatedUpstream,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection_id = await connect(api, world, settings, upstream.url)
    await warm(api, world, connection_id)
    slow: list[str] = []

    class CountedSource(connections_router.SessionSource):
        """The FastAPI route's source: one per request on the slow path."""

        def __init__(self, *args: Any) -> None:
            slow.append("route")
            super().__init__(*args)

    monkeypatch.setattr(connections_router, "SessionSource", CountedSource)
    clock.now += cache_of(server).ttl  # every entry expired: all of these miss at once
    with statements(server) as seen:
        answers = await asyncio.gather(*(fast(api, world, connection_id) for _ in range(10)))
    assert [a.status_code for a in answers] == [200] * 10
    # The first reads (token, then connection) on the slow path; the other nine wait for
    # those reads on the fast path instead of each going through the framework.
    assert slow == ["route"]
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert len([s for s in selects if "FROM api_tokens" in s]) == 1, selects
    assert len([s for s in selects if "FROM connections" in s]) == 1, selects
