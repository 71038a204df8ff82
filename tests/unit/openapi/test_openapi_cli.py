"""``connectory import-openapi``: YAML on stdout or -o, warnings and suggestions on stderr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_docs import document, get, json_body
from typer.testing import CliRunner, Result

from connectory.cli.app import app
from connectory.spec import check_connector, check_connector_text

DOC = document(
    {
        "/items": {
            "get": get(
                {"200": json_body({"type": "array", "items": {"type": "object"}})},
                operationId="listItems",
                tags=["items"],
                parameters=[
                    {"name": "page", "in": "query", "schema": {"type": "integer"}},
                    {"name": "session", "in": "cookie", "schema": {"type": "string"}},
                ],
            )
        },
        "/users": {"get": get(operationId="listUsers", tags=["users"])},
    },
    components={"securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}}},
    security=[{"key": []}],
)


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["import-openapi", *args], env={"COLUMNS": "300"})


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(DOC), encoding="utf-8")
    return path


def test_writes_the_connector_yaml_to_stdout(spec_file: Path) -> None:
    result = _invoke(str(spec_file))
    assert result.exit_code == 0, result.output
    report = check_connector_text(result.stdout)
    assert report.ok, report.problems
    assert report.spec is not None
    assert report.spec.auth.auth_type == "api_key"
    assert "warning: /paths/~1items/get/parameters/1: cookie parameter" in result.stderr
    assert "suggestion: list_items: pagination page_number" in result.stderr
    assert "imported 2 operation(s) from OpenAPI 3.0 (auth: api_key)" in result.stderr


def test_writes_to_a_file_with_filters_and_accepted_pagination(
    spec_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "connector.yaml"
    result = _invoke(str(spec_file), "-o", str(out), "--tag", "items", "--accept-pagination")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    report = check_connector(out)
    assert report.ok and report.spec is not None
    (operation,) = report.spec.operations
    assert operation.pagination is not None
    assert "suggestion:" not in result.stderr
    assert "&id" not in out.read_text()  # no YAML anchors


def test_one_suggestion_accepted_by_name(spec_file: Path) -> None:
    result = _invoke(str(spec_file), "--accept-pagination-for", "list_items")
    assert result.exit_code == 0, result.output
    operations = {op["name"]: op for op in yaml.safe_load(result.stdout)["operations"]}
    assert operations["list_items"]["pagination"]["type"] == "page_number"
    assert "suggestion:" not in result.stderr  # the only suggestion was accepted
    refused = _invoke(str(spec_file), "--accept-pagination-for", "list_users")
    assert refused.exit_code == 1
    assert "no pagination is suggested for list_users; suggested for: list_items" in (
        refused.stderr
    )


def test_operation_ids_select(spec_file: Path) -> None:
    result = _invoke(str(spec_file), "--operation-id", "listUsers")
    names = [op["name"] for op in yaml.safe_load(result.stdout)["operations"]]
    assert names == ["list_users"]


def test_a_bad_filter_is_an_error_without_traceback(spec_file: Path) -> None:
    result = _invoke(str(spec_file), "--tag", "item")
    assert result.exit_code == 1
    assert "did you mean 'items'" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"openapi: 3.0.0\ninfo: {title: caf\xe9}\n", "not UTF-8"),
        (
            b'{"openapi": "3.0.0", "paths": '
            b'{"/a": {"get": {"responses": {"200": {"$ref": "#/x"}}}}}}',
            "points to nothing",
        ),
        (b"not: openapi\n", "not an OpenAPI document"),
    ],
)
def test_hostile_documents_exit_1_with_a_message(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    result = _invoke(str(path))
    assert result.exit_code == 1
    assert says in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_a_100_mb_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as stream:
        stream.truncate(100 * 1024 * 1024)
    result = _invoke(str(path))
    assert result.exit_code == 1
    assert "100.0 MiB" in result.stderr and "limited to 50 MiB" in result.stderr


def test_a_missing_file(tmp_path: Path) -> None:
    result = _invoke(str(tmp_path / "nope.json"))
    assert result.exit_code == 1
    assert "file not found" in result.stderr


def test_reimport_into_a_connector_shows_the_diff_and_writes_only_with_apply(
    spec_file: Path, tmp_path: Path
) -> None:
    connector = tmp_path / "connector.yaml"
    assert _invoke(str(spec_file), "-o", str(connector), "--accept-pagination").exit_code == 0
    edited = yaml.safe_load(connector.read_text())
    edited["name"] = "My Items"
    connector.write_text(yaml.safe_dump(edited, sort_keys=False))
    newer = json.loads(json.dumps(DOC))
    del newer["paths"]["/users"]
    newer["paths"]["/orders"] = {"get": {"operationId": "listOrders", "responses": {}}}
    newer_file = tmp_path / "newer.json"
    newer_file.write_text(json.dumps(newer))
    before = connector.read_text()

    preview = _invoke(str(newer_file), "--into", str(connector))
    assert preview.exit_code == 0, preview.output
    assert "added: list_orders" in preview.stderr
    assert "removed: list_users" in preview.stderr
    assert "+  name: list_orders" in preview.stdout  # the unified diff
    assert "add --apply" in preview.stderr
    assert connector.read_text() == before

    applied = _invoke(str(newer_file), "--into", str(connector), "--apply")
    assert applied.exit_code == 0, applied.output
    report = check_connector(connector)
    assert report.spec is not None
    assert report.spec.name == "My Items"  # the connector keeps its own settings
    assert report.spec.operation_names == ["list_items", "list_orders"]
    assert report.spec.operations[0].pagination is not None  # and accepted pagination

    again = _invoke(str(newer_file), "--into", str(connector))
    assert "no change" in again.stderr


def _newer() -> dict[str, Any]:
    newer: dict[str, Any] = json.loads(json.dumps(DOC))
    newer["info"]["version"] = "2.0"
    del newer["paths"]["/users"]
    newer["paths"]["/orders"] = {"get": {"operationId": "listOrders", "responses": {}}}
    newer["components"]["schemas"] = {"Order": {"type": "object"}}
    return newer


def test_a_folder_keeps_its_description_and_a_reimport_shows_the_drift(
    spec_file: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "items"
    folder.mkdir()
    created = _invoke(str(spec_file), "-o", str(folder), "--accept-pagination")
    assert created.exit_code == 0, created.output
    assert (folder / "openapi.json").read_bytes() == spec_file.read_bytes()
    # The owner splits the folder: auth in its own file, one file per operation, a new name.
    main = yaml.safe_load((folder / "connector.yaml").read_text())
    (folder / "auth.yaml").write_text(yaml.safe_dump(main.pop("auth")))
    (folder / "operations").mkdir()
    for operation in main.pop("operations"):
        (folder / "operations" / f"{operation['name']}.yaml").write_text(yaml.safe_dump(operation))
    main["name"] = "My Items"
    (folder / "connector.yaml").write_text(yaml.safe_dump(main, sort_keys=False))
    auth_before = (folder / "auth.yaml").read_text()
    newer_file = tmp_path / "newer.json"
    newer_file.write_text(json.dumps(_newer()))
    files_before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    preview = _invoke(str(newer_file), "--into", str(folder))
    assert preview.exit_code == 0, preview.output
    assert "drift: info.version: 1.0 -> 2.0" in preview.stderr
    assert "drift: operations added (1): GET /orders" in preview.stderr
    assert "drift: operations removed (1): GET /users" in preview.stderr
    assert "drift: schemas added (1): Order" in preview.stderr
    assert "added: list_orders" in preview.stderr and "removed: list_users" in preview.stderr
    assert "+  name: list_orders" in preview.stdout
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == files_before

    applied = _invoke(str(newer_file), "--into", str(folder), "--apply")
    assert applied.exit_code == 0, applied.output
    report = check_connector(folder)
    assert report.ok, report.problems
    assert report.spec is not None
    assert report.spec.name == "My Items"
    assert report.spec.operation_names == ["list_items", "list_orders"]
    assert report.spec.operations[0].pagination is not None  # accepted pagination kept
    assert sorted(p.name for p in (folder / "operations").iterdir()) == [
        "list_items.yaml",
        "list_orders.yaml",
    ]
    assert (folder / "auth.yaml").read_text() == auth_before
    assert "operations" not in yaml.safe_load((folder / "connector.yaml").read_text())
    assert (folder / "openapi.json").read_bytes() == newer_file.read_bytes()

    again = _invoke(str(newer_file), "--into", str(folder))
    assert "drift: none since openapi.json" in again.stderr
    assert "no change" in again.stderr


def test_a_folder_without_a_kept_description_gets_one_on_apply(
    spec_file: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    assert _invoke(str(spec_file), "-o", str(folder)).exit_code == 0
    (folder / "openapi.json").unlink()
    yaml_description = tmp_path / "same.yaml"
    yaml_description.write_text(yaml.safe_dump(DOC))
    preview = _invoke(str(yaml_description), "--into", str(folder))
    assert preview.exit_code == 0, preview.output
    assert "the folder keeps no description" in preview.stderr
    assert "no change" not in preview.stderr  # applying it would keep the description
    applied = _invoke(str(yaml_description), "--into", str(folder), "--apply")
    assert applied.exit_code == 0, applied.output
    assert (folder / "openapi.yaml").read_bytes() == yaml_description.read_bytes()
    assert (
        "drift: none since openapi.yaml"
        in _invoke(str(yaml_description), "--into", str(folder)).stderr
    )


def test_folder_mistakes_are_errors_without_traceback(spec_file: Path, tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    assert _invoke(str(spec_file), "-o", str(folder)).exit_code == 0
    again = _invoke(str(spec_file), "-o", str(folder))
    assert again.exit_code == 1 and "--into" in again.stderr
    both = _invoke(str(spec_file), "--into", str(folder), "-o", str(tmp_path / "x.yaml"))
    assert both.exit_code == 1 and "drop --output" in both.stderr
    (folder / "openapi.yaml").write_text("openapi: 3.0.3")
    two = _invoke(str(spec_file), "--into", str(folder))
    assert two.exit_code == 1 and "keeps two descriptions" in two.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = _invoke(str(spec_file), "--into", str(empty))
    assert missing.exit_code == 1 and "no connector.yaml" in missing.stderr
    assert "Traceback" not in missing.output


def test_a_url(tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from connectory.testing import serve

    async def spec(request: Request) -> Response:
        return Response(
            json.dumps({**DOC, "servers": [{"url": "/api"}]}), media_type="application/json"
        )

    with serve(Starlette(routes=[Route("/openapi.json", spec)])) as url:
        result = _invoke(f"{url}/openapi.json")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["base_url"] == f"{url}/api"
