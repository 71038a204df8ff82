"""The app's shared behaviour: health, authentication, error shape, body limit."""

from __future__ import annotations

import httpx

from .support import Server, World


async def test_health_needs_no_token(api: httpx.AsyncClient) -> None:
    response = await api.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_bootstrap_token_works(server: Server) -> None:
    assert server.admin_token.startswith("cty_")


async def test_unknown_route_has_the_error_shape(api: httpx.AsyncClient) -> None:
    response = await api.get("/no-such-thing")
    assert response.status_code == 404
    assert set(response.json()) >= {"status", "code", "detail"}


async def test_oversized_body_is_413(api: httpx.AsyncClient, world: World) -> None:
    response = await api.post(
        "/health", content=b"x" * (3 * 1024 * 1024), headers=world.auth("platform")
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
