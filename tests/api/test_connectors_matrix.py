"""Who may do what to which connector: every user x every connector endpoint x every target.

Targets: ``A`` (enterprise a, published with a draft), ``B`` (the same in enterprise b),
``CAT`` (catalogue, published with a draft), ``CAT_DRAFT`` (catalogue, never published) and
``DELETED`` (enterprise a, deleted). Another enterprise's connector answers 404, never 403; a
refused write leaves every connector and version row as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from connectory.settings import Settings

from .connector_support import Database, create, publish, save_draft, weather
from .support import World

USERS = ("platform", "a_admin", "a_plain_admin", "a_viewer", "b_admin", "b_viewer")
TARGETS = ("A", "B", "CAT", "CAT_DRAFT", "DELETED")
_SLUGS = {"A": "weather", "B": "weather", "CAT": "weather", "CAT_DRAFT": "draft-only"}
_SLUGS["DELETED"] = "deleted"


def visible(user: str, target: str) -> bool:
    """The published catalogue for all; drafts-only catalogue for platform; own enterprise's."""
    if target == "DELETED":
        return False
    if target == "CAT":
        return True
    if target == "CAT_DRAFT":
        return user == "platform"
    return user.startswith(target.lower() + "_")


def sees_draft(user: str, target: str) -> bool:
    """Catalogue drafts: platform admins; enterprise drafts: the whole enterprise."""
    if target.startswith("CAT"):
        return user == "platform"
    return visible(user, target)


def may_edit(user: str, target: str) -> bool:
    """Catalogue: platform admins; enterprise: its admins with SDK access."""
    if target.startswith("CAT"):
        return user == "platform"
    return user == f"{target.lower()}_admin"


def builds(user: str) -> bool:
    """Who may create and import connectors at all."""
    return user in ("platform", "a_admin", "b_admin")


def write_status(user: str, target: str, success: int) -> int:
    """404 when invisible, 403 when visible but not editable, else *success*."""
    if not visible(user, target):
        return 404
    if not may_edit(user, target):
        return 403
    return success


@dataclass
class Targets:
    """The connectors of the matrix: ids, and the ids of their versions."""

    ids: dict[str, str]
    latest_ids: dict[str, str]
    draft_ids: dict[str, str]


@pytest.fixture
async def targets(api: httpx.AsyncClient, world: World) -> Targets:
    result = Targets({}, {}, {})
    owners = {"A": "a_admin", "B": "b_admin", "CAT": "platform", "DELETED": "a_admin"}
    for target, user in owners.items():
        created = await create(api, world, user, weather(slug=_SLUGS[target]))
        result.ids[target] = created["id"]
        await publish(api, world, user, created["id"], changelog="first")
        edited = weather(slug=_SLUGS[target], description="edited")
        response = await save_draft(api, world, user, created["id"], edited)
        assert response.status_code == 200
        result.draft_ids[target] = response.json()["id"]
        details = await api.get(f"/connectors/{created['id']}", headers=world.auth(user))
        result.latest_ids[target] = details.json()["latest"]["id"]
    only_draft = await create(api, world, "platform", weather(slug=_SLUGS["CAT_DRAFT"]))
    result.ids["CAT_DRAFT"] = only_draft["id"]
    result.draft_ids["CAT_DRAFT"] = only_draft["draft"]["id"]
    deleted = await api.delete(
        f"/connectors/{result.ids['DELETED']}", headers=world.auth("a_admin")
    )
    assert deleted.status_code == 204
    return result


def _read_expectations(user: str, target: str) -> dict[str, int]:
    see = visible(user, target)
    draft = see and sees_draft(user, target)
    published = target != "CAT_DRAFT"
    ok = {True: 200, False: 404}
    return {
        "": ok[see],
        "/draft": ok[draft],
        "/publish-preview": ok[draft],
        "/versions": ok[see],
        "/versions/1.0.0": ok[see and published],
        "/versions/latest": ok[see and published],
        "/versions/draft": ok[draft],
        "/diff": ok[draft and published],
        "/export": ok[see],
        "/export?version=draft": ok[draft],
    }


async def test_reads(api: httpx.AsyncClient, world: World, targets: Targets) -> None:
    wrong: list[tuple[str, str, str, int, int]] = []
    for user in USERS:
        for target in TARGETS:
            for suffix, expected in _read_expectations(user, target).items():
                url = f"/connectors/{targets.ids[target]}{suffix}"
                response = await api.get(url, headers=world.auth(user))
                if response.status_code != expected:
                    wrong.append((user, target, suffix, expected, response.status_code))
    assert wrong == []


async def test_every_endpoint_needs_a_token(api: httpx.AsyncClient, targets: Targets) -> None:
    connector = f"/connectors/{targets.ids['A']}"
    calls = [
        ("GET", "/connectors"),
        ("POST", "/connectors"),
        ("POST", "/connectors/upload"),
        ("POST", "/connectors/validate"),
        ("POST", "/connectors/import"),
        *(("GET", connector + suffix) for suffix in _read_expectations("a_admin", "A")),
        ("PUT", connector + "/draft"),
        ("DELETE", connector + "/draft"),
        ("POST", connector + "/publish"),
        ("DELETE", connector),
    ]
    for method, url in calls:
        response = await api.request(method, url, json={})
        assert response.status_code == 401, (method, url)


async def test_lists_never_leak(api: httpx.AsyncClient, world: World, targets: Targets) -> None:
    for user in USERS:
        expected = {targets.ids[t] for t in TARGETS if visible(user, t)}
        for params in ({}, {"q": "e"}, {"slug": "weather"}, {"scope": "enterprise"}):
            response = await api.get("/connectors", params=params, headers=world.auth(user))
            assert response.status_code == 200
            items = response.json()["items"]
            assert {item["id"] for item in items} <= expected, (user, params)
            assert response.json()["total"] == len(items)
        listed = await api.get("/connectors", headers=world.auth(user))
        assert {item["id"] for item in listed.json()["items"]} == expected, user
        for item in listed.json()["items"]:
            target = next(t for t in TARGETS if targets.ids[t] == item["id"])
            # Enterprises do not learn that the catalogue connector has a draft.
            assert item["has_draft"] is sees_draft(user, target), (user, target)
            assert item["can_edit"] is may_edit(user, target), (user, target)


def _write_calls(targets: Targets, target: str) -> dict[str, tuple[str, str, Any, int]]:
    """Per endpoint: method, url, JSON body and the status an editor gets."""
    base = f"/connectors/{targets.ids[target]}"
    document = weather(slug=_SLUGS[target], description="changed by the matrix")
    return {
        "save draft": ("PUT", f"{base}/draft", document, 200),
        # A connector never published keeps its only draft.
        "discard draft": ("DELETE", f"{base}/draft", None, 409 if target == "CAT_DRAFT" else 204),
        "publish": ("POST", f"{base}/publish", {"changelog": "matrix"}, 200),
        "delete": ("DELETE", base, None, 204),
    }


@pytest.mark.parametrize("endpoint", ["save draft", "discard draft", "publish", "delete"])
async def test_writes(
    api: httpx.AsyncClient,
    world: World,
    targets: Targets,
    settings: Settings,
    endpoint: str,
) -> None:
    database = Database(settings.database_url)
    allowed: list[tuple[str, str]] = []
    for user in USERS:
        for target in TARGETS:
            method, url, body, success = _write_calls(targets, target)[endpoint]
            expected = write_status(user, target, success)
            if expected < 300:
                allowed.append((user, target))
                continue
            before = await database.snapshot()
            response = await api.request(method, url, json=body, headers=world.auth(user))
            assert response.status_code == expected, (user, target, response.text)
            assert await database.snapshot() == before, (user, target)
    # The editors last: each works on its own target, so one success cannot hide another.
    assert sorted(allowed) == sorted(
        [(u, t) for u in USERS for t in TARGETS if write_status(u, t, 200) == 200]
        if endpoint != "discard draft"
        else [("a_admin", "A"), ("b_admin", "B"), ("platform", "CAT")]
    )
    for user, target in allowed:
        method, url, body, success = _write_calls(targets, target)[endpoint]
        response = await api.request(method, url, json=body, headers=world.auth(user))
        assert response.status_code == success, (user, target, response.text)


async def test_creating_and_importing_needs_the_right_role(
    api: httpx.AsyncClient, world: World, targets: Targets, settings: Settings
) -> None:
    database = Database(settings.database_url)
    export = (
        await api.get(f"/connectors/{targets.ids['A']}/export", headers=world.auth("a_admin"))
    ).json()
    export["document"]["slug"] = "imported"
    for user in USERS:
        before = await database.snapshot()
        calls = [
            await api.post("/connectors", json=weather(slug="new"), headers=world.auth(user)),
            await api.post(
                "/connectors/upload",
                content=b"name: Uploaded\nbase_url: https://u.test\n",
                headers=world.auth(user),
            ),
            await api.post("/connectors/import", json=export, headers=world.auth(user)),
        ]
        statuses = [response.status_code for response in calls]
        if builds(user):
            assert statuses == [201, 201, 201], (user, [r.text for r in calls])
        else:
            assert statuses == [403, 403, 403], user
            assert await database.snapshot() == before, user
        validate = await api.post("/connectors/validate", json=weather(), headers=world.auth(user))
        assert validate.status_code == 200


async def test_import_into_a_connector_by_id(
    api: httpx.AsyncClient, world: World, targets: Targets, settings: Settings
) -> None:
    database = Database(settings.database_url)
    export = (
        await api.get(f"/connectors/{targets.ids['A']}/export", headers=world.auth("a_admin"))
    ).json()
    for user in USERS:
        for target in TARGETS:
            expected = 403 if not builds(user) else write_status(user, target, 409)
            before = await database.snapshot()
            response = await api.post(
                "/connectors/import",
                params={"connector_id": targets.ids[target], "as_new_version": "true"},
                json={**export, "document": {**export["document"], "slug": _SLUGS[target]}},
                headers=world.auth(user),
            )
            # Every target has a draft, so even its editors are refused (409).
            assert response.status_code == expected, (user, target, response.text)
            assert await database.snapshot() == before


async def test_publish_scope_rules(
    api: httpx.AsyncClient, world: World, targets: Targets, settings: Settings
) -> None:
    database = Database(settings.database_url)
    before = await database.snapshot()
    cases = [
        ("a_admin", "A", "catalogue", "only platform admins publish to the catalogue"),
        ("platform", "CAT", "enterprise", "platform admins publish to the catalogue"),
    ]
    for user, target, scope, message in cases:
        response = await api.post(
            f"/connectors/{targets.ids[target]}/publish",
            json={"scope": scope},
            headers=world.auth(user),
        )
        assert response.status_code == 403
        assert message in response.json()["detail"]
    assert await database.snapshot() == before
    own_scope = await api.post(
        f"/connectors/{targets.ids['A']}/publish",
        json={"scope": "enterprise"},
        headers=world.auth("a_admin"),
    )
    assert own_scope.status_code == 200
    catalogue = await api.post(
        f"/connectors/{targets.ids['CAT']}/publish",
        json={"scope": "catalogue"},
        headers=world.auth("platform"),
    )
    assert catalogue.status_code == 200


async def test_other_tenants_ids_in_the_query_are_404(
    api: httpx.AsyncClient, world: World, targets: Targets
) -> None:
    own = f"/connectors/{targets.ids['A']}"
    headers = world.auth("a_admin")
    refs = {
        targets.latest_ids["B"]: 404,  # another enterprise's version
        targets.draft_ids["B"]: 404,
        targets.draft_ids["CAT"]: 404,  # a catalogue draft: platform admins only
        targets.draft_ids["CAT_DRAFT"]: 404,
        targets.latest_ids["DELETED"]: 404,
        targets.latest_ids["CAT"]: 200,  # the published catalogue: visible to everyone
        targets.latest_ids["A"]: 200,
    }
    for ref, expected in refs.items():
        for name in ("from", "to"):
            response = await api.get(f"{own}/diff", params={name: ref}, headers=headers)
            assert response.status_code == expected, (ref, name, response.text)
        # Export and version lookups take ids of this connector's versions only.
        same = expected if ref in (targets.latest_ids["A"], targets.draft_ids["A"]) else 404
        exported = await api.get(f"{own}/export", params={"version": ref}, headers=headers)
        assert exported.status_code == same, ref
        version = await api.get(f"{own}/versions/{ref}", headers=headers)
        assert version.status_code == same, ref
    platform = await api.get(
        f"/connectors/{targets.ids['CAT']}/diff",
        params={"from": targets.latest_ids["A"]},
        headers=world.auth("platform"),
    )
    assert platform.status_code == 404
