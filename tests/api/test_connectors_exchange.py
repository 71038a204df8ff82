"""Export and import: the file, round trips, dry runs, clashes, secrets; examples at startup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from connectory.api import create_app
from connectory.settings import Settings

from .connector_support import Database, publish, save_draft, weather
from .support import World


async def _published_with_hooks(api: httpx.AsyncClient, world: World, user: str) -> str:
    response = await api.post(
        "/connectors",
        json={
            "document": weather(),
            "files": {"hooks/pre_request.js": "// héllo\nexport default (r) => r;\n"},
        },
        headers=world.auth(user),
    )
    assert response.status_code == 201, response.text
    connector_id = str(response.json()["id"])
    await publish(api, world, user, connector_id, changelog="First version.")
    return connector_id


async def _export(
    api: httpx.AsyncClient, world: World, user: str, connector_id: str, **params: str
) -> httpx.Response:
    response = await api.get(
        f"/connectors/{connector_id}/export", params=params, headers=world.auth(user)
    )
    assert response.status_code == 200, response.text
    return response


def _without_ids_and_times(raw: bytes) -> bytes:
    data = json.loads(raw)
    data.pop("exported_at")
    data.pop("source")
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False).encode()


async def test_export_is_one_downloadable_json_file(api: httpx.AsyncClient, world: World) -> None:
    connector_id = await _published_with_hooks(api, world, "a_admin")
    response = await _export(api, world, "a_viewer", connector_id)
    assert response.headers["content-type"] == "application/json"
    assert (
        response.headers["content-disposition"]
        == 'attachment; filename="weather-1.0.0.connector.json"'
    )
    data = response.json()
    assert data["format"] == "connectory-connector"
    assert data["format_version"] == 1
    assert data["document"]["version"] == "1.0.0"
    assert data["files"] == {"hooks/pre_request.js": "// héllo\nexport default (r) => r;\n"}
    assert data["changelog"] == "First version."
    assert data["connector_parameters"] == ["partner_secret", "region"]
    # Sorted keys, two-space indentation, a final newline.
    assert (
        response.content
        == (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
    )


async def test_no_secrets_in_exports(api: httpx.AsyncClient, world: World) -> None:
    connector_id = await _published_with_hooks(api, world, "a_admin")
    raw = (await _export(api, world, "a_admin", connector_id)).text
    assert "demo-key-123" not in raw
    assert "s3cr3t-partner" not in raw
    document = json.loads(raw)["document"]
    assert "default" not in document["auth"]["credential_schema"]["api_key"]
    assert "default" not in document["parameters"]["partner_secret"]
    # Defaults of fields that are not sensitive stay.
    assert document["auth"]["credential_schema"]["account"]["default"] == "main"
    assert document["parameters"]["region"]["default"] == "eu"


async def test_round_trip_is_byte_identical_apart_from_ids_and_times(
    api: httpx.AsyncClient, world: World
) -> None:
    connector_id = await _published_with_hooks(api, world, "a_admin")
    first = (await _export(api, world, "a_admin", connector_id)).content
    # Into another enterprise, and into the catalogue.
    for user in ("b_admin", "platform"):
        imported = await api.post("/connectors/import", content=first, headers=world.auth(user))
        assert imported.status_code == 201, imported.text
        assert imported.json()["action"] == "create"
        assert imported.json()["draft"]["is_draft"] is True  # imports start unpublished
        second = (await _export(api, world, user, imported.json()["connector_id"])).content
        assert json.loads(second)["source"]["connector_id"] != connector_id
        assert _without_ids_and_times(second) == _without_ids_and_times(first)


async def test_dry_run_changes_nothing(
    api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    database = Database(settings.database_url)
    connector_id = await _published_with_hooks(api, world, "a_admin")
    export = (await _export(api, world, "a_admin", connector_id)).json()
    before = await database.snapshot()
    create_run = await api.post(
        "/connectors/import", params={"dry_run": "true"}, json=export, headers=world.auth("b_admin")
    )
    assert create_run.status_code == 200
    assert create_run.json()["action"] == "create"
    assert create_run.json()["connector_id"] is None
    export["document"]["description"] = "changed"
    draft_run = await api.post(
        "/connectors/import",
        params={"dry_run": "true", "as_new_version": "true"},
        json=export,
        headers=world.auth("a_admin"),
    )
    assert draft_run.status_code == 200, draft_run.text
    body = draft_run.json()
    assert body["action"] == "new_draft"
    assert body["connector_id"] == connector_id
    paths = {change["path"] for change in body["diff"]["changes"]}
    assert paths == {
        "description",
        # Exports drop sensitive defaults; the required api_key losing its default is major.
        "auth.credential_schema.api_key.default",
        "parameters.partner_secret.default",
    }
    assert body["diff"]["suggested_bump"]["bump"] == "major"
    assert await database.snapshot() == before


async def test_a_slug_and_version_clash_is_refused_unless_asked(
    api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    database = Database(settings.database_url)
    connector_id = await _published_with_hooks(api, world, "a_admin")
    export = (await _export(api, world, "a_admin", connector_id)).json()
    before = await database.snapshot()
    clash = await api.post("/connectors/import", json=export, headers=world.auth("a_admin"))
    assert clash.status_code == 409
    assert "as_new_version" in clash.json()["detail"]
    assert await database.snapshot() == before
    export["document"]["description"] = "imported change"
    accepted = await api.post(
        "/connectors/import",
        params={"as_new_version": "true"},
        json=export,
        headers=world.auth("a_admin"),
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["action"] == "new_draft"
    # The existing connector has a draft now; another import into it waits for it.
    busy = await api.post(
        "/connectors/import",
        params={"as_new_version": "true"},
        json=export,
        headers=world.auth("a_admin"),
    )
    assert busy.status_code == 409
    published = await publish(api, world, "a_admin", connector_id)
    # The export dropped the default of the required, sensitive api_key: a major change.
    assert published["suggested_bump"]["bump"] == "major"
    assert any("'api_key'" in reason for reason in published["suggested_bump"]["reasons"])
    assert published["version"]["version"] == "2.0.0"
    assert published["version"]["changelog"] == "First version."


async def test_a_new_version_in_the_file_imports_without_asking(
    api: httpx.AsyncClient, world: World
) -> None:
    connector_id = await _published_with_hooks(api, world, "a_admin")
    await save_draft(api, world, "a_admin", connector_id, weather(description="v2"))
    await publish(api, world, "a_admin", connector_id)
    newer = (await _export(api, world, "a_admin", connector_id, version="1.0.1")).json()
    # Enterprise b has 1.0.0 of the same connector; 1.0.1 is new there.
    older = (await _export(api, world, "a_admin", connector_id, version="1.0.0")).json()
    first = await api.post("/connectors/import", json=older, headers=world.auth("b_admin"))
    b_id = first.json()["connector_id"]
    await publish(api, world, "b_admin", b_id)
    response = await api.post("/connectors/import", json=newer, headers=world.auth("b_admin"))
    assert response.status_code == 201, response.text
    assert response.json()["connector_id"] == b_id


async def test_bad_export_files_are_422(
    api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    database = Database(settings.database_url)
    connector_id = await _published_with_hooks(api, world, "a_admin")
    good = (await _export(api, world, "a_admin", connector_id)).json()
    before = await database.snapshot()
    bad: list[tuple[Any, str]] = [
        ([1, 2], ""),
        ({**good, "format": "other"}, "format"),
        ({**good, "format_version": 2}, "format_version"),
        ({**good, "format_version": "1"}, "format_version"),
        ({**good, "extra": True}, "extra"),
        ({**good, "document": "text"}, "document"),
        ({**good, "files": {"hooks/x.js": 5}}, "files"),
        ({**good, "files": {"../x.js": "x"}}, ""),
        ({**good, "changelog": 5}, "changelog"),
        ({**good, "document": {**good["document"], "base_url": "nope"}}, ""),
    ]
    for body, field in bad:
        response = await api.post("/connectors/import", json=body, headers=world.auth("b_admin"))
        assert response.status_code == 422, body if not isinstance(body, dict) else field
        if field:
            assert field in json.dumps(response.json()), field
    assert await database.snapshot() == before


async def test_examples_are_published_into_an_empty_catalogue(
    settings: Settings, examples_dir: Path
) -> None:
    settings = settings.model_copy(update={"examples_dir": examples_dir})
    tokens: list[str] = []
    app = create_app(settings, on_first_admin_token=tokens.append)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            headers = {"Authorization": f"Bearer {tokens[0]}"}
            listed = (await client.get("/connectors", headers=headers)).json()
    slugs = {item["slug"] for item in listed["items"]}
    assert {"openweathermap", "connectory-test-api", "connectory-test-api-oauth2"} <= slugs
    assert {"testapi-webhooks", "testapi-javascript-events"} <= slugs  # events, JS ones too
    assert all(item["latest_version"] == "1.0.0" for item in listed["items"])
    assert all(item["scope"] == "catalogue" for item in listed["items"])
    assert not any("broken" in slug for slug in slugs)
    # A second start does not load them again.
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            again = (await client.get("/connectors", headers=headers)).json()
    assert again["total"] == listed["total"]
