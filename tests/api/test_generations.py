"""Connection generations: every change a running client must see bumps and announces one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectory.services.connection_runtime import ConnectionRuntimes
from connectory.services.generations import GenerationNotifier
from connectory.settings import Settings
from connectory.spec.loader import read_connector_data
from connectory.testing import create_test_api, serve

from .state_support import stored_connection
from .support import Server, World, add_published_version, insert_published_connector

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def test_api() -> Iterator[str]:
    with serve(create_test_api(records=10)) as url:
        yield url


def plain_document(base_url: str) -> dict[str, Any]:
    document: dict[str, Any] = read_connector_data(EXAMPLES / "testapi" / "connector.yaml")
    document["base_url"] = base_url
    document["parameters"] = {"region": {"type": "string"}}
    return document


def oauth2_document(base_url: str) -> dict[str, Any]:
    """The test API's OAuth2 connector, storing the access tokens it fetches."""
    document: dict[str, Any] = read_connector_data(EXAMPLES / "testapi-auth" / "oauth2.yaml")
    document["base_url"] = base_url
    schema = document["auth"]["credential_schema"]
    schema["token_url"]["default"] = f"{base_url}/oauth/token"
    schema["access_token"] = {"type": "password"}
    return document


class Announcements:
    """Records what a notifier delivers in this process."""

    def __init__(self, notifier: GenerationNotifier) -> None:
        self.heard: list[tuple[str, int]] = []
        notifier.subscribe(lambda cid, generation: self.heard.append((cid, generation)))

    def of(self, connection_id: str) -> list[int]:
        return [generation for cid, generation in self.heard if cid == connection_id]


@pytest.fixture
def announcements(server: Server) -> Announcements:
    return Announcements(server.app.state.notifier)  # type: ignore[attr-defined]


async def connect(
    api: httpx.AsyncClient, world: World, connector_id: str, credentials: dict[str, str]
) -> str:
    response = await api.post(
        "/connections",
        json={"connector_id": connector_id, "name": "g", "credentials": credentials},
        headers=world.auth("a_admin"),
    )
    assert response.status_code == 201, response.text
    connection_id: str = response.json()["id"]
    return connection_id


async def generation(settings: Settings, connection_id: str) -> int:
    return (await stored_connection(settings.database_url, connection_id)).generation


async def test_each_change_bumps_and_announces_the_generation(
    api: httpx.AsyncClient,
    world: World,
    settings: Settings,
    test_api: str,
    announcements: Announcements,
) -> None:
    connector_id = await insert_published_connector(settings.database_url, plain_document(test_api))
    connection_id = await connect(api, world, connector_id, {"api_key": "test-api-key"})
    other = await connect(api, world, connector_id, {"api_key": "test-api-key"})
    admin = world.auth("a_admin")
    path = f"/connections/{connection_id}"
    assert await generation(settings, connection_id) == 1

    # A rename reaches no client: no bump. A refused change bumps nothing either.
    assert (await api.put(path, json={"name": "renamed"}, headers=admin)).status_code == 200
    refused = await api.put(path, json={"credentials": {"nope": "x"}}, headers=admin)
    assert refused.status_code == 422
    assert await generation(settings, connection_id) == 1
    assert announcements.heard == []

    changes = [
        ("credentials", api.put(path, json={"credentials": {"api_key": "new"}}, headers=admin)),
        ("config", api.put(path, json={"config": {"x": 1}}, headers=admin)),
    ]
    for number, (_what, request) in enumerate(changes, start=2):
        assert (await request).status_code == 200
        assert await generation(settings, connection_id) == number
        assert announcements.of(connection_id)[-1] == number

    await add_published_version(
        settings.database_url, connector_id, plain_document(test_api), "1.1.0"
    )
    moved = await api.post(f"{path}/upgrade", json={"dry_run": False}, headers=admin)
    assert moved.status_code == 200, moved.text
    assert await generation(settings, connection_id) == 4

    # Connector parameters reach every connection of the connector.
    parameters = await api.put(
        f"/connectors/{connector_id}/parameters",
        json={"values": {"region": "eu"}},
        headers=world.auth("platform"),
    )
    assert parameters.status_code == 200, parameters.text
    assert await generation(settings, connection_id) == 5
    assert await generation(settings, other) == 2
    assert announcements.of(other) == [2]

    assert (await api.delete(path, headers=admin)).status_code == 204
    assert await generation(settings, connection_id) == 6
    assert announcements.of(connection_id) == [2, 3, 4, 5, 6]


async def test_a_stored_token_refresh_bumps_without_replacing_the_refreshing_client(
    api: httpx.AsyncClient,
    server: Server,
    world: World,
    settings: Settings,
    test_api: str,
    announcements: Announcements,
) -> None:
    runtimes: ConnectionRuntimes = server.app.state.runtimes  # type: ignore[attr-defined]
    connector_id = await insert_published_connector(
        settings.database_url, oauth2_document(test_api)
    )
    connection_id = await connect(api, world, connector_id, {"client_secret": "connectory-secret"})
    for _ in range(2):
        ran = await api.post(
            f"/connections/{connection_id}/operations/list_items", headers=world.auth("a_viewer")
        )
        assert ran.status_code == 200, ran.text
        assert ran.json()["status_code"] == 200
    # The fetched token was stored (generation 2, announced); the client that fetched it
    # holds it already, so it was kept rather than rebuilt.
    assert await generation(settings, connection_id) == 2
    assert announcements.of(connection_id) == [2]
    assert runtimes.stats().built == 1
    shown = await api.get(f"/connections/{connection_id}", headers=world.auth("a_admin"))
    assert shown.json()["credentials"]["access_token"] == "********"
