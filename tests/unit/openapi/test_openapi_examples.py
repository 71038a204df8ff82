"""Parameter examples survive the import (the builder's "Test every operation" sends them)."""

from __future__ import annotations

from typing import Any

from openapi_docs import document, get, parameter, run, swagger


def test_examples_are_kept_from_the_parameter_its_examples_or_its_schema() -> None:
    params: list[Any] = [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}, "example": 7},
        {"name": "q", "in": "query", "schema": {"type": "string"},
         "examples": {"short": {"value": "rex"}, "long": {"value": "rex the dog"}}},
        {"name": "size", "in": "query", "schema": {"type": "integer", "example": "25"}},
        {"name": "kind", "in": "query", "schema": {"type": "string", "enum": ["a", "b"]},
         "example": "c"},
        {"name": "flag", "in": "query", "schema": {"type": "boolean"}, "example": {"no": 1}},
    ]  # fmt: skip
    result = run(document({"/a/{id}": {"get": get(parameters=params)}}))
    assert parameter(result, "get_a_by_id", "id")["example"] == 7
    assert parameter(result, "get_a_by_id", "q")["example"] == "rex"
    assert parameter(result, "get_a_by_id", "size")["example"] == 25  # fitted to the type
    # An example outside the enum, or of another type, is not kept.
    assert "example" not in parameter(result, "get_a_by_id", "kind")
    assert "example" not in parameter(result, "get_a_by_id", "flag")


def test_a_swagger_x_example_is_kept_and_the_connector_is_valid() -> None:
    doc = swagger(
        {
            "/a": {
                "get": {
                    "parameters": [
                        {"name": "X-Id", "in": "header", "type": "string", "x-example": "abc"}
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        }
    )
    result = run(doc)
    assert parameter(result, "get_a", "X-Id")["example"] == "abc"
    # run() checked the imported connector is valid: the format takes example.
