"""Drafts, publishing, semver bumps and suggestions, slug immutability, frozen versions, diff."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectory.errors import Conflict
from connectory.services.connector_versions import update_draft
from connectory.settings import Settings
from connectory.store import ConnectorVersion, create_engine, create_sessionmaker

from .connector_support import Database, create, publish, save_draft, weather
from .support import World


async def _published(api: httpx.AsyncClient, world: World, user: str = "a_admin") -> str:
    created = await create(api, world, user)
    await publish(api, world, user, created["id"], changelog="first")
    return str(created["id"])


async def _preview(api: httpx.AsyncClient, world: World, connector_id: str) -> dict[str, Any]:
    response = await api.get(
        f"/connectors/{connector_id}/publish-preview", headers=world.auth("a_admin")
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_first_publish_is_1_0_0_whatever_the_bump(
    api: httpx.AsyncClient, world: World
) -> None:
    created = await create(api, world, "a_admin", weather(version="7.3.1"))
    preview = await _preview(api, world, created["id"])
    assert preview["ready"] is True
    assert preview["next_versions"] == {"major": "1.0.0", "minor": "1.0.0", "patch": "1.0.0"}
    result = await publish(api, world, "a_admin", created["id"], bump="minor", changelog="hi")
    assert result["version"]["version"] == "1.0.0"
    assert result["version"]["changelog"] == "hi"
    assert result["version"]["published_by"] == world.users["a_admin"]
    assert result["connector"]["status"] == "published"
    assert result["bump"] is None
    version = await api.get(
        f"/connectors/{created['id']}/versions/1.0.0", headers=world.auth("a_viewer")
    )
    assert version.json()["document"]["version"] == "1.0.0"


async def test_bumps_follow_the_publishers_choice_or_the_suggestion(
    api: httpx.AsyncClient, world: World
) -> None:
    connector_id = await _published(api, world)
    steps: list[tuple[dict[str, Any], str | None, str]] = [
        (weather(description="better words"), None, "1.0.1"),  # suggested patch
        (weather(description="other words"), "minor", "1.1.0"),  # chosen
        (weather(description="more words"), "major", "2.0.0"),
        (weather(description="last words"), "patch", "2.0.1"),
    ]
    for document, bump, expected in steps:
        assert (await save_draft(api, world, "a_admin", connector_id, document)).status_code == 200
        body = {"bump": bump} if bump else {}
        result = await publish(api, world, "a_admin", connector_id, **body)
        assert result["version"]["version"] == expected
    history = await api.get(f"/connectors/{connector_id}/versions", headers=world.auth("a_viewer"))
    assert [v["version"] for v in history.json()["items"]] == [
        "2.0.1",
        "2.0.0",
        "1.1.0",
        "1.0.1",
        "1.0.0",
    ]
    assert history.json()["items"][-1]["changelog"] == "first"


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    operations: list[dict[str, Any]] = document["operations"]
    return operations


async def test_bump_suggestions(api: httpx.AsyncClient, world: World) -> None:
    connector_id = await _published(api, world)
    removed = weather()
    removed["operations"] = _operations(removed)[:1]
    new_required = weather()
    _operations(new_required)[1]["parameters"] = [{"name": "country", "required": True}]
    became_required = weather()
    _operations(became_required)[0]["parameters"][1]["required"] = True
    del _operations(became_required)[0]["parameters"][1]["default"]
    added = weather()
    _operations(added).append({"name": "get_forecast", "path": "/forecast"})
    optional_param = weather()
    _operations(optional_param)[1]["parameters"] = [{"name": "country"}]
    new_credential = weather()
    new_credential["auth"]["credential_schema"]["tenant"] = {"required": True}
    cases = [
        (removed, "major", "operation 'list_stations' was removed"),
        (new_required, "major", "new required parameter 'country'"),
        (became_required, "major", "parameter 'units' of operation 'get_current_weather'"),
        (new_credential, "major", "new required credential field 'tenant'"),
        (added, "minor", "operation 'get_forecast' was added"),
        (optional_param, "patch", None),
        (weather(description="only words"), "patch", None),
    ]
    for document, bump, reason in cases:
        assert (await save_draft(api, world, "a_admin", connector_id, document)).status_code == 200
        preview = await _preview(api, world, connector_id)
        suggestion = preview["suggested_bump"]
        assert suggestion["bump"] == bump, (bump, reason, suggestion)
        if reason:
            assert any(reason in text for text in suggestion["reasons"]), suggestion
    # Publishing without a bump applies the suggestion.
    assert (await save_draft(api, world, "a_admin", connector_id, removed)).status_code == 200
    result = await publish(api, world, "a_admin", connector_id)
    assert result["version"]["version"] == "2.0.0"
    assert result["bump"] == "major"
    assert result["suggested_bump"]["bump"] == "major"


async def test_publish_refuses_invalid_drafts_and_no_operations(
    api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    database = Database(settings.database_url)
    created = await create(api, world, "a_admin", weather(operations=[]))
    preview = await _preview(api, world, created["id"])
    assert preview["ready"] is False
    assert {c["name"]: c["ok"] for c in preview["checks"]}["operations"] is False
    before = await database.snapshot()
    refused = await api.post(
        f"/connectors/{created['id']}/publish", json={}, headers=world.auth("a_admin")
    )
    assert refused.status_code == 422
    assert [p["path"] for p in refused.json()["problems"]] == ["operations"]
    assert await database.snapshot() == before


async def test_publishing_an_unchanged_draft_is_409(api: httpx.AsyncClient, world: World) -> None:
    connector_id = await _published(api, world)
    response = await save_draft(api, world, "a_admin", connector_id, weather())
    assert response.status_code == 200
    preview = await _preview(api, world, connector_id)
    assert {c["name"]: c["ok"] for c in preview["checks"]}["changes"] is False
    refused = await api.post(
        f"/connectors/{connector_id}/publish", json={}, headers=world.auth("a_admin")
    )
    assert refused.status_code == 409


async def test_the_slug_cannot_change_after_the_first_publish(
    api: httpx.AsyncClient, world: World
) -> None:
    created = await create(api, world, "a_admin")
    # Before the first publish the slug follows the draft.
    renamed = await save_draft(api, world, "a_admin", created["id"], weather(slug="weather-two"))
    assert renamed.status_code == 200
    await publish(api, world, "a_admin", created["id"])
    refused = await save_draft(api, world, "a_admin", created["id"], weather(slug="weather-three"))
    assert refused.status_code == 422
    assert "weather-two" in refused.json()["detail"]
    assert refused.json()["problems"][0]["path"] == "slug"
    # A slug derived from a changed name is a change too.
    derived = weather(name="Other Name")
    del derived["slug"]
    assert (await save_draft(api, world, "a_admin", created["id"], derived)).status_code == 422
    connector = await api.get(f"/connectors/{created['id']}", headers=world.auth("a_admin"))
    assert connector.json()["slug"] == "weather-two"


async def test_a_draft_slug_cannot_take_another_connectors(
    api: httpx.AsyncClient, world: World
) -> None:
    await create(api, world, "a_admin")
    other = await create(api, world, "a_admin", weather(slug="other"))
    taken = await save_draft(api, world, "a_admin", other["id"], weather(slug="weather"))
    assert taken.status_code == 409


async def test_published_versions_are_frozen(
    api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    connector_id = await _published(api, world)
    headers = world.auth("a_admin")
    frozen = (await api.get(f"/connectors/{connector_id}/versions/1.0.0", headers=headers)).json()
    # Editing makes a new draft; the published version stays as it was.
    edited = await save_draft(api, world, "a_admin", connector_id, weather(description="changed"))
    assert edited.status_code == 200
    assert edited.json()["id"] != frozen["id"]
    assert edited.json()["is_draft"] is True
    again = (await api.get(f"/connectors/{connector_id}/versions/1.0.0", headers=headers)).json()
    assert again == frozen
    # Discarding the draft does not touch it either, and no route writes to a version.
    assert (
        await api.delete(f"/connectors/{connector_id}/draft", headers=headers)
    ).status_code == 204
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        response = await api.request(
            method, f"/connectors/{connector_id}/versions/1.0.0", json={}, headers=headers
        )
        assert response.status_code == 405, method
    final = (await api.get(f"/connectors/{connector_id}/versions/1.0.0", headers=headers)).json()
    assert final == frozen


async def test_a_new_draft_starts_from_the_latest_version(
    api: httpx.AsyncClient, world: World
) -> None:
    document = weather()
    created = await api.post(
        "/connectors",
        json={"document": document, "files": {"hooks/pre_request.js": "// v1\n"}},
        headers=world.auth("a_admin"),
    )
    connector_id = created.json()["id"]
    await publish(api, world, "a_admin", connector_id)
    # Without files in the edit, the draft keeps the published version's files.
    response = await save_draft(api, world, "a_admin", connector_id, weather(description="x"))
    assert response.json()["files"] == {"hooks/pre_request.js": "// v1\n"}
    replaced = await api.put(
        f"/connectors/{connector_id}/draft",
        json={"document": weather(description="y"), "files": {}},
        headers=world.auth("a_admin"),
    )
    assert replaced.json()["files"] == {}


async def test_discarding_the_only_draft_of_an_unpublished_connector_is_409(
    api: httpx.AsyncClient, world: World
) -> None:
    created = await create(api, world, "a_admin")
    response = await api.delete(f"/connectors/{created['id']}/draft", headers=world.auth("a_admin"))
    assert response.status_code == 409


async def test_diff_between_any_two_versions(api: httpx.AsyncClient, world: World) -> None:
    connector_id = await _published(api, world)
    headers = world.auth("a_admin")
    changed = weather(description="new words")
    _operations(changed).append({"name": "get_forecast", "path": "/forecast"})
    await save_draft(api, world, "a_admin", connector_id, changed)
    default = await api.get(f"/connectors/{connector_id}/diff", headers=headers)
    assert default.status_code == 200
    body = default.json()
    assert (body["from_version"], body["to_version"]) == ("1.0.0", None)
    assert body["operations"]["added"] == ["get_forecast"]
    assert {c["path"] for c in body["changes"]} == {"description", "operations[get_forecast]"}
    assert body["suggested_bump"]["bump"] == "minor"
    assert "+- name: get_forecast" in body["unified"]
    await publish(api, world, "a_admin", connector_id)
    between = await api.get(
        f"/connectors/{connector_id}/diff", params={"from": "1.1.0", "to": "1.0.0"}, headers=headers
    )
    assert between.json()["operations"]["removed"] == ["get_forecast"]
    assert between.json()["suggested_bump"]["bump"] == "major"
    same = await api.get(
        f"/connectors/{connector_id}/diff", params={"from": "1.0.0", "to": "1.0.0"}, headers=headers
    )
    assert same.json()["changed"] is False
    for params in ({"from": "9.9.9"}, {"to": "draft"}, {"from": "nonsense"}):
        missing = await api.get(f"/connectors/{connector_id}/diff", params=params, headers=headers)
        assert missing.status_code == 404, params


async def test_a_stale_draft_write_cannot_touch_a_published_version(
    api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    created = await create(api, world, "a_admin")
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            # This request loaded the draft; another one publishes it before it writes.
            draft = await session.get(ConnectorVersion, created["draft"]["id"])
            assert draft is not None and draft.is_draft
            await publish(api, world, "a_admin", created["id"])
            with pytest.raises(Conflict, match="meanwhile"):
                await update_draft(session, draft, {"document": weather(description="late")})
    finally:
        await engine.dispose()
    version = await api.get(
        f"/connectors/{created['id']}/versions/1.0.0", headers=world.auth("a_admin")
    )
    assert "description" in version.json()["document"]
    assert version.json()["document"]["description"] == "Weather data"
