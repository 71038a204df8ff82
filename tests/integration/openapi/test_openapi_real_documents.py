"""Real API descriptions from the npm registry: Petstore in three versions, every auth scheme
type (readme's security.json), every readme example, and GitHub's full REST description."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import GitHubImport
from openapi_support import OAS_EXAMPLES, PETSTORES, check_connector_quickly, peer_file

from connectory.openapi import ImportResult, OpenAPIError, import_openapi
from connectory.openapi.pointers import MISSING, lookup, parse_pointer

pytestmark = [pytest.mark.integration, pytest.mark.peers]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch")

PETSTORE_OPERATIONS = [
    "add_pet",
    "update_pet",
    "find_pets_by_status",
    "find_pets_by_tags",
    "get_pet_by_id",
    "update_pet_with_form",
    "delete_pet",
    "upload_file",
    "get_inventory",
    "place_order",
    "get_order_by_id",
    "delete_order",
    "create_user",
    "create_users_with_array_input",
    "create_users_with_list_input",
    "login_user",
    "logout_user",
    "get_user_by_name",
    "update_user",
    "delete_user",
]


def _load(path: Path) -> tuple[ImportResult, Any]:
    raw = peer_file(path).read_bytes()
    return import_openapi(raw, source_name=path.name), json.loads(raw)


def _assert_pointers_resolve(result: ImportResult, document: Any) -> None:
    for warning in result.warnings:
        parts = parse_pointer(warning.pointer)
        assert parts is not None, warning
        # A place the document does not have (a missing securitySchemes) still has a parent.
        assert (
            lookup(document, parts) is not MISSING or lookup(document, parts[:-1]) is not MISSING
        ), warning


@pytest.mark.parametrize("version", ["2.0", "3.0", "3.1"])
def test_petstore(version: str) -> None:
    result, document = _load(PETSTORES[version])
    connector = result.connector
    assert result.version == version
    assert connector["name"] == "Swagger Petstore"
    assert connector["base_url"] == "http://petstore.swagger.io/v2"
    assert [op["name"] for op in connector["operations"]] == PETSTORE_OPERATIONS
    assert connector["auth"]["auth_type"] == "api_key"
    assert connector["auth"]["header_name"] == "api_key"
    assert check_connector_quickly(connector) == []
    _assert_pointers_resolve(result, document)
    by_name = {op["name"]: op for op in connector["operations"]}
    find = by_name["find_pets_by_status"]
    (status,) = find["parameters"]
    assert status["type"] == "array" and status["required"] is True
    assert find["response_schema"]["items"] == {"$ref": "#/schemas/Pet"}
    place = by_name["place_order"]
    assert place["request_body"]["content_type"] == "json"
    assert {p["name"] for p in place["parameters"]} >= {"petId", "quantity", "status"}
    assert by_name["update_pet_with_form"]["request_body"]["content_type"] == "form"
    implicit = [w for w in result.warnings if "implicit" in w.message]
    assert len(implicit) == 1  # petstore_auth is an implicit flow: no connector auth type


def test_every_auth_scheme_type_of_readme_security_example() -> None:
    result, _ = _load(OAS_EXAMPLES / "3.0" / "json" / "security.json")
    options = result.auth_options

    def kind(name: str) -> tuple[Any, ...]:
        auth = options[name]
        return (
            auth["auth_type"],
            *(auth.get(key) for key in ("location", "header_name", "query_param", "key_prefix")),
        )

    assert kind("apiKey_header") == ("api_key", "header", "X-API-KEY", None, None)
    assert kind("apiKey_query") == ("api_key", "query", None, "apiKey", None)
    assert kind("apiKey_cookie") == ("api_key", "header", "Cookie", None, "api_key=")
    assert options["basic"]["auth_type"] == "basic"
    assert set(options["basic"]["credential_schema"]) == {"username", "password"}
    assert options["bearer"]["auth_type"] == "bearer"
    assert options["bearer_jwt"]["credential_schema"]["token"]["type"] == "password"
    client = options["oauth2_clientCredentials"]
    assert (client["grant_type"], client["token_url"]) == (
        "client_credentials",
        "http://alt.example.com/oauth/token",
    )
    assert client["scopes"] == ["write:things"]
    code = options["oauth2_authorizationCode"]
    assert (code["grant_type"], code["authorization_url"], code["token_url"]) == (
        "authorization_code",
        "http://alt.example.com/oauth/dialog",
        "http://alt.example.com/oauth/token",
    )
    assert options["oauth2"]["grant_type"] == "client_credentials"  # offers four flows
    assert set(options) == {
        "apiKey_cookie",
        "apiKey_header",
        "apiKey_query",
        "basic",
        "bearer",
        "bearer_jwt",
        "oauth2",
        "oauth2_authorizationCode",
        "oauth2_clientCredentials",
    }
    unmapped = {
        w.pointer.rsplit("/", 1)[-1] for w in result.warnings if w.pointer.startswith("/components")
    }
    assert unmapped == {"oauth2_implicit", "oauth2_password", "openIdConnect"}
    for name, auth in options.items():
        connector = {**result.connector, "auth": auth}
        assert check_connector_quickly(connector) == [], name


def _examples() -> list[Path]:
    if not OAS_EXAMPLES.is_dir():
        return []
    return sorted(p for p in OAS_EXAMPLES.glob("[23].*/*/*") if p.suffix in (".json", ".yaml"))


def test_every_readme_example_imports_or_is_refused_clearly() -> None:
    files = _examples()
    if not files:
        peer_file(OAS_EXAMPLES / "package.json")
    imported = 0
    for path in files:
        try:
            result = import_openapi(path.read_bytes(), source_name=path.name)
        except OpenAPIError as error:  # pragma: no cover - none today; listed if one appears
            pytest.fail(f"{path.relative_to(OAS_EXAMPLES)}: {error}")
        assert check_connector_quickly(result.connector) == [], path
        imported += 1
    assert imported >= 100


def test_github_imports_with_no_errors(github_import: GitHubImport) -> None:
    result, document = github_import.result, github_import.document
    expected = sum(1 for item in document["paths"].values() for method in item if method in METHODS)
    assert expected == 1223 or expected > 1000  # the pinned release has 1,223
    assert len(result.connector["operations"]) == expected
    assert result.connector["base_url"] == "https://api.github.com"
    names = [op["name"] for op in result.connector["operations"]]
    assert len(set(names)) == len(names)
    ids = {
        op["operationId"]
        for item in document["paths"].values()
        for m, op in item.items()
        if m in METHODS
    }
    assert set(result.operation_ids.values()) == ids
    _assert_pointers_resolve(result, document)
    assert len(result.warnings) < 60, [str(w) for w in result.warnings]
    kinds = {s.pagination["type"] for s in result.suggestions}
    assert "link_header" in kinds


def test_every_github_operation_validates(github_import: GitHubImport) -> None:
    assert check_connector_quickly(github_import.result.connector) == []


def test_github_tag_filter_gives_a_storable_connector(github_import: GitHubImport) -> None:
    raw = json.dumps(github_import.document).encode()
    result = import_openapi(raw, tags=["issues"])
    names = [op["name"] for op in result.connector["operations"]]
    assert "issues_list_for_repo" in names
    assert all("issues" in op["tags"] for op in result.connector["operations"])
    everything = {op["name"] for op in github_import.result.connector["operations"]}
    assert set(names) <= everything  # the same names as in the full import
