"""Documents keep their key order on every database (it is the order of the connect form)."""

from __future__ import annotations

import httpx

from connectory.settings import Settings

from .support import World, insert_published_connector


async def test_credential_fields_keep_their_order(
    api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    fields = ["zone", "account", "password", "client_id", "beta"]
    document = {
        "name": "Ordered",
        "slug": "ordered",
        "base_url": "https://api.example.com",
        "auth": {
            "auth_type": "basic",
            "username": "{{ credentials.account }}",
            "credential_schema": {name: {"type": "string"} for name in fields},
        },
        "operations": [{"name": "ping", "path": "/ping"}],
    }
    connector_id = await insert_published_connector(settings.database_url, document)
    response = await api.get(
        f"/connectors/{connector_id}/versions/1.0.0", headers=world.auth("a_viewer")
    )
    assert response.status_code == 200, response.text
    stored = response.json()["document"]["auth"]["credential_schema"]
    assert list(stored) == fields
