"""Export and import with version history: every published version, in order, no secrets."""

from __future__ import annotations

import copy
from typing import Any

import httpx

from connectory.settings import Settings

from .connector_support import Database, publish, save_draft, weather
from .support import World


async def _three_versions(api: httpx.AsyncClient, world: World) -> str:
    """A connector of enterprise a: 1.0.0, 1.0.1, 2.0.0 published and a draft after them."""
    created = await api.post(
        "/connectors",
        json={
            "document": weather(),
            "files": {"hooks/pre_request.js": "export default (r) => r;\n"},
        },
        headers=world.auth("a_admin"),
    )
    assert created.status_code == 201, created.text
    connector_id = str(created.json()["id"])
    await publish(api, world, "a_admin", connector_id, changelog="First.")
    await save_draft(api, world, "a_admin", connector_id, weather(description="v2"))
    await publish(api, world, "a_admin", connector_id, bump="patch", changelog="Wording.")
    await save_draft(api, world, "a_admin", connector_id, weather(description="v3"))
    await publish(api, world, "a_admin", connector_id, bump="major", changelog="Big.")
    response = await save_draft(api, world, "a_admin", connector_id, weather(description="next"))
    assert response.status_code == 200, response.text
    return connector_id


async def _export(api: httpx.AsyncClient, world: World, connector_id: str, **params: str) -> Any:
    response = await api.get(
        f"/connectors/{connector_id}/export",
        params={"history": "true", **params},
        headers=world.auth("a_admin"),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _versions(api: httpx.AsyncClient, world: World, user: str, connector_id: str) -> Any:
    response = await api.get(f"/connectors/{connector_id}/versions", headers=world.auth(user))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_export_with_history_lists_every_version_oldest_first(
    api: httpx.AsyncClient, world: World
) -> None:
    connector_id = await _three_versions(api, world)
    data = await _export(api, world, connector_id, version="draft")
    assert data["document"]["description"] == "next"
    history = data["history"]
    assert [entry["version"] for entry in history] == ["1.0.0", "1.0.1", "2.0.0"]
    assert [entry["changelog"] for entry in history] == ["First.", "Wording.", "Big."]
    assert [entry["document"]["description"] for entry in history[1:]] == ["v2", "v3"]
    assert all(entry["published_at"].endswith("Z") for entry in history)
    assert history[0]["files"] == {"hooks/pre_request.js": "export default (r) => r;\n"}
    # Sensitive defaults are stripped from every version, not only the exported one.
    raw = str(data)
    assert "demo-key-123" not in raw and "s3cr3t-partner" not in raw
    for entry in history:
        assert "default" not in entry["document"]["auth"]["credential_schema"]["api_key"]
        assert "default" not in entry["document"]["parameters"]["partner_secret"]
    plain = await api.get(f"/connectors/{connector_id}/export", headers=world.auth("a_admin"))
    assert "history" not in plain.json()


async def test_import_with_history_recreates_the_versions_then_the_draft(
    api: httpx.AsyncClient, world: World
) -> None:
    connector_id = await _three_versions(api, world)
    data = await _export(api, world, connector_id, version="draft")
    imported = await api.post(
        "/connectors/import", params={"history": "true"}, json=data, headers=world.auth("b_admin")
    )
    assert imported.status_code == 201, imported.text
    body = imported.json()
    assert body["action"] == "create"
    assert body["history"] == [
        {"version": "1.0.0", "action": "create"},
        {"version": "1.0.1", "action": "create"},
        {"version": "2.0.0", "action": "create"},
    ]
    assert body["draft"]["is_draft"] is True
    b_id = body["connector_id"]
    originals = await _versions(api, world, "a_admin", connector_id)
    copies = await _versions(api, world, "b_admin", b_id)
    assert [v["version"] for v in copies] == ["2.0.0", "1.0.1", "1.0.0"]
    # Publish times travel to the second (the file's precision).
    assert [v["published_at"][:19] for v in copies] == [v["published_at"][:19] for v in originals]
    assert [v["changelog"] for v in copies] == ["Big.", "Wording.", "First."]
    connector = await api.get(f"/connectors/{b_id}", headers=world.auth("b_admin"))
    assert connector.json()["latest_version"] == "2.0.0"
    draft = await api.get(f"/connectors/{b_id}/draft", headers=world.auth("b_admin"))
    assert draft.json()["document"]["description"] == "next"
    # The round trip gives the same history back.
    again = await api.get(
        f"/connectors/{b_id}/export",
        params={"history": "true", "version": "draft"},
        headers=world.auth("b_admin"),
    )
    for mine, theirs in zip(again.json()["history"], data["history"], strict=True):
        assert mine == theirs
    # Without history, the same file still imports as a draft alone.
    plain = await api.post("/connectors/import", json=data, headers=world.auth("platform"))
    assert plain.status_code == 201, plain.text
    assert plain.json()["history"] is None
    assert await _versions(api, world, "platform", plain.json()["connector_id"]) == []


async def test_an_export_of_the_latest_version_needs_no_draft(
    api: httpx.AsyncClient, world: World
) -> None:
    connector_id = await _three_versions(api, world)
    data = await _export(api, world, connector_id, version="latest")
    imported = await api.post(
        "/connectors/import", params={"history": "true"}, json=data, headers=world.auth("b_admin")
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["draft"] is None
    b_id = imported.json()["connector_id"]
    draft = await api.get(f"/connectors/{b_id}/draft", headers=world.auth("b_admin"))
    assert draft.status_code == 404


async def test_importing_history_into_an_existing_connector_adds_only_what_is_new(
    api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    database = Database(settings.database_url)
    connector_id = await _three_versions(api, world)
    data = await _export(api, world, connector_id, version="draft")
    older = copy.deepcopy(data)
    older["history"] = older["history"][:1]
    older["document"] = older["history"][0]["document"]
    older["files"] = older["history"][0]["files"]
    first = await api.post(
        "/connectors/import", params={"history": "true"}, json=older, headers=world.auth("b_admin")
    )
    assert first.status_code == 201, first.text
    b_id = first.json()["connector_id"]
    # The dry run tells what would happen, with the diff against the latest version there.
    before = await database.snapshot()
    run = await api.post(
        "/connectors/import",
        params={"history": "true", "dry_run": "true"},
        json=data,
        headers=world.auth("b_admin"),
    )
    assert run.status_code == 200, run.text
    assert run.json()["history"] == [
        {"version": "1.0.0", "action": "exists"},
        {"version": "1.0.1", "action": "create"},
        {"version": "2.0.0", "action": "create"},
    ]
    assert {c["path"] for c in run.json()["diff"]["changes"]} == {"description"}
    assert await database.snapshot() == before
    done = await api.post(
        "/connectors/import", params={"history": "true"}, json=data, headers=world.auth("b_admin")
    )
    assert done.status_code == 201, done.text
    assert done.json()["connector_id"] == b_id
    versions = await _versions(api, world, "b_admin", b_id)
    assert [v["version"] for v in versions] == ["2.0.0", "1.0.1", "1.0.0"]


async def test_history_conflicts_are_refused_with_what_to_do(
    api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    database = Database(settings.database_url)
    connector_id = await _three_versions(api, world)
    data = await _export(api, world, connector_id, version="draft")
    before = await database.snapshot()
    # Into its own connector: it has an unpublished draft.
    busy = await api.post(
        "/connectors/import",
        params={"history": "true", "connector_id": connector_id},
        json=data,
        headers=world.auth("a_admin"),
    )
    assert busy.status_code == 409
    assert "unpublished draft" in busy.json()["detail"]
    discard = await api.delete(f"/connectors/{connector_id}/draft", headers=world.auth("a_admin"))
    assert discard.status_code == 204, discard.text
    before = await database.snapshot()
    # A published version never changes: a file whose 1.0.1 differs is refused.
    changed = copy.deepcopy(data)
    changed["history"][1]["document"]["description"] = "rewritten"
    refused = await api.post(
        "/connectors/import",
        params={"history": "true", "connector_id": connector_id},
        json=changed,
        headers=world.auth("a_admin"),
    )
    assert refused.status_code == 409
    assert "version 1.0.1 already, with other content" in refused.json()["detail"]
    # A new version that would go before the latest one is refused too.
    inserted = copy.deepcopy(data)
    extra = copy.deepcopy(inserted["history"][1])
    extra["version"] = "1.5.0"
    extra["document"]["description"] = "in between"
    inserted["history"].insert(2, extra)
    out_of_order = await api.post(
        "/connectors/import",
        params={"history": "true", "connector_id": connector_id},
        json=inserted,
        headers=world.auth("a_admin"),
    )
    assert out_of_order.status_code == 409
    assert "would go before the connector's latest version 2.0.0" in out_of_order.json()["detail"]
    # The same versions and the latest as the head: nothing to import.
    latest = await _export(api, world, connector_id, version="latest")
    nothing = await api.post(
        "/connectors/import", params={"history": "true"}, json=latest, headers=world.auth("a_admin")
    )
    assert nothing.status_code == 409
    assert "nothing to import" in nothing.json()["detail"]
    assert await database.snapshot() == before


async def test_bad_histories_are_422(api: httpx.AsyncClient, world: World) -> None:
    connector_id = await _three_versions(api, world)
    data = await _export(api, world, connector_id, version="draft")

    async def refused(file: Any) -> str:
        response = await api.post(
            "/connectors/import",
            params={"history": "true"},
            json=file,
            headers=world.auth("b_admin"),
        )
        assert response.status_code == 422, response.text
        return str(response.json()["detail"])

    plain = copy.deepcopy(data)
    del plain["history"]
    assert "export it with history=true" in await refused(plain)
    swapped = copy.deepcopy(data)
    swapped["history"].reverse()
    assert "oldest first" in await refused(swapped)
    wrong = copy.deepcopy(data)
    wrong["history"][0]["version"] = "one"
    assert "history[0].version" in await refused(wrong)
    broken = copy.deepcopy(data)
    broken["history"][1]["document"]["base_url"] = 12
    assert await refused(broken)
    stamped = copy.deepcopy(data)
    stamped["history"][0]["published_at"] = "yesterday"
    assert "published_at" in await refused(stamped)


async def test_a_sensitive_default_in_a_history_is_sealed(
    api: httpx.AsyncClient, world: World
) -> None:
    connector_id = await _three_versions(api, world)
    data = await _export(api, world, connector_id, version="latest")
    # Exports never carry one; a file written by hand may.
    data["history"][0]["document"]["parameters"]["partner_secret"]["default"] = "hand-written"
    imported = await api.post(
        "/connectors/import", params={"history": "true"}, json=data, headers=world.auth("b_admin")
    )
    assert imported.status_code == 201, imported.text
    assert "hand-written" not in imported.text
    b_id = imported.json()["connector_id"]
    first = await api.get(f"/connectors/{b_id}/versions/1.0.0", headers=world.auth("b_admin"))
    assert first.status_code == 200, first.text
    assert "hand-written" not in first.text
    assert first.json()["document"]["parameters"]["partner_secret"]["default"] == "********"
    again = await api.get(
        f"/connectors/{b_id}/export", params={"history": "true"}, headers=world.auth("b_admin")
    )
    assert "hand-written" not in again.text
    assert "default" not in again.json()["history"][0]["document"]["parameters"]["partner_secret"]
