"""The success response's schema: 2xx first, alternatives combined, empty bodies allowed."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from openapi_docs import document, get, json_body, operation, run, swagger, warnings_at

ITEM = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}


def _schema(responses: dict[str, Any], **extra: Any) -> Any:
    result = run(document({"/a": {"get": get(responses)}}, **extra))
    return operation(result, "get_a").get("response_schema")


def test_the_2xx_response_is_the_success_response() -> None:
    responses = {"404": json_body({"type": "string"}), "200": json_body(ITEM)}
    assert _schema(responses) == ITEM


def test_several_2xx_schemas_become_any_of() -> None:
    schema = _schema({"200": json_body(ITEM), "202": json_body({"type": "string"})})
    assert schema == {"anyOf": [ITEM, {"type": "string"}]}


def test_a_success_without_a_body_allows_an_empty_body() -> None:
    schema = _schema({"200": json_body(ITEM), "204": {"description": "none"}})
    assert Draft202012Validator(schema).is_valid(None)
    assert not Draft202012Validator(schema).is_valid({})


def test_only_empty_successes_mean_no_schema() -> None:
    assert _schema({"204": {"description": "none"}}) is None


def test_default_is_used_when_there_is_no_2xx() -> None:
    assert _schema({"default": json_body(ITEM)}) == ITEM
    assert _schema({"200": {"description": "ok"}, "default": json_body(ITEM)}) is None


def test_2xx_ranges_and_referenced_responses() -> None:
    schema = _schema(
        {"2XX": {"$ref": "#/components/responses/Ok"}},
        components={"responses": {"Ok": json_body({"$ref": "#/components/schemas/Item"})}},
        schemas={"Item": ITEM},
    )
    assert schema == {"$ref": "#/schemas/Item"}


def test_vendor_json_types_are_json() -> None:
    responses = {
        "200": {"description": "ok", "content": {"application/vnd.api+json": {"schema": ITEM}}}
    }
    assert _schema(responses) == ITEM


def test_non_json_responses_have_no_schema_and_a_warning() -> None:
    doc = document(
        {
            "/a": {
                "get": get(
                    {
                        "200": {
                            "description": "ok",
                            "content": {"text/html": {"schema": {"type": "string"}}},
                        }
                    }
                )
            }
        }
    )
    result = run(doc)
    assert "response_schema" not in operation(result, "get_a")
    assert "text/html" in warnings_at(result, "/paths/~1a/get/responses/200/content")[0]


def test_swagger_responses() -> None:
    doc = swagger(
        {
            "/a": {
                "get": {
                    "responses": {
                        "200": {"description": "ok", "schema": {"$ref": "#/definitions/Item"}}
                    }
                }
            }
        },
        definitions={"Item": ITEM},
    )
    assert operation(run(doc), "get_a")["response_schema"]["$ref"] == "#/schemas/Item"
