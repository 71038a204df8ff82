"""Base URLs, operation names, overview fields and operation filters."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_docs import document, get, run, swagger, warnings_at

from connectory.openapi import OpenAPIError, import_openapi
from connectory.openapi.naming import name_from_path, snake_case


def _base_url(doc: dict[str, Any], **options: Any) -> str:
    url: str = run(doc, **options).connector["base_url"]
    return url


def test_server_variables_are_filled_with_their_defaults() -> None:
    doc = document()
    doc["servers"] = [
        {
            "url": "https://{region}.example.com/{version}/",
            "variables": {
                "region": {"default": "eu", "enum": ["eu", "us"]},
                "version": {"default": "v2"},
            },
        }
    ]
    assert _base_url(doc) == "https://eu.example.com/v2"


def test_a_variable_without_default_is_warned_about() -> None:
    doc = document()
    doc["servers"] = [
        {"url": "https://{tenant}.example.com", "variables": {"tenant": {"enum": ["a"]}}}
    ]
    result = run(doc)
    assert result.connector["base_url"] == "https://a.example.com"
    assert warnings_at(result, "/servers/0/variables/tenant")


def test_the_first_of_several_servers_is_used() -> None:
    doc = document()
    doc["servers"] = [{"url": "https://prod.example.com"}, {"url": "https://sandbox.example.com"}]
    result = run(doc)
    assert result.connector["base_url"] == "https://prod.example.com"
    assert "sandbox" in warnings_at(result, "/servers")[0]


def test_a_relative_server_is_resolved_against_the_documents_url() -> None:
    doc = document()
    doc["servers"] = [{"url": "/api/v3"}]
    assert _base_url(doc, source_url="https://petstore.example.com/openapi.json") == (
        "https://petstore.example.com/api/v3"
    )
    result = run(doc)
    assert result.connector["base_url"] == "https://api.example.invalid/api/v3"
    assert "replace it" in warnings_at(result, "/servers")[0]


def test_no_servers_gives_a_placeholder_and_a_warning() -> None:
    doc = document()
    del doc["servers"]
    result = run(doc)
    assert result.connector["base_url"] == "https://api.example.invalid"
    assert warnings_at(result, "/servers")


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({}, "https://api.example.com/v1"),
        ({"schemes": ["http", "https"]}, "https://api.example.com/v1"),
        ({"schemes": ["http"], "basePath": "v2"}, "http://api.example.com/v2"),
        ({"basePath": "/"}, "https://api.example.com"),
    ],
)
def test_swagger_host_base_path_and_schemes(fields: dict[str, Any], url: str) -> None:
    assert _base_url(swagger(**fields)) == url


def test_swagger_without_host_uses_the_documents_host() -> None:
    doc = swagger()
    del doc["host"]
    assert (
        _base_url(doc, source_url="http://127.0.0.1:8080/spec.json") == "http://127.0.0.1:8080/v1"
    )


def test_overview_from_info() -> None:
    doc = document()
    doc["info"] = {"title": "Pet Shop ✓", "description": "Pets.", "version": "2"}
    doc["externalDocs"] = {"url": "https://docs.example.com"}
    connector = run(doc).connector
    assert connector["name"] == "Pet Shop ✓"
    assert connector["slug"] == "pet-shop"
    assert connector["description"] == "Pets."
    assert connector["documentation_url"] == "https://docs.example.com"
    assert "version" not in connector  # publishing assigns the connector's versions


def test_a_title_without_ascii_letters_still_gets_a_slug() -> None:
    doc = document()
    doc["info"]["title"] = "宠物商店"
    assert run(doc).connector["slug"] == "imported-api"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("getPetById", "get_pet_by_id"),
        ("repos/list-for-org", "repos_list_for_org"),
        ("HTTPStatusCode", "http_status_code"),
        ("List users (v2)", "list_users_v2"),
        ("2fa-enable", "op_2fa_enable"),
        ("already_snake", "already_snake"),
    ],
)
def test_snake_case(text: str, name: str) -> None:
    assert snake_case(text) == name


def test_names_from_method_and_path() -> None:
    assert name_from_path("GET", "/pets/{petId}/photos") == "get_pets_by_pet_id_photos"
    assert name_from_path("delete", "/") == "delete"


def test_names_are_unique_and_stable() -> None:
    doc = document(
        {
            "/a": {"get": get(operationId="listThings"), "post": get(operationId="list-things")},
            "/b": {"get": get(operationId="listThings"), "put": get()},
            "/c": {"trace": get()},
        }
    )
    result = run(doc)
    names = [op["name"] for op in result.connector["operations"]]
    assert names == ["list_things", "list_things_2", "list_things_3", "put_b"]
    assert result.operation_ids["put_b"] == "PUT /b"
    assert warnings_at(result, "/paths/~1c/trace")


def test_descriptions_tags_and_deprecation() -> None:
    doc = document(
        {
            "/a": {
                "get": get(summary="List", description="Lists all.", tags=["x"], deprecated=True),
                "post": get(summary="Create"),
            }
        }
    )
    first, second = run(doc).connector["operations"]
    assert first["display_name"] == "List"
    assert first["description"] == "Deprecated. Lists all."
    assert first["tags"] == ["x"]
    assert second["description"] == "Create"


TAGGED = document(
    {
        "/pets": {"get": get(operationId="listPets", tags=["pets"])},
        "/pets/{id}": {"get": get(operationId="getPet", tags=["pets"])},
        "/users": {"get": get(operationId="listUsers", tags=["users"])},
        "/orders": {"get": get(tags=["store"])},
    }
)


def _names(**filters: Any) -> list[str]:
    return [op["name"] for op in run(TAGGED, **filters).connector["operations"]]


def test_filters_by_tag_and_operation_id() -> None:
    assert _names(tags=["pets"]) == ["list_pets", "get_pet"]
    assert _names(operation_ids=["listUsers"]) == ["list_users"]
    assert _names(operation_ids=["get_orders"]) == ["get_orders"]  # connector names work too
    assert _names(tags=["users"], operation_ids=["getPet"]) == ["get_pet", "list_users"]


def test_names_do_not_depend_on_the_filter() -> None:
    assert _names(tags=["store"]) == ["get_orders"]


def test_a_filter_matching_nothing_is_an_error_with_a_hint() -> None:
    with pytest.raises(OpenAPIError) as caught:
        import_openapi(TAGGED, tags=["pet"], operation_ids=["listPet"])
    messages = [problem.message for problem in caught.value.problems]
    assert "did you mean 'pets'" in messages[0]
    assert "did you mean 'listPets'" in messages[1]


def test_callbacks_webhooks_and_operation_servers_are_warned_about() -> None:
    doc = document(
        {
            "/a": {
                "servers": [{"url": "https://other.example.com"}],
                "post": get(callbacks={"done": {}}),
            }
        },
        version="3.1.0",
        webhooks={"newPet": {"post": get()}},
    )
    result = run(doc)
    assert warnings_at(result, "/paths/~1a/post/callbacks")
    assert warnings_at(result, "/paths/~1a/servers")
    assert warnings_at(result, "/webhooks")


def test_a_server_url_that_is_not_usable_is_replaced() -> None:
    doc = document()
    doc["servers"] = [{"url": "https://api.example.com:{port}/v1", "variables": {"port": {}}}]
    result = run(doc)
    assert result.connector["base_url"] == "https://api.example.invalid"
    assert any("replace it" in message for message in warnings_at(result, "/servers"))


def test_a_protocol_relative_server_gets_https() -> None:
    doc = document({"/a": {"get": get()}})
    doc["servers"] = [{"url": "//api.example.com/v2"}]
    result = run(doc)
    assert result.connector["base_url"] == "https://api.example.com/v2"
    assert any("protocol-relative" in w.message for w in result.warnings)
    read_from = run(doc, source_url="http://docs.example.com/openapi.json")
    assert read_from.connector["base_url"] == "http://api.example.com/v2"


def test_an_operation_server_equal_to_the_base_url_is_not_warned_about() -> None:
    # The case: 116 of 117 warnings said an operation's own server differs, when it
    # was the base URL itself.
    same = {"servers": [{"url": "https://api.example.com/v1"}]}
    other = {"servers": [{"url": "https://uploads.example.com"}]}
    paths = {f"/same{index}": {"get": get(**same)} for index in range(3)}
    paths |= {f"/other{index}": {"get": get(**other)} for index in range(7)}
    result = run(document(paths))
    server_warnings = [w for w in result.warnings if "own server" in w.message]
    assert len(server_warnings) == 1  # one for the seven, naming some of them
    assert "7 operation(s)" in server_warnings[0].message
    assert "https://uploads.example.com" in server_warnings[0].message
    assert "and 2 more" in server_warnings[0].message


def test_placeholders_a_connector_cannot_name_are_renamed() -> None:
    # NASA's {.format} (RFC 6570 label syntax) and RapidAPI's {insight_id:}.
    parameters = [
        {"name": ".format", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "insight_id:", "in": "path", "required": True, "schema": {"type": "string"}},
    ]
    doc = document({"/feed{.format}/{insight_id:}": {"get": get(parameters=parameters)}})
    result = run(doc)  # the connector validates
    (operation,) = result.connector["operations"]
    assert operation["path"] == "/feed{format}/{insight_id}"
    assert [p["name"] for p in operation["parameters"]] == ["format", "insight_id"]
    assert any("cannot name" in w.message for w in result.warnings)
