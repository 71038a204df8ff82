"""Connections: write-only encrypted credentials, test, run operations, health, tenancy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select, text

from connectory.settings import Settings
from connectory.spec.loader import read_connector_data
from connectory.store import SecretValue, create_engine, create_sessionmaker
from connectory.testing import create_test_api, serve

from .support import World, add_published_version, insert_published_connector

API_KEY = "test-api-key"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "testapi" / "connector.yaml"


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """The project's test API on a free loopback port."""
    with serve(create_test_api(records=250)) as url:
        yield url


def document_for(base_url: str, slug: str = "test-api") -> dict[str, Any]:
    document: dict[str, Any] = read_connector_data(EXAMPLE)
    document["base_url"] = base_url
    document["slug"] = slug
    document["test_operation"] = "list_protected_items"
    return document


@pytest.fixture
async def connector_id(world: World, settings: Settings, upstream: str) -> str:
    return await insert_published_connector(settings.database_url, document_for(upstream))


async def create(
    api: httpx.AsyncClient,
    world: World,
    connector_id: str,
    key: str = API_KEY,
    user: str = "a_admin",
) -> httpx.Response:
    return await api.post(
        "/connections",
        json={"connector_id": connector_id, "name": "Main", "credentials": {"api_key": key}},
        headers=world.auth(user),
    )


async def test_create_shows_secrets_as_placeholder(
    api: httpx.AsyncClient, world: World, connector_id: str
) -> None:
    response = await create(api, world, connector_id)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["credentials"] == {"api_key": "********"}
    assert body["version"] == "1.0.0"
    assert body["health"] == "unknown"
    assert API_KEY not in response.text
    again = await api.get(f"/connections/{body['id']}", headers=world.auth("a_viewer"))
    assert again.status_code == 200
    assert again.json()["credentials"] == {"api_key": "********"}


async def test_credentials_are_validated_field_by_field(
    api: httpx.AsyncClient, world: World, connector_id: str
) -> None:
    response = await api.post(
        "/connections",
        json={"connector_id": connector_id, "name": "x", "credentials": {"api_kee": "v"}},
        headers=world.auth("a_admin"),
    )
    assert response.status_code == 422
    locations = {tuple(issue["loc"]) for issue in response.json()["issues"]}
    assert ("body", "credentials", "api_key") in locations
    assert ("body", "credentials", "api_kee") in locations
    assert "did you mean 'api_key'" in response.text


@pytest.mark.parametrize(
    ("user", "status"),
    [("a_viewer", 403), ("platform", 403), ("b_admin", 201), ("a_plain_admin", 201)],
)
async def test_who_may_create(
    api: httpx.AsyncClient, world: World, connector_id: str, user: str, status: int
) -> None:
    assert (await create(api, world, connector_id, user=user)).status_code == status


async def test_other_enterprises_see_nothing(
    api: httpx.AsyncClient, world: World, connector_id: str
) -> None:
    connection_id = (await create(api, world, connector_id)).json()["id"]
    for user in ("b_admin", "b_viewer", "platform"):
        headers = world.auth(user)
        for method, path in [
            ("GET", f"/connections/{connection_id}"),
            ("PUT", f"/connections/{connection_id}"),
            ("DELETE", f"/connections/{connection_id}"),
            ("POST", f"/connections/{connection_id}/test"),
            ("POST", f"/connections/{connection_id}/operations/get_item"),
        ]:
            response = await api.request(method, path, json={}, headers=headers)
            assert response.status_code == 404, (user, method, path, response.text)
        listing = await api.get("/connections", headers=headers)
        assert listing.json()["items"] == []


async def test_private_connector_of_another_enterprise_is_not_found(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: str
) -> None:
    private = await insert_published_connector(
        settings.database_url,
        document_for(upstream, "private-api"),
        enterprise_id=world.enterprises["b"],
    )
    response = await create(api, world, private)
    assert response.status_code == 404
    assert (await create(api, world, private, user="b_admin")).status_code == 201


async def test_test_and_run_operations(
    api: httpx.AsyncClient, world: World, connector_id: str
) -> None:
    connection_id = (await create(api, world, connector_id)).json()["id"]
    tested = await api.post(f"/connections/{connection_id}/test", headers=world.auth("a_admin"))
    assert tested.status_code == 200
    assert tested.json()["status"] == "ok"
    assert tested.json()["health"] == "healthy"
    ran = await api.post(
        f"/connections/{connection_id}/operations/get_item",
        json={"params": {"id": 7}},
        headers=world.auth("a_viewer"),
    )
    assert ran.status_code == 200, ran.text
    result = ran.json()
    assert result["status_code"] == 200
    assert result["body"]["id"] == 7
    assert result["request"]["headers"]["X-API-Key"] == "[REDACTED]"
    assert API_KEY not in ran.text
    assert (await api.get(f"/connections/{connection_id}", headers=world.auth("a_admin"))).json()[
        "health"
    ] == "healthy"


async def test_all_pages_stream_json_lines(
    api: httpx.AsyncClient, world: World, connector_id: str
) -> None:
    connection_id = (await create(api, world, connector_id)).json()["id"]
    response = await api.post(
        f"/connections/{connection_id}/operations/list_cursor_items?all_pages=true",
        headers=world.auth("a_admin"),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    ids = [orjson.loads(line)["id"] for line in response.content.splitlines()]
    assert sorted(ids) == list(range(1, 251))


@pytest.mark.parametrize(
    ("operation", "body", "status"),
    [
        ("no_such_operation", {}, 404),
        ("get_item", {"params": {"id": "seven"}}, 422),
        ("get_item", {"params": {"nope": 1}}, 422),
    ],
)
async def test_bad_operation_calls(
    api: httpx.AsyncClient,
    world: World,
    connector_id: str,
    operation: str,
    body: dict[str, Any],
    status: int,
) -> None:
    connection_id = (await create(api, world, connector_id)).json()["id"]
    for suffix in ("", "?all_pages=true"):
        response = await api.post(
            f"/connections/{connection_id}/operations/{operation}{suffix}",
            json=body,
            headers=world.auth("a_admin"),
        )
        assert response.status_code == status, response.text


async def test_placeholder_keeps_the_secret_and_a_new_value_replaces_it(
    api: httpx.AsyncClient, world: World, connector_id: str
) -> None:
    connection_id = (await create(api, world, connector_id)).json()["id"]
    headers = world.auth("a_admin")
    kept = await api.put(
        f"/connections/{connection_id}",
        json={"name": "Renamed", "credentials": {"api_key": "********"}},
        headers=headers,
    )
    assert kept.status_code == 200
    assert kept.json()["name"] == "Renamed"
    assert (await api.post(f"/connections/{connection_id}/test", headers=headers)).json()[
        "status"
    ] == "ok"
    replaced = await api.put(
        f"/connections/{connection_id}", json={"credentials": {"api_key": "wrong"}}, headers=headers
    )
    assert replaced.status_code == 200
    tested = (await api.post(f"/connections/{connection_id}/test", headers=headers)).json()
    assert tested["status"] == "auth_failed"
    assert tested["health"] == "auth_error"
    assert tested["upstream_status"] == 401


async def test_unreachable_upstream(
    api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    closed = await insert_published_connector(
        settings.database_url, document_for("http://127.0.0.1:9", "closed-port")
    )
    connection_id = (await create(api, world, closed)).json()["id"]
    tested = await api.post(f"/connections/{connection_id}/test", headers=world.auth("a_admin"))
    assert tested.json()["status"] == "unreachable"
    assert tested.json()["health"] == "unreachable"


async def test_secrets_are_encrypted_and_bound_to_their_row(
    api: httpx.AsyncClient, world: World, connector_id: str, settings: Settings
) -> None:
    first = (await create(api, world, connector_id)).json()["id"]
    second = (await create(api, world, connector_id, key="other-key-value")).json()["id"]
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = {
                row.owner_id: row
                for row in await session.scalars(
                    select(SecretValue).where(SecretValue.owner_type == "connection")
                )
            }
            assert API_KEY not in rows[first].ciphertext
            # Copy the first connection's ciphertext onto the second: it must not decrypt.
            await session.execute(
                text("UPDATE secret_values SET ciphertext = :c WHERE owner_id = :o"),
                {"c": rows[first].ciphertext, "o": second},
            )
            await session.commit()
    finally:
        await engine.dispose()
    tested = await api.post(f"/connections/{second}/test", headers=world.auth("a_admin"))
    assert tested.status_code == 200
    assert tested.json()["status"] == "failed"
    assert "integrity check" in tested.json()["detail"]
    assert API_KEY not in tested.text
    ran = await api.post(
        f"/connections/{second}/operations/get_item",
        json={"params": {"id": 1}},
        headers=world.auth("a_admin"),
    )
    assert ran.status_code == 500
    assert ran.json()["code"] == "secret_unreadable"
    assert API_KEY not in ran.text


async def test_delete_destroys_secrets(
    api: httpx.AsyncClient, world: World, connector_id: str, settings: Settings
) -> None:
    connection_id = (await create(api, world, connector_id)).json()["id"]
    deleted = await api.delete(f"/connections/{connection_id}", headers=world.auth("a_admin"))
    assert deleted.status_code == 204
    assert (
        await api.get(f"/connections/{connection_id}", headers=world.auth("a_admin"))
    ).status_code == 404
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            left = await session.scalar(
                select(SecretValue).where(SecretValue.owner_id == connection_id)
            )
            assert left is None
    finally:
        await engine.dispose()


async def test_upgrade_shows_breaking_changes_before_applying(
    api: httpx.AsyncClient, world: World, connector_id: str, settings: Settings, upstream: str
) -> None:
    connection_id = (await create(api, world, connector_id)).json()["id"]
    newer = document_for(upstream)
    newer["operations"] = [op for op in newer["operations"] if op["operation"] != "get_stats"]
    newer["auth"]["credential_schema"]["region"] = {"type": "string", "required": True}
    await add_published_version(settings.database_url, connector_id, newer, "2.0.0")
    headers = world.auth("a_admin")
    preview = await api.post(f"/connections/{connection_id}/upgrade", json={}, headers=headers)
    assert preview.status_code == 200, preview.text
    plan = preview.json()
    assert (plan["from_version"], plan["to_version"], plan["bump"]) == ("1.0.0", "2.0.0", "major")
    assert any("get_stats" in change for change in plan["breaking_changes"])
    assert any("region" in issue for issue in plan["credential_issues"])
    assert plan["applied"] is False
    refused = await api.post(
        f"/connections/{connection_id}/upgrade", json={"dry_run": False}, headers=headers
    )
    assert refused.status_code == 422
    assert ["body", "credentials", "region"] in [issue["loc"] for issue in refused.json()["issues"]]
    still = await api.get(f"/connections/{connection_id}", headers=headers)
    assert still.json()["version"] == "1.0.0"
    await api.put(
        f"/connections/{connection_id}",
        json={"credentials": {"api_key": "********"}},
        headers=headers,
    )
    # Credentials for 2.0.0 cannot be entered while on 1.0.0's schema; upgrade to a version
    # without the new field instead, proving the applied path.
    compatible = document_for(upstream)
    compatible["description"] = "wording only"
    await add_published_version(settings.database_url, connector_id, compatible, "2.0.1")
    applied = await api.post(
        f"/connections/{connection_id}/upgrade",
        json={"dry_run": False, "to_version": "2.0.1"},
        headers=headers,
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["applied"] is True
    assert (await api.get(f"/connections/{connection_id}", headers=headers)).json()[
        "version"
    ] == "2.0.1"
    tested = await api.post(f"/connections/{connection_id}/test", headers=headers)
    assert tested.json()["status"] == "ok"
