"""Connector JavaScript through the API: stored and carried with the connector, checked on save,
run by the Test tab (draft runs) on the server's engine, failures reported with file and line.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from connectory.testing import create_test_api, serve

from .connector_support import EXAMPLES, example_files, example_yaml, make_tar_gz, make_zip, publish
from .support import World

EXAMPLE = EXAMPLES / "testapi-javascript"
SECRET = "test-signing-secret"


@pytest.fixture(scope="module", name="test_api")
def _test_api() -> Iterator[str]:
    with serve(create_test_api()) as url:
        yield url


async def create(api: httpx.AsyncClient, world: World, base_url: str, **extra: object) -> str:
    body = {"yaml": example_yaml(EXAMPLE, base_url), "files": example_files(EXAMPLE), **extra}
    response = await api.post("/connectors", json=body, headers=world.auth("a_admin"))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_hooks_and_methods_are_stored_exported_and_imported(
    api: httpx.AsyncClient, world: World
) -> None:
    connector_id = await create(api, world, "https://api.example.com")
    draft = (
        await api.get(f"/connectors/{connector_id}/draft", headers=world.auth("a_admin"))
    ).json()
    assert draft["files"] == example_files(EXAMPLE)
    assert draft["problems"] == []
    await publish(api, world, "a_admin", connector_id)
    export = await api.get(f"/connectors/{connector_id}/export", headers=world.auth("a_admin"))
    assert set(export.json()["files"]) == {
        "hooks/sign.js",
        "hooks/unwrap.js",
        "methods/item_summary.js",
    }
    imported = await api.post(
        "/connectors/import", json=export.json(), headers=world.auth("b_admin")
    )
    assert imported.status_code == 201, imported.text
    copy_id = imported.json()["connector_id"]
    copy = await api.get(f"/connectors/{copy_id}/draft", headers=world.auth("b_admin"))
    assert copy.json()["files"] == example_files(EXAMPLE)


async def test_a_syntax_error_is_refused_with_file_line_and_column(
    api: httpx.AsyncClient, world: World
) -> None:
    files = {
        **example_files(EXAMPLE),
        "hooks/unwrap.js": "export default (ctx) => {\n  return {;\n};\n",
    }
    body = {"yaml": example_yaml(EXAMPLE, "https://api.example.com"), "files": files}
    response = await api.post("/connectors", json=body, headers=world.auth("a_admin"))
    assert response.status_code == 422
    [problem] = [p for p in response.json()["problems"] if p["severity"] == "error"]
    assert (problem["file"], problem["line"], problem["column"]) == ("hooks/unwrap.js", 2, 11)
    assert problem["message"].startswith("SyntaxError")


async def test_an_edit_without_files_must_fit_the_files_kept(
    api: httpx.AsyncClient, world: World
) -> None:
    connector_id = await create(api, world, "https://api.example.com")
    text = example_yaml(EXAMPLE, "https://api.example.com").replace(
        "methods/item_summary.js", "methods/renamed.js"
    )
    response = await api.put(
        f"/connectors/{connector_id}/draft", json={"yaml": text}, headers=world.auth("a_admin")
    )
    assert response.status_code == 422
    assert "the file methods/renamed.js does not exist" in response.text


async def test_the_test_tab_runs_hooks_and_methods_and_shows_their_work(
    api: httpx.AsyncClient, world: World, test_api: str
) -> None:
    connector_id = await create(api, world, test_api)
    run = {
        "operation": "item_summary",
        "params": {"id": 5},
        "credentials": {"signing_secret": SECRET},
    }
    response = await api.post(
        f"/connectors/{connector_id}/draft/run", json=run, headers=world.auth("a_admin")
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["body"] == {"id": 5, "name": "Item 0005", "next": {"id": 6, "name": "Item 0006"}}
    assert [call["url"].split("?")[0] for call in result["api_calls"]] == [
        f"{test_api}/envelope/items/5",
        f"{test_api}/envelope/items",
    ]
    assert result["logs"][-1] == {
        "level": "info",
        "message": "item 5: the next one is 6",
        "location": "methods/item_summary.js:9:11",
    }
    signed = {
        "operation": "create_signed_item",
        "params": {"name": "n"},
        "credentials": run["credentials"],
    }
    response = await api.post(
        f"/connectors/{connector_id}/draft/run", json=signed, headers=world.auth("a_admin")
    )
    result = response.json()
    assert result["status_code"] == 201, result
    assert "X-Signature" not in result["request_before_hooks"]["headers"]
    assert result["request"]["headers"]["X-Signature"] == "[REDACTED]"
    assert SECRET not in response.text


async def test_a_failing_hook_is_a_422_naming_file_line_and_stack(
    api: httpx.AsyncClient, world: World, test_api: str
) -> None:
    broken = (
        "export default function sign(ctx) {\n"
        "  ctx.log('about to fail with', ctx.credentials.signing_secret);\n"
        "  throw new Error('cannot sign with ' + ctx.credentials.signing_secret);\n"
        "}\n"
    )
    files = {**example_files(EXAMPLE), "hooks/sign.js": broken}
    body = {"yaml": example_yaml(EXAMPLE, test_api), "files": files}
    created = await api.post("/connectors", json=body, headers=world.auth("a_admin"))
    connector_id = created.json()["id"]
    run = {"operation": "list_signed_items", "credentials": {"signing_secret": SECRET}}
    response = await api.post(
        f"/connectors/{connector_id}/draft/run", json=run, headers=world.auth("a_admin")
    )
    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "script_error"
    assert error["detail"] == "hooks/sign.js:3:9: Error: cannot sign with [REDACTED]"
    assert (error["script"]["file"], error["script"]["line"]) == ("hooks/sign.js", 3)
    assert error["script"]["stack"] == ["sign (hooks/sign.js:3:9)"]
    assert error["script"]["logs"][0]["message"] == "about to fail with [REDACTED]"
    assert SECRET not in response.text


async def test_a_stored_connection_runs_the_published_code(
    api: httpx.AsyncClient, world: World, test_api: str
) -> None:
    connector_id = await create(api, world, test_api)
    await publish(api, world, "a_admin", connector_id)
    created = await api.post(
        "/connections",
        json={
            "connector_id": connector_id,
            "name": "signed",
            "credentials": {"signing_secret": SECRET},
        },
        headers=world.auth("a_admin"),
    )
    assert created.status_code == 201, created.text
    connection_id = created.json()["id"]
    listed = await api.post(
        f"/connections/{connection_id}/operations/list_signed_items",
        json={"params": {"limit": 2}},
        headers=world.auth("a_viewer"),
    )
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()["body"]["items"]] == [1, 2]
    summary = await api.post(
        f"/connections/{connection_id}/operations/item_summary",
        json={"params": {"id": 3}},
        headers=world.auth("a_viewer"),
    )
    assert summary.json()["body"]["next"] == {"id": 4, "name": "Item 0004"}
    assert SECRET not in listed.text + summary.text


async def test_an_archive_of_the_folder_carries_hooks_and_methods(
    api: httpx.AsyncClient, world: World
) -> None:
    folder = {
        "connector.yaml": example_yaml(EXAMPLE, "https://api.example.com"),
        **example_files(EXAMPLE),
    }
    headers = world.auth("a_admin")
    for archive, kind in ((make_zip(folder), "application/zip"), (make_tar_gz(folder), "")):
        response = await api.post(
            "/connectors/upload",
            content=archive,
            headers={**headers, "Content-Type": kind or "application/gzip"},
        )
        assert response.status_code == 201, response.text
        draft = await api.get(f"/connectors/{response.json()['id']}/draft", headers=headers)
        assert draft.json()["files"] == example_files(EXAMPLE)
        await api.delete(f"/connectors/{response.json()['id']}", headers=headers)
