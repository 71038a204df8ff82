"""The UI's endpoints: session cookie, the CSRF header rule, YAML conversion, draft runs."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from connectory.store import create_engine, create_sessionmaker
from connectory.testing import create_test_api, serve

from .support import World

SECRET = "draft-run-secret-91ab"
UI = {"X-Connectory-UI": "1"}


def _document(base_url: str) -> dict[str, object]:
    return {
        "name": "Items",
        "slug": "items",
        "base_url": base_url,
        "auth": {
            "auth_type": "api_key",
            "credential_schema": {"api_key": {"type": "password", "required": True}},
            "key_prefix": "Token ",
        },
        "operations": [
            {
                "operation": "list_items",
                "path": "/offset/items",
                "record_selector": "data",
                "pagination": {"type": "offset", "page_size": 100, "total_header": "X-Total-Count"},
                "response_schema": {"type": "object", "required": ["data"]},
            },
            {"operation": "echo", "path": "/echo"},
        ],
    }


@pytest.fixture
def test_api() -> Iterator[str]:
    with serve(create_test_api()) as url:
        yield url


async def _sign_in(api: httpx.AsyncClient, token: str) -> None:
    response = await api.post("/ui/session", json={"token": token}, headers=UI)
    assert response.status_code == 204
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert token not in cookie  # encrypted, never the raw token


async def test_session_cookie_signs_in_and_out(api: httpx.AsyncClient, world: World) -> None:
    await _sign_in(api, world.tokens["a_admin"])
    me = await api.get("/me")
    assert me.status_code == 200 and me.json()["user"]["id"] == world.users["a_admin"]
    assert (await api.delete("/ui/session", headers=UI)).status_code == 204
    assert (await api.get("/me")).status_code == 401


async def test_sign_in_refuses_bad_tokens_and_forms_without_header(
    api: httpx.AsyncClient, world: World
) -> None:
    bad = await api.post("/ui/session", json={"token": "cty_nope"}, headers=UI)
    assert bad.status_code == 401 and "set-cookie" not in bad.headers
    form = await api.post("/ui/session", data={"token": world.tokens["a_admin"]})
    assert form.status_code == 403
    ok = await api.post("/ui/session", data={"token": world.tokens["a_admin"]}, headers=UI)
    assert ok.status_code == 204


async def test_cookie_writes_need_the_ui_header(api: httpx.AsyncClient, world: World) -> None:
    await _sign_in(api, world.tokens["platform"])
    body = {"document": _document("https://api.example.com")}
    refused = await api.post("/connectors", json=body)
    assert refused.status_code == 403 and "X-Connectory-UI" in refused.json()["detail"]
    assert (await api.get("/connectors")).json()["total"] == 0
    assert (await api.post("/connectors", json=body, headers=UI)).status_code == 201


async def test_tampered_cookie_is_401(api: httpx.AsyncClient, world: World) -> None:
    api.cookies.set("connectory_session", "cty1.1.AAAA")
    assert (await api.get("/me")).status_code == 401


async def test_yaml_parse_and_render(api: httpx.AsyncClient, world: World) -> None:
    auth = world.auth("a_viewer")
    text = "name: X\nslug: x\nbase_url: nope\n"
    parsed = (await api.post("/ui/yaml/parse", json={"yaml": text}, headers=auth)).json()
    assert parsed["document"]["base_url"] == "nope"
    problem = next(p for p in parsed["problems"] if p["path"] == "base_url")
    assert problem["line"] == 3
    broken = (await api.post("/ui/yaml/parse", json={"yaml": "a: [1"}, headers=auth)).json()
    assert broken["document"] is None and broken["problems"][0]["line"]
    rendered = await api.post(
        "/ui/yaml/render", json={"document": {"name": "X", "b": 1}}, headers=auth
    )
    assert rendered.json()["yaml"] == "name: X\nb: 1\n"
    assert (await api.post("/ui/yaml/render", json={"document": {}})).status_code == 401


async def test_ui_routes_are_not_in_openapi(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert not any(path.startswith("/ui") for path in paths)
    assert "/connectors/{connector_id}/draft/run" in paths
    assert (await api.get("/ui/")).status_code == 200
    assert (await api.get("/ui/static/main.js")).status_code == 200


async def test_draft_run_uses_credentials_once(
    api: httpx.AsyncClient, world: World, settings: object, test_api: str
) -> None:
    auth = world.auth("a_admin")
    created = await api.post("/connectors", json={"document": _document(test_api)}, headers=auth)
    connector_id = created.json()["id"]
    run = {"operation": "list_items", "credentials": {"api_key": SECRET}, "all_pages": True}
    response = await api.post(f"/connectors/{connector_id}/draft/run", json=run, headers=auth)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status_code"] == 200 and result["version"] == "draft"
    assert result["schema_mismatches"] == []
    assert [page["record_count"] for page in result["pages"]] == [100, 100, 50]
    assert result["pages"][2]["records"] is not None and len(result["pages"][0]["records"]) == 50
    echo = {"operation": "echo", "credentials": {"api_key": SECRET}}
    echoed = await api.post(f"/connectors/{connector_id}/draft/run", json=echo, headers=auth)
    assert SECRET not in echoed.text  # the request as sent and the echoed body are redacted
    # Nothing about the credentials was stored anywhere.
    from connectory.store.models import Base

    engine = create_engine(settings.database_url)  # type: ignore[attr-defined]
    try:
        async with create_sessionmaker(engine)() as session:
            for table in Base.metadata.sorted_tables:
                for row in (await session.execute(select(table))).all():
                    assert SECRET not in repr(row)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("user", ["a_viewer", "a_plain_admin", "b_admin"])
async def test_draft_run_needs_an_editor(api: httpx.AsyncClient, world: World, user: str) -> None:
    created = await api.post(
        "/connectors",
        json={"document": _document("https://api.example.com")},
        headers=world.auth("a_admin"),
    )
    run = {"operation": "list_items", "credentials": {"api_key": "x"}}
    path = f"/connectors/{created.json()['id']}/draft/run"
    response = await api.post(path, json=run, headers=world.auth(user))
    assert response.status_code == (404 if user == "b_admin" else 403)
