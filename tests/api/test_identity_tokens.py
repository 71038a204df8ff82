"""API tokens: the secret is shown once, never stored or shown again; revoking works at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectory.services.tokens import hash_token
from connectory.settings import Settings
from connectory.store import ApiToken

from .identity_support import Store, open_store
from .support import World

PUBLIC_TOKEN_FIELDS = {
    "id",
    "user_id",
    "name",
    "prefix",
    "created_at",
    "last_used_at",
    "expires_at",
    "revoked_at",
}


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    async with open_store(settings.database_url) as opened:
        yield opened


async def test_a_new_token_is_shown_once_and_works(
    api: httpx.AsyncClient, world: World, store: Store
) -> None:
    viewer = world.users["a_viewer"]
    created = await api.post(
        f"/users/{viewer}/tokens", json={"name": "ci"}, headers=world.auth("a_viewer")
    )
    assert created.status_code == 201
    token = created.json()
    assert set(token) == PUBLIC_TOKEN_FIELDS | {"secret"}
    secret = token["secret"]
    assert secret.startswith("cty_") and secret.startswith(token["prefix"])
    assert (token["user_id"], token["name"], token["expires_at"]) == (viewer, "ci", None)

    me = await api.get("/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json()["user"]["id"] == viewer

    # Stored as a hash only, and never shown again: not by id, not in lists.
    row = await store.get(ApiToken, token["id"])
    assert row.token_hash == hash_token(secret) and secret not in repr(vars(row))
    for path in (f"/tokens/{token['id']}", "/tokens", f"/tokens?user_id={viewer}"):
        response = await api.get(path, headers=world.auth("a_admin"))
        assert response.status_code == 200
        assert secret not in response.text and row.token_hash not in response.text
        assert "secret" not in response.text and "hash" not in response.text
    shown = (await api.get(f"/tokens/{token['id']}", headers=world.auth("a_viewer"))).json()
    assert set(shown) == PUBLIC_TOKEN_FIELDS


async def test_an_admin_makes_a_token_for_a_user_they_manage(
    api: httpx.AsyncClient, world: World
) -> None:
    viewer = world.users["a_viewer"]
    created = await api.post(f"/users/{viewer}/tokens", json={}, headers=world.auth("a_admin"))
    assert created.status_code == 201
    secret = created.json()["secret"]
    me = await api.get("/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json()["user"]["role"] == "viewer"
    listed = await api.get("/tokens", params={"user_id": viewer}, headers=world.auth("a_admin"))
    assert created.json()["id"] in [item["id"] for item in listed.json()["items"]]


async def test_tokens_expire(api: httpx.AsyncClient, world: World, store: Store) -> None:
    created = await api.post(
        f"/users/{world.users['b_viewer']}/tokens",
        json={"expires_in_days": 30},
        headers=world.auth("b_viewer"),
    )
    expires_at = datetime.fromisoformat(created.json()["expires_at"])
    expected = datetime.now(UTC) + timedelta(days=30)
    assert abs(expires_at - expected) < timedelta(minutes=1)
    for days in (0, -1, 3651, "soon"):
        refused = await api.post(
            f"/users/{world.users['b_viewer']}/tokens",
            json={"expires_in_days": days},
            headers=world.auth("b_viewer"),
        )
        assert refused.status_code == 422
        assert refused.json()["issues"][0]["loc"] == ["body", "expires_in_days"]

    # An expired token is refused like any bad token.
    async with store.sessions() as session:
        row = await session.get_one(ApiToken, created.json()["id"])
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        await session.commit()
    expired = {"Authorization": f"Bearer {created.json()['secret']}"}
    assert (await api.get("/me", headers=expired)).status_code == 401


async def test_revoking_stops_a_token_at_once(api: httpx.AsyncClient, world: World) -> None:
    headers = world.auth("a_viewer")
    own = (await api.get("/tokens", headers=headers)).json()["items"]
    assert len(own) == 1
    revoked = await api.delete(f"/tokens/{own[0]['id']}", headers=headers)
    assert revoked.status_code == 204
    assert (await api.get("/me", headers=headers)).status_code == 401
    # Revoked tokens stay listed for the record when asked for, never as active.
    admin = world.auth("a_admin")
    user = world.users["a_viewer"]
    active = await api.get("/tokens", params={"user_id": user}, headers=admin)
    assert active.json()["items"] == []
    everything = await api.get(
        "/tokens", params={"user_id": user, "include_revoked": "true"}, headers=admin
    )
    assert [item["revoked_at"] is not None for item in everything.json()["items"]] == [True]
    # Revoking again changes nothing and is not an error.
    again = await api.delete(f"/tokens/{own[0]['id']}", headers=admin)
    assert again.status_code == 204
    assert (await api.get(f"/tokens/{own[0]['id']}", headers=admin)).json() == everything.json()[
        "items"
    ][0]


async def test_listing_shows_only_the_callers_tokens_by_default(
    api: httpx.AsyncClient, world: World
) -> None:
    for user in ("platform", "a_admin", "b_viewer"):
        page = (await api.get("/tokens", headers=world.auth(user))).json()
        assert {item["user_id"] for item in page["items"]} == {world.users[user]}
        assert page["total"] == 1


async def test_token_names_are_checked(api: httpx.AsyncClient, world: World) -> None:
    path = f"/users/{world.users['a_viewer']}/tokens"
    for body in ({"name": "x" * 201}, {"name": "new\nline"}, {"scope": "all"}):
        response = await api.post(path, json=body, headers=world.auth("a_viewer"))
        assert response.status_code == 422, body
