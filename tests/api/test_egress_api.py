"""The server refuses to call internal addresses unless allowlisted (SSRF protection)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectory.settings import Settings
from connectory.spec.loader import read_connector_data
from connectory.testing import create_test_api, serve

from .support import World, insert_published_connector

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "testapi" / "connector.yaml"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The default egress policy: public destinations only."""
    return Settings(database_url=database_url, data_dir=tmp_path)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve(create_test_api(records=10)) as url:
        yield url


def document(base_url: str, slug: str) -> dict[str, Any]:
    data: dict[str, Any] = read_connector_data(EXAMPLE)
    data.update(base_url=base_url, slug=slug, test_operation="get_stats")
    return data


def oauth_document(token_url: str) -> dict[str, Any]:
    return {
        "name": "OAuth internal",
        "slug": "oauth-internal",
        "base_url": "https://api.example.com",
        "auth": {
            "auth_type": "oauth2",
            "token_url": token_url,
            "credential_schema": {
                "client_id": {"type": "string", "required": True},
                "client_secret": {"type": "password", "required": True},
            },
        },
        "resilience": {"max_retries": 0},
        "operations": [{"name": "ping", "path": "/ping"}],
    }


@pytest.mark.parametrize(
    "base_url",
    [
        "UPSTREAM",
        "http://169.254.169.254",
        "http://[::ffff:127.0.0.1]:9",
        "http://10.0.0.1",
        "http://localhost:9",
    ],
)
async def test_internal_destinations_are_refused(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: str, base_url: str
) -> None:
    target = upstream if base_url == "UPSTREAM" else base_url
    connector_id = await insert_published_connector(settings.database_url, document(target, "x"))
    created = await api.post(
        "/connections",
        json={"connector_id": connector_id, "name": "x", "credentials": {"api_key": "k"}},
        headers=world.auth("a_admin"),
    )
    connection_id = created.json()["id"]
    tested = await api.post(f"/connections/{connection_id}/test", headers=world.auth("a_admin"))
    assert tested.json()["status"] == "unreachable"
    assert "not allowed for connectors" in tested.json()["detail"]
    ran = await api.post(
        f"/connections/{connection_id}/operations/get_stats", headers=world.auth("a_admin")
    )
    assert ran.status_code == 502
    assert ran.json()["code"] == "egress_denied"


async def test_token_requests_are_guarded_too(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: str
) -> None:
    connector_id = await insert_published_connector(
        settings.database_url, oauth_document(f"{upstream}/oauth/token")
    )
    created = await api.post(
        "/connections",
        json={
            "connector_id": connector_id,
            "name": "x",
            "credentials": {"client_id": "id", "client_secret": "secret"},
        },
        headers=world.auth("a_admin"),
    )
    tested = await api.post(
        f"/connections/{created.json()['id']}/test", headers=world.auth("a_admin")
    )
    assert tested.json()["status"] == "unreachable"
    assert "loopback" in tested.json()["detail"]
