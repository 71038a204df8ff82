"""Shared limiter state is per owner: ids, never slugs, and a connector budget per enterprise.

Every test runs with the limiter and breaker in memory and on Redis (a key prefix of its own),
on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from connectory.settings import Settings

from .gated_upstream import GatedUpstream, gated_document
from .state_support import REDIS_URL, redis_keys, redis_prefix
from .support import World, insert_published_connector

BUDGET = 3


@pytest.fixture(params=["memory", "redis"])
def state(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for in-process state, else the Redis key prefix of this test."""
    if request.param == "memory":
        yield None
        return
    yield from redis_prefix()


@pytest.fixture
def settings(settings: Settings, state: str | None) -> Settings:
    if state is None:
        return settings
    return settings.model_copy(update={"redis_url": REDIS_URL, "redis_prefix": state})


@pytest.fixture
async def upstream() -> AsyncIterator[GatedUpstream]:
    async with GatedUpstream() as server:
        yield server


def limited(base_url: str, **resilience: Any) -> dict[str, Any]:
    """The gated connector, slug ``shared-slug``, with a connector-wide budget of 3 a minute."""
    return gated_document(
        base_url, "shared-slug", rate_limit=None, connector_rate_limit=BUDGET, **resilience
    )


async def connect(api: httpx.AsyncClient, world: World, connector_id: str, admin: str) -> str:
    response = await api.post(
        "/connections",
        json={"connector_id": connector_id, "name": "c", "credentials": {"api_key": "k"}},
        headers=world.auth(admin),
    )
    assert response.status_code == 201, response.text
    connection_id: str = response.json()["id"]
    return connection_id


async def statuses(
    api: httpx.AsyncClient, world: World, connection_id: str, user: str, count: int
) -> list[int]:
    answers = []
    for _ in range(count):
        response = await api.post(
            f"/connections/{connection_id}/operations/fast", headers=world.auth(user)
        )
        answers.append(response.status_code)
    return answers


async def test_a_private_connector_with_a_catalogue_slug_has_its_own_budget(
    api: httpx.AsyncClient,
    world: World,
    settings: Settings,
    upstream: GatedUpstream,
    state: str | None,
) -> None:
    catalogue = await insert_published_connector(settings.database_url, limited(upstream.url))
    private = await insert_published_connector(
        settings.database_url, limited(upstream.url), enterprise_id=world.enterprises["b"]
    )
    mine = await connect(api, world, private, "b_admin")
    theirs = await connect(api, world, catalogue, "a_admin")
    # Enterprise B spends its private connector's whole budget...
    assert await statuses(api, world, mine, "b_viewer", BUDGET + 1) == [200] * BUDGET + [429]
    # ...which is not the Catalogue connector's, although the slugs are the same.
    assert await statuses(api, world, theirs, "a_viewer", BUDGET) == [200] * BUDGET
    if state is not None:
        keys = redis_keys(state)
        assert f"rl:connector:{private}/{world.enterprises['b']}" in keys
        assert f"rl:connector:{catalogue}/{world.enterprises['a']}" in keys
        assert not [key for key in keys if "shared-slug" in key]


async def test_a_catalogue_connector_budget_is_per_enterprise(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: GatedUpstream
) -> None:
    catalogue = await insert_published_connector(settings.database_url, limited(upstream.url))
    of_a = await connect(api, world, catalogue, "a_admin")
    also_of_a = await connect(api, world, catalogue, "a_admin")
    of_b = await connect(api, world, catalogue, "b_admin")
    assert await statuses(api, world, of_a, "a_viewer", 2) == [200, 200]
    # Enterprise A's connections share A's budget...
    assert await statuses(api, world, also_of_a, "a_viewer", 2) == [200, 429]
    # ...and enterprise B has a budget of its own.
    assert await statuses(api, world, of_b, "b_viewer", BUDGET + 1) == [200] * BUDGET + [429]


async def test_deployment_scope_shares_one_budget(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: GatedUpstream
) -> None:
    document = limited(upstream.url, connector_rate_limit_scope="deployment")
    catalogue = await insert_published_connector(settings.database_url, document)
    of_a = await connect(api, world, catalogue, "a_admin")
    of_b = await connect(api, world, catalogue, "b_admin")
    assert await statuses(api, world, of_a, "a_viewer", 2) == [200, 200]
    assert await statuses(api, world, of_b, "b_viewer", 2) == [200, 429]
    assert await statuses(api, world, of_a, "a_viewer", 1) == [429]
