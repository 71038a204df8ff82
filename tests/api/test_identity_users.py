"""Users: creating, finding, changing and deleting them, and who may grant what."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from connectory.settings import Settings
from connectory.store import ApiToken, User

from .identity_support import Store, open_store
from .support import World

PUBLIC_USER_FIELDS = {"id", "email", "name", "role", "enterprise_id", "sdk_access", "created_at"}


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    async with open_store(settings.database_url) as opened:
        yield opened


async def test_enterprise_admin_creates_a_user_in_their_enterprise(
    api: httpx.AsyncClient, world: World
) -> None:
    response = await api.post(
        "/users",
        json={"email": "New.Person@Example.TEST", "name": "New Person", "role": "viewer"},
        headers=world.auth("a_plain_admin"),
    )
    assert response.status_code == 201
    user = response.json()
    assert set(user) == PUBLIC_USER_FIELDS
    assert user["email"] == "new.person@example.test"
    assert user["enterprise_id"] == world.enterprises["a"]
    assert (user["role"], user["sdk_access"]) == ("viewer", False)
    fetched = await api.get(f"/users/{user['id']}", headers=world.auth("a_admin"))
    assert fetched.json() == user


async def test_emails_are_unique_among_live_users(
    api: httpx.AsyncClient, world: World, store: Store
) -> None:
    headers = world.auth("platform")
    body = {"email": "A_VIEWER@example.test", "role": "viewer"}
    body["enterprise_id"] = world.enterprises["b"]
    before = await store.count(User)
    taken = await api.post("/users", json=body, headers=headers)
    assert taken.status_code == 409
    assert "a_viewer@example.test" in taken.json()["detail"]
    assert await store.count(User) == before

    moved = await api.patch(
        f"/users/{world.users['b_viewer']}", json={"email": "a_admin@example.test"}, headers=headers
    )
    assert moved.status_code == 409

    # Once its user is deleted, an email can be used again.
    gone = await api.delete(f"/users/{world.users['a_viewer']}", headers=headers)
    assert gone.status_code == 204
    again = await api.post("/users", json=body, headers=headers)
    assert again.status_code == 201


BAD_BODIES: list[tuple[dict[str, object], list[str]]] = [
    ({"email": "no-at-sign", "role": "viewer"}, ["body", "email"]),
    ({"email": "two@@example.test", "role": "viewer"}, ["body", "email"]),
    ({"email": "spa ce@example.test", "role": "viewer"}, ["body", "email"]),
    ({"email": "nul\x00@example.test", "role": "viewer"}, ["body", "email"]),
    ({"email": "x" * 320 + "@example.test", "role": "viewer"}, ["body", "email"]),
    ({"email": "ok@example.test", "role": "owner"}, ["body", "role"]),
    ({"email": "ok@example.test"}, ["body", "role"]),
    ({"email": "ok@example.test", "role": "viewer", "name": "x" * 201}, ["body", "name"]),
    (
        {"email": "ok@example.test", "role": "viewer", "sdk_access": "yes"},
        ["body", "sdk_access"],
    ),
    ({"email": "ok@example.test", "role": "viewer", "admin": True}, ["body", "admin"]),
    (
        {"email": "ok@example.test", "role": "viewer", "enterprise_id": ""},
        ["body", "enterprise_id"],
    ),
]


async def test_bad_user_bodies_are_422_with_the_field(
    api: httpx.AsyncClient, world: World, store: Store
) -> None:
    before = await store.count(User)
    wrong = {}
    for body, loc in BAD_BODIES:
        response = await api.post("/users", json=body, headers=world.auth("a_admin"))
        issues = [issue["loc"] for issue in response.json().get("issues", [])]
        if response.status_code != 422 or loc not in issues:
            wrong[repr(body)] = (response.status_code, issues)
    assert wrong == {}
    assert await store.count(User) == before


MISFITS: list[tuple[dict[str, object], str]] = [
    ({"role": "viewer"}, "enterprise_id"),
    ({"role": "platform_admin", "enterprise_id": "{a}"}, "enterprise_id"),
    ({"role": "platform_admin", "sdk_access": True}, "sdk_access"),
    ({"role": "viewer", "enterprise_id": "{a}", "sdk_access": True}, "sdk_access"),
]


async def test_role_enterprise_and_sdk_access_must_fit_together(
    api: httpx.AsyncClient, world: World
) -> None:
    wrong = {}
    for misfit, field in MISFITS:
        body = {
            key: world.enterprises["a"] if value == "{a}" else value
            for key, value in misfit.items()
        }
        response = await api.post(
            "/users", json={"email": "fit@example.test", **body}, headers=world.auth("platform")
        )
        if response.status_code != 422 or response.json()["issues"][0]["loc"] != ["body", field]:
            wrong[repr(misfit)] = response.text
    assert wrong == {}


async def test_platform_admins_create_platform_admins(api: httpx.AsyncClient, world: World) -> None:
    response = await api.post(
        "/users",
        json={"email": "second@example.test", "role": "platform_admin"},
        headers=world.auth("platform"),
    )
    assert response.status_code == 201
    assert response.json()["enterprise_id"] is None


async def test_lists_show_what_the_caller_may_see(api: httpx.AsyncClient, world: World) -> None:
    async def ids(user: str, **params: str) -> set[str]:
        response = await api.get("/users", params=params, headers=world.auth(user))
        assert response.status_code == 200
        page = response.json()
        assert page["total"] == len(page["items"])
        return {item["id"] for item in page["items"]}

    users = world.users
    a_users = {users["a_admin"], users["a_plain_admin"], users["a_viewer"]}
    assert await ids("a_plain_admin") == a_users
    assert await ids("a_viewer") == {users["a_viewer"]}
    assert await ids("b_viewer") == {users["b_viewer"]}
    assert await ids("b_admin") == {users["b_admin"], users["b_viewer"]}
    assert len(await ids("platform")) == 7  # the bootstrap admin, and the world's six
    # Filters and searches never reach past what the caller sees.
    assert await ids("a_admin", q="b_") == set()
    assert await ids("a_admin", role="viewer") == {users["a_viewer"]}
    assert await ids("platform", role="platform_admin") >= {users["platform"]}
    assert await ids("platform", enterprise_id=world.enterprises["b"]) == {
        users["b_admin"],
        users["b_viewer"],
    }
    assert await ids("platform", q="PLAIN") == {users["a_plain_admin"]}


async def test_users_pages_are_stable_and_complete(api: httpx.AsyncClient, world: World) -> None:
    headers = world.auth("a_admin")
    for number in range(12):
        created = await api.post(
            "/users", json={"email": f"u{number}@example.test", "role": "viewer"}, headers=headers
        )
        assert created.status_code == 201
    seen: list[str] = []
    for offset in range(0, 15, 4):
        page = (
            await api.get("/users", params={"limit": 4, "offset": offset}, headers=headers)
        ).json()
        assert page["total"] == 15
        assert (page["limit"], page["offset"]) == (4, offset)
        seen += [item["id"] for item in page["items"]]
    assert len(seen) == len(set(seen)) == 15


async def test_everyone_edits_their_own_name_and_email(
    api: httpx.AsyncClient, world: World
) -> None:
    response = await api.patch(
        f"/users/{world.users['a_viewer']}",
        json={"name": "Vera Viewer", "email": "vera@example.test"},
        headers=world.auth("a_viewer"),
    )
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["email"]) == (
        "Vera Viewer",
        "vera@example.test",
    )
    unchanged = await api.patch(
        f"/users/{world.users['a_viewer']}", json={}, headers=world.auth("a_viewer")
    )
    assert unchanged.json() == response.json()


SELF_PROMOTIONS: list[tuple[str, dict[str, object]]] = [
    ("a_viewer", {"role": "enterprise_admin"}),
    ("a_plain_admin", {"sdk_access": True}),
    ("a_admin", {"role": "viewer"}),
    ("a_admin", {"sdk_access": False}),
    ("platform", {"role": "viewer"}),
]


async def test_nobody_changes_their_own_role_or_sdk_access(
    api: httpx.AsyncClient, world: World, store: Store
) -> None:
    before = await store.snapshot()
    wrong = {}
    for user, body in SELF_PROMOTIONS:
        response = await api.patch(
            f"/users/{world.users[user]}", json=body, headers=world.auth(user)
        )
        if response.status_code != 403 or "your own role" not in response.json()["detail"]:
            wrong[f"{user} {body}"] = response.text
    assert wrong == {}
    assert await store.snapshot() == before


async def test_sdk_access_is_granted_only_by_those_who_have_it(
    api: httpx.AsyncClient, world: World
) -> None:
    viewer = world.users["a_viewer"]
    promote = {"role": "enterprise_admin", "sdk_access": True}
    refused = await api.patch(f"/users/{viewer}", json=promote, headers=world.auth("a_plain_admin"))
    assert refused.status_code == 403
    granted = await api.patch(f"/users/{viewer}", json=promote, headers=world.auth("a_admin"))
    assert granted.status_code == 200
    assert (granted.json()["role"], granted.json()["sdk_access"]) == ("enterprise_admin", True)
    # Taking it away is not a grant: an admin without SDK access may do it.
    demoted = await api.patch(
        f"/users/{viewer}", json={"role": "viewer"}, headers=world.auth("a_plain_admin")
    )
    assert demoted.status_code == 200
    # SDK access goes with the role it belongs to.
    assert (demoted.json()["role"], demoted.json()["sdk_access"]) == ("viewer", False)


async def test_roles_do_not_cross_the_platform_boundary(
    api: httpx.AsyncClient, world: World
) -> None:
    second = await api.post(
        "/users",
        json={"email": "second@example.test", "role": "platform_admin"},
        headers=world.auth("platform"),
    )
    response = await api.patch(
        f"/users/{second.json()['id']}", json={"role": "viewer"}, headers=world.auth("platform")
    )
    assert response.status_code == 422
    assert response.json()["issues"][0]["loc"] == ["body", "role"]


async def test_deleting_a_user_revokes_their_tokens(
    api: httpx.AsyncClient, world: World, store: Store
) -> None:
    viewer = world.users["a_viewer"]
    assert (await api.get("/me", headers=world.auth("a_viewer"))).status_code == 200
    deleted = await api.delete(f"/users/{viewer}", headers=world.auth("a_plain_admin"))
    assert deleted.status_code == 204
    assert (await api.get("/me", headers=world.auth("a_viewer"))).status_code == 401
    assert (await api.get(f"/users/{viewer}", headers=world.auth("a_admin"))).status_code == 404
    row = await store.get(User, viewer)
    assert row is not None and row.deleted_at is not None
    assert all(token.revoked_at is not None for token in await store.tokens_of(viewer))
    assert await store.count(ApiToken, ApiToken.user_id == viewer) == 1


async def test_ids_that_cannot_exist_are_404_not_500(api: httpx.AsyncClient, world: World) -> None:
    # "%2E%2E", not "..": a client would normalise ".." away before it reached the server.
    for odd in ("%00", "x" * 300, "%2E%2E", "a b", "%F0%9F%98%80"):
        response = await api.get(f"/users/{odd}", headers=world.auth("platform"))
        assert response.status_code == 404, odd
    response = await api.get(
        "/users", params={"enterprise_id": "\x00"}, headers=world.auth("platform")
    )
    assert response.status_code == 404
    response = await api.get("/users", params={"q": "\x00"}, headers=world.auth("platform"))
    assert response.status_code == 422
