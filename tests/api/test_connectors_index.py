"""The connector index: create (document, YAML, uploads), validate, list, get, delete."""

from __future__ import annotations

import json

import httpx

from connectory.settings import Settings

from .connector_support import (
    FOLDER,
    WEATHER_YAML,
    Database,
    create,
    make_tar_gz,
    make_zip,
    publish,
    weather,
)
from .support import World


async def test_create_from_a_document(api: httpx.AsyncClient, world: World) -> None:
    created = await create(api, world, "a_admin")
    assert created["slug"] == "weather"
    assert created["scope"] == "enterprise"
    assert created["enterprise_id"] == world.enterprises["a"]
    assert created["status"] == "draft"
    assert created["has_draft"] is True
    assert created["latest"] is None
    draft = await api.get(f"/connectors/{created['id']}/draft", headers=world.auth("a_admin"))
    assert draft.status_code == 200
    assert draft.json()["document"]["operations"][0]["name"] == "get_current_weather"


async def test_platform_admins_create_in_the_catalogue(
    api: httpx.AsyncClient, world: World
) -> None:
    created = await create(api, world, "platform")
    assert created["scope"] == "catalogue"
    assert created["enterprise_id"] is None


async def test_create_from_yaml_text_normalises_the_document(
    api: httpx.AsyncClient, world: World
) -> None:
    response = await api.post(
        "/connectors", json={"yaml": WEATHER_YAML}, headers=world.auth("a_admin")
    )
    assert response.status_code == 201, response.text
    draft = await api.get(
        f"/connectors/{response.json()['id']}/draft", headers=world.auth("a_admin")
    )
    operation = draft.json()["document"]["operations"][0]
    # ``operation:`` is the seed's way of writing the name; stored under ``name``.
    assert operation["name"] == "get_current_weather"
    assert "operation" not in operation


async def test_invalid_connectors_are_422_with_file_line_and_path(
    api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    database = Database(settings.database_url)
    before = await database.counts()
    text = "name: Weather\nbase_url: api.weather.test\nbogus: 1\n"
    response = await api.post("/connectors", json={"yaml": text}, headers=world.auth("a_admin"))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_connector"
    places = {(p["file"], p["line"], p["path"]) for p in body["problems"]}
    assert ("connector.yaml", 2, "base_url") in places
    assert ("connector.yaml", 3, "bogus") in places

    as_document = await api.post(
        "/connectors", json=weather(base_url="ftp://x"), headers=world.auth("a_admin")
    )
    assert as_document.status_code == 422
    assert [p["path"] for p in as_document.json()["problems"]] == ["base_url"]
    assert await database.counts() == before


async def test_values_no_database_can_store_are_422(api: httpx.AsyncClient, world: World) -> None:
    for document in (
        weather(name="nul\x00name"),
        weather(description="\ud800"),
        weather(name="n" * 201),
        weather(slug="s" * 101),
    ):
        # json.dumps escapes what httpx's UTF-8 encoder would refuse (a lone surrogate).
        response = await api.post(
            "/connectors",
            content=json.dumps(document),
            headers={**world.auth("a_admin"), "Content-Type": "application/json"},
        )
        assert response.status_code == 422, response.text
        assert response.json()["problems"]
    nan = '{"name": "X", "base_url": "https://x.test", "resilience": {"timeout": NaN}}'
    response = await api.post(
        "/connectors",
        content=nan,
        headers={**world.auth("a_admin"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422


async def test_a_taken_slug_is_409(api: httpx.AsyncClient, world: World) -> None:
    await create(api, world, "a_admin")
    again = await api.post("/connectors", json=weather(), headers=world.auth("a_admin"))
    assert again.status_code == 409
    assert "weather" in again.json()["detail"]
    # Slugs are unique per owner: enterprise b and the catalogue may use it.
    await create(api, world, "b_admin")
    await create(api, world, "platform")


async def test_upload_yaml_json_zip_and_tar_gz(api: httpx.AsyncClient, world: World) -> None:
    headers = world.auth("a_admin")
    as_yaml = await api.post(
        "/connectors/upload",
        content=WEATHER_YAML.encode(),
        headers={**headers, "Content-Type": "application/x-yaml"},
    )
    assert as_yaml.status_code == 201, as_yaml.text
    as_json = await api.post(
        "/connectors/upload",
        content=b'{"name": "Json One", "base_url": "https://j.test"}',
        headers=headers,
    )
    assert as_json.status_code == 201, as_json.text
    assert as_json.json()["slug"] == "json-one"

    # A zip of the folder itself (files at the top).
    zipped = await api.post(
        "/connectors/upload",
        content=make_zip(FOLDER),
        headers={**headers, "Content-Type": "application/zip"},
    )
    assert zipped.status_code == 201, zipped.text
    draft = await api.get(f"/connectors/{zipped.json()['id']}/draft", headers=headers)
    body = draft.json()
    assert body["document"]["auth"]["auth_type"] == "bearer"
    assert body["document"]["operations"][0]["name"] == "get_weather"
    assert body["files"] == {"hooks/pre_request.js": FOLDER["hooks/pre_request.js"]}

    # A .tar.gz with the folder inside one top folder, sent without a content type.
    nested = {f"my-connector/{name}": content for name, content in FOLDER.items()}
    nested["my-connector/connector.yaml"] = "name: Tarred\nbase_url: https://t.test\n"
    nested["my-connector/README.md"] = "not part of the connector"
    tarred = await api.post("/connectors/upload", content=make_tar_gz(nested), headers=headers)
    assert tarred.status_code == 201, tarred.text
    warnings = tarred.json()["problems"]
    assert [(w["file"], w["severity"]) for w in warnings] == [("README.md", "warning")]


async def test_an_invalid_archive_connector_names_the_file_and_line(
    api: httpx.AsyncClient, world: World
) -> None:
    files = {**FOLDER, "operations/get_weather.yaml": "operation: get_weather\nmethod: FETCH\n"}
    response = await api.post(
        "/connectors/upload", content=make_zip(files), headers=world.auth("a_admin")
    )
    assert response.status_code == 422
    places = {(p["file"], p["line"]) for p in response.json()["problems"]}
    assert ("operations/get_weather.yaml", 2) in places


async def test_hostile_archives_are_422_and_store_nothing(
    api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    database = Database(settings.database_url)
    before = await database.counts()
    headers = world.auth("a_admin")
    bomb = make_zip({**FOLDER, "hooks/big.js": b"\0" * (12 * 1024 * 1024)}, level=9)
    assert len(bomb) < 1024 * 1024  # small on the wire, 12 MiB unpacked
    hostile = {
        "traversal": make_zip({**FOLDER, "../evil.yaml": "x: 1"}),
        "absolute": make_zip({**FOLDER, "/etc/evil.yaml": "x: 1"}),
        "symlink": make_zip(FOLDER, symlinks={"hooks/passwd.js": "/etc/passwd"}),
        "tar symlink": make_tar_gz(FOLDER, symlinks={"hooks/passwd.js": "/etc/passwd"}),
        "tar traversal": make_tar_gz({**FOLDER, "hooks/../../evil.js": "x"}),
        "bomb": bomb,
        "too many files": make_zip({**FOLDER, **{f"hooks/f{i}.js": "x" for i in range(600)}}),
        "truncated zip": make_zip(FOLDER)[:200],
        "not gzip": b"\x1f\x8b" + b"garbage" * 10,
        "labelled zip": b"name: x\n",
        "no connector.yaml": make_zip({"hooks/x.js": "x"}),
        "binary": b"\x00\x01\x02\x03",
    }
    for name, body in hostile.items():
        content_type = "application/zip" if name == "labelled zip" else "application/octet-stream"
        response = await api.post(
            "/connectors/upload",
            content=body,
            headers={**headers, "Content-Type": content_type},
        )
        assert response.status_code == 422, (name, response.status_code, response.text)
        assert response.json()["detail"], name
    empty = await api.post("/connectors/upload", content=b"", headers=headers)
    assert empty.status_code == 422
    assert await database.counts() == before


async def test_validate_returns_problems_and_the_stored_form(
    api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    database = Database(settings.database_url)
    before = await database.counts()
    ok = await api.post(
        "/connectors/validate", json={"yaml": WEATHER_YAML}, headers=world.auth("a_viewer")
    )
    assert ok.status_code == 200
    assert ok.json()["ok"] is True
    assert ok.json()["document"]["operations"][0]["name"] == "get_current_weather"
    bad = await api.post(
        "/connectors/validate", json=weather(base_url="nope"), headers=world.auth("a_admin")
    )
    assert bad.status_code == 200
    assert bad.json()["ok"] is False
    assert bad.json()["document"] is None
    assert bad.json()["problems"][0]["path"] == "base_url"
    assert await database.counts() == before


async def test_list_filters_search_and_pages(api: httpx.AsyncClient, world: World) -> None:
    headers = world.auth("a_admin")
    first = await create(api, world, "a_admin", weather(name="Alpha Weather", slug="alpha"))
    await publish(api, world, "a_admin", first["id"])
    await create(api, world, "a_admin", weather(name="Beta CRM", slug="beta", type="CRM"))
    catalogue = await create(api, world, "platform", weather(name="Gamma", slug="gamma"))
    await publish(api, world, "platform", catalogue["id"])

    async def slugs(**params: str) -> list[str]:
        response = await api.get("/connectors", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [item["slug"] for item in response.json()["items"]]

    assert await slugs() == ["alpha", "beta", "gamma"]
    assert await slugs(type="CRM") == ["beta"]
    assert await slugs(scope="catalogue") == ["gamma"]
    assert await slugs(status="draft") == ["beta"]
    assert await slugs(status="published") == ["alpha", "gamma"]
    assert await slugs(q="WEATH") == ["alpha"]
    assert await slugs(q="%") == []
    assert await slugs(slug="gamma") == ["gamma"]
    page = await api.get("/connectors", params={"limit": 2, "offset": 1}, headers=headers)
    assert page.json()["total"] == 3
    assert [i["slug"] for i in page.json()["items"]] == ["beta", "gamma"]
    capped = await api.get("/connectors", params={"limit": 100000}, headers=headers)
    assert capped.json()["limit"] == 50
    for params in ({"type": "Nope"}, {"status": "gone"}, {"q": "a\x00b"}, {"limit": "0"}):
        refused = await api.get("/connectors", params=params, headers=headers)
        assert refused.status_code == 422, params


async def test_list_sorts_by_name_change_creation_or_type(
    api: httpx.AsyncClient, world: World
) -> None:
    headers = world.auth("a_admin")
    await create(api, world, "a_admin", weather(name="beta", slug="beta", type="CRM"))
    await create(api, world, "a_admin", weather(name="Alpha", slug="alpha", type="OEM"))
    await create(api, world, "a_admin", weather(name="gamma", slug="gamma", type="CRM"))

    async def slugs(sort: str, **params: str) -> list[str]:
        response = await api.get("/connectors", params={"sort": sort, **params}, headers=headers)
        assert response.status_code == 200, response.text
        return [item["slug"] for item in response.json()["items"]]

    assert await slugs("name") == ["alpha", "beta", "gamma"]  # ignoring case
    assert await slugs("-name") == ["gamma", "beta", "alpha"]
    assert await slugs("created") == ["beta", "alpha", "gamma"]
    assert await slugs("-created") == ["gamma", "alpha", "beta"]
    assert await slugs("-updated") == ["gamma", "alpha", "beta"]
    assert await slugs("type") == ["beta", "gamma", "alpha"]  # CRM by name, then OEM
    assert await slugs("-type") == ["alpha", "gamma", "beta"]
    # Pages follow the order: no connector twice, none skipped.
    paged = [*await slugs("-created", limit="2"), *await slugs("-created", limit="2", offset="2")]
    assert paged == ["gamma", "alpha", "beta"]
    refused = await api.get("/connectors", params={"sort": "slug"}, headers=headers)
    assert refused.status_code == 422


async def test_get_shows_latest_version_and_draft(api: httpx.AsyncClient, world: World) -> None:
    created = await create(api, world, "a_admin")
    await publish(api, world, "a_admin", created["id"], changelog="first")
    response = await api.get(f"/connectors/{created['id']}", headers=world.auth("a_viewer"))
    body = response.json()
    assert body["status"] == "published"
    assert body["latest_version"] == "1.0.0"
    assert body["latest"]["changelog"] == "first"
    assert body["latest"]["document"]["version"] == "1.0.0"
    assert body["has_draft"] is False
    assert body["can_edit"] is False
    for odd in ("nope", "x" * 500, "%00", "0" * 32):
        missing = await api.get(f"/connectors/{odd}", headers=world.auth("a_admin"))
        assert missing.status_code == 404, odd


async def test_delete_is_refused_while_connections_use_it(
    api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    database = Database(settings.database_url)
    created = await create(api, world, "a_admin")
    await publish(api, world, "a_admin", created["id"])
    await database.add_connection(created["id"], world.enterprises["a"])
    before = await database.snapshot()
    refused = await api.delete(f"/connectors/{created['id']}", headers=world.auth("a_admin"))
    assert refused.status_code == 409
    assert "1 connection(s)" in refused.json()["detail"]
    assert await database.snapshot() == before


async def test_delete_hides_the_connector_and_frees_the_slug(
    api: httpx.AsyncClient, world: World
) -> None:
    created = await create(api, world, "a_admin")
    deleted = await api.delete(f"/connectors/{created['id']}", headers=world.auth("a_admin"))
    assert deleted.status_code == 204
    gone = await api.get(f"/connectors/{created['id']}", headers=world.auth("a_admin"))
    assert gone.status_code == 404
    listed = await api.get("/connectors", headers=world.auth("a_admin"))
    assert listed.json()["total"] == 0
    await create(api, world, "a_admin")  # the slug is free again


async def test_oversized_uploads_are_413(
    api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    database = Database(settings.database_url)
    before = await database.counts()
    big = make_zip({**FOLDER, "hooks/big.js": bytes(range(256)) * 12_000}, level=0)
    assert len(big) > settings.max_body_bytes
    for path in ("/connectors/upload", "/connectors/import", "/connectors"):
        response = await api.post(
            path,
            content=big,
            headers={**world.auth("a_admin"), "Content-Type": "application/zip"},
        )
        assert response.status_code == 413, path
    assert await database.counts() == before
