"""Connections through the server against a real authorization server (oidc-provider).

Wrong client secrets show as ``auth_error`` with the provider's own message; right ones as
healthy. The server's egress guard is opened for 127.0.0.1 only, as in production it would be
for a named internal provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from oauth_support import OidcProvider, ResourceServer

from connectory.api import create_app
from connectory.services.tokens import issue_token
from connectory.settings import Settings
from connectory.store import (
    Enterprise,
    User,
    create_engine,
    create_sessionmaker,
)
from testkit.connectors import add_published_connector

SPEC = Path(__file__).with_name("client-credentials.yaml")


async def _populate(database_url: str, document: dict[str, Any]) -> tuple[str, str, str]:
    """An enterprise admin's token, a platform admin's token, and a published connector id."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            enterprise = Enterprise(name="Acme")
            session.add(enterprise)
            await session.flush()
            admin = User(
                email="admin@acme.test",
                role="enterprise_admin",
                enterprise_id=enterprise.id,
            )
            platform = User(email="platform@acme.test", role="platform_admin")
            session.add_all([admin, platform])
            await session.flush()
            connector_id = await add_published_connector(session, document)
            admin_token = (await issue_token(session, admin)).secret
            platform_token = (await issue_token(session, platform)).secret
            await session.commit()
            return admin_token, platform_token, connector_id
    finally:
        await engine.dispose()


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        data_dir=tmp_path,
        egress_allow="127.0.0.1",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://server") as client:
            yield client, settings


async def test_wrong_secret_shows_auth_error_with_the_providers_message(
    api: tuple[httpx.AsyncClient, Settings],
    oidc: OidcProvider,
    oidc_api: tuple[ResourceServer, str],
) -> None:
    client, settings = api
    _, api_url = oidc_api
    document = yaml.safe_load(SPEC.read_text())
    document.update(base_url=api_url, test_operation="whoami")
    document["auth"]["client_authentication"] = "body"
    admin, platform, connector_id = await _populate(settings.database_url, document)
    parameters = await client.put(
        f"/connectors/{connector_id}/parameters",
        json={"values": {"issuer": oidc.issuer}},
        headers={"Authorization": f"Bearer {platform}"},
    )
    assert parameters.status_code == 200, parameters.text
    headers = {"Authorization": f"Bearer {admin}"}

    async def connect(secret: str) -> dict[str, Any]:
        created = await client.post(
            "/connections",
            json={
                "connector_id": connector_id,
                "name": "OIDC",
                "credentials": {"client_id": "cc-post", "client_secret": secret},
            },
            headers=headers,
        )
        assert created.status_code == 201, created.text
        tested = await client.post(f"/connections/{created.json()['id']}/test", headers=headers)
        assert tested.status_code == 200
        assert secret not in tested.text
        again = await client.get(f"/connections/{created.json()['id']}", headers=headers)
        return {**tested.json(), "stored_health": again.json()["health"]}

    wrong = await connect("not-the-secret")
    assert wrong["status"] == "auth_failed"
    assert wrong["stored_health"] == "auth_error"
    assert "invalid_client" in wrong["detail"]
    assert wrong["upstream_status"] == 401
    right = await connect("cc-post-secret")
    assert right["status"] == "ok", right
    assert right["stored_health"] == "healthy"
