"""Enterprises and /me: what admins expect of tenants."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from connectory.settings import Settings
from connectory.store import Connector, Enterprise

from .identity_support import Store, open_store
from .support import World


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    async with open_store(settings.database_url) as opened:
        yield opened


@pytest.mark.parametrize(
    ("user", "enterprise", "can_build"),
    [
        ("platform", None, True),
        ("a_admin", "a", True),
        ("a_plain_admin", "a", False),
        ("a_viewer", "a", False),
        ("b_viewer", "b", False),
    ],
)
async def test_me_says_who_the_caller_is(
    api: httpx.AsyncClient, world: World, user: str, enterprise: str | None, can_build: bool
) -> None:
    response = await api.get("/me", headers=world.auth(user))
    assert response.status_code == 200
    me = response.json()
    assert me["user"]["id"] == world.users[user]
    assert me["user"]["email"] == f"{user}@example.test"
    assert me["can_build_connectors"] is can_build
    if enterprise is None:
        assert me["enterprise"] is None
    else:
        assert me["enterprise"]["id"] == world.enterprises[enterprise]


async def test_platform_admin_creates_and_finds_an_enterprise(
    api: httpx.AsyncClient, world: World
) -> None:
    created = await api.post(
        "/enterprises", json={"name": "  Acme Ltd  "}, headers=world.auth("platform")
    )
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "Acme Ltd"  # surrounding spaces are not part of a name
    assert set(body) == {"id", "name", "created_at"}
    assert body["created_at"].endswith(("Z", "+00:00"))
    fetched = await api.get(f"/enterprises/{body['id']}", headers=world.auth("platform"))
    assert fetched.json() == body
    found = await api.get("/enterprises", params={"q": "acme"}, headers=world.auth("platform"))
    assert [item["id"] for item in found.json()["items"]] == [body["id"]]


async def test_enterprise_names_are_unique_ignoring_case(
    api: httpx.AsyncClient, world: World
) -> None:
    headers = world.auth("platform")
    taken = await api.post("/enterprises", json={"name": "enterprise a"}, headers=headers)
    assert taken.status_code == 409
    assert "exists already" in taken.json()["detail"]
    b = world.enterprises["b"]
    renamed = await api.patch(f"/enterprises/{b}", json={"name": "ENTERPRISE A"}, headers=headers)
    assert renamed.status_code == 409
    recased = await api.patch(f"/enterprises/{b}", json={"name": "enterprise b"}, headers=headers)
    assert recased.status_code == 200
    assert recased.json()["name"] == "enterprise b"


async def test_lists_show_only_the_callers_enterprise(api: httpx.AsyncClient, world: World) -> None:
    for user, key in (("a_viewer", "a"), ("b_admin", "b")):
        page = (await api.get("/enterprises", headers=world.auth(user))).json()
        assert [item["id"] for item in page["items"]] == [world.enterprises[key]]
        assert page["total"] == 1
        # A search matching the other enterprise's name finds nothing, not a 403.
        other = "Enterprise B" if key == "a" else "Enterprise A"
        found = await api.get("/enterprises", params={"q": other}, headers=world.auth(user))
        assert found.json()["items"] == []
    everything = (await api.get("/enterprises", headers=world.auth("platform"))).json()
    assert everything["total"] == 2


async def test_search_treats_wildcards_literally(api: httpx.AsyncClient, world: World) -> None:
    found = await api.get("/enterprises", params={"q": "%"}, headers=world.auth("platform"))
    assert found.status_code == 200
    assert found.json()["items"] == []


async def test_deleting_an_empty_enterprise_frees_its_name(
    api: httpx.AsyncClient, world: World, store: Store
) -> None:
    headers = world.auth("platform")
    created = (await api.post("/enterprises", json={"name": "Short-lived"}, headers=headers)).json()
    deleted = await api.delete(f"/enterprises/{created['id']}", headers=headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await api.get(f"/enterprises/{created['id']}", headers=headers)).status_code == 404
    listed = (await api.get("/enterprises", headers=headers)).json()
    assert created["id"] not in [item["id"] for item in listed["items"]]
    row = await store.get(Enterprise, created["id"])
    assert row is not None and row.deleted_at is not None  # soft: the row stays
    again = await api.post("/enterprises", json={"name": "Short-lived"}, headers=headers)
    assert again.status_code == 201


async def test_an_enterprise_with_users_or_connectors_is_not_deleted(
    api: httpx.AsyncClient, world: World, store: Store
) -> None:
    headers = world.auth("platform")
    a = world.enterprises["a"]
    refused = await api.delete(f"/enterprises/{a}", headers=headers)
    assert refused.status_code == 409
    assert "3 users" in refused.json()["detail"]

    empty = await store.add_enterprise()
    async with store.sessions() as session:
        session.add(
            Connector(
                slug="private",
                scope="enterprise",
                enterprise_id=empty,
                owner_key=empty,
                name="Private",
                type="General",
            )
        )
        await session.commit()
    refused = await api.delete(f"/enterprises/{empty}", headers=headers)
    assert refused.status_code == 409
    assert "1 connector" in refused.json()["detail"]
    row = await store.get(Enterprise, empty)
    assert row is not None and row.deleted_at is None


BAD_BODIES: list[tuple[dict[str, object], list[str]]] = [
    ({"name": ""}, ["body", "name"]),
    ({"name": "   "}, ["body", "name"]),
    ({"name": "x" * 201}, ["body", "name"]),
    ({"name": "bad\x00name"}, ["body", "name"]),
    ({"name": "tab\there"}, ["body", "name"]),
    ({"name": 12}, ["body", "name"]),
    ({}, ["body", "name"]),
    ({"name": "ok", "plan": "gold"}, ["body", "plan"]),
]


async def test_bad_enterprise_bodies_are_422_with_the_field(
    api: httpx.AsyncClient, world: World, store: Store
) -> None:
    before = await store.count(Enterprise)
    wrong = {}
    for body, loc in BAD_BODIES:
        response = await api.post("/enterprises", json=body, headers=world.auth("platform"))
        issues = [issue["loc"] for issue in response.json().get("issues", [])]
        if response.status_code != 422 or loc not in issues:
            wrong[repr(body)] = (response.status_code, issues)
    assert wrong == {}
    assert await store.count(Enterprise) == before
