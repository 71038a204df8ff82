"""Parameters: location, type, required, default, enum, description; merging and warnings."""

from __future__ import annotations

from typing import Any

from openapi_docs import document, get, operation, parameter, run, swagger, warnings_at


def _op(parameters: list[Any], path: str = "/a", **extra: Any) -> dict[str, Any]:
    return document({path: {"get": get(parameters=parameters)}}, **extra)


def test_query_path_and_header_parameters_map_one_to_one() -> None:
    result = run(
        _op(
            [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
                {
                    "name": "status",
                    "in": "query",
                    "description": "Filter",
                    "schema": {"type": "string", "enum": ["a", "b"], "default": "a"},
                },
                {"name": "X-Trace", "in": "header", "schema": {"type": "boolean"}},
            ],
            path="/a/{id}",
        )
    )
    assert parameter(result, "get_a_by_id", "id") == {
        "name": "id",
        "location": "path",
        "type": "integer",
        "required": True,
    }
    assert parameter(result, "get_a_by_id", "status") == {
        "name": "status",
        "location": "query",
        "type": "string",
        "description": "Filter",
        "enum": ["a", "b"],
        "default": "a",
    }
    assert parameter(result, "get_a_by_id", "X-Trace")["type"] == "boolean"


def test_path_level_parameters_are_merged_and_overridden_by_the_operation() -> None:
    doc = document(
        {
            "/a/{id}": {
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "v", "in": "query", "description": "path level"},
                ],
                "get": get(parameters=[{"name": "v", "in": "query", "description": "operation"}]),
            }
        }
    )
    result = run(doc)
    params = operation(result, "get_a_by_id")["parameters"]
    assert [p["name"] for p in params] == ["id", "v"]
    assert params[1]["description"] == "operation"


def test_parameters_by_reference() -> None:
    doc = _op(
        [{"$ref": "#/components/parameters/PerPage"}],
        components={
            "parameters": {
                "PerPage": {
                    "name": "per_page",
                    "in": "query",
                    "schema": {"$ref": "#/components/schemas/Size"},
                }
            },
            "schemas": {"Size": {"type": "integer", "default": 30, "maximum": 100}},
        },
    )
    assert parameter(run(doc), "get_a", "per_page") == {
        "name": "per_page",
        "location": "query",
        "type": "integer",
        "default": 30,
    }


def test_a_path_parameter_is_always_required() -> None:
    result = run(_op([{"name": "id", "in": "path", "schema": {"type": "string"}}], path="/a/{id}"))
    assert parameter(result, "get_a_by_id", "id")["required"] is True


def test_a_default_on_a_required_parameter_is_dropped_with_a_warning() -> None:
    doc = _op([{"name": "q", "in": "query", "required": True, "schema": {"default": "x"}}])
    result = run(doc)
    assert "default" not in parameter(result, "get_a", "q")
    assert "never used" in warnings_at(result, "/paths/~1a/get/parameters/0")[0]


def test_enum_and_default_values_are_fitted_to_the_type() -> None:
    doc = _op(
        [
            {"name": "n", "in": "query", "schema": {"type": "string", "enum": [1, 2, True]}},
            {"name": "m", "in": "query", "schema": {"type": "integer", "default": "10"}},
            {"name": "k", "in": "query", "schema": {"type": "integer", "enum": [1, "x"]}},
            {
                "name": "j",
                "in": "query",
                "schema": {"type": "string", "enum": ["a"], "default": "b"},
            },
        ]
    )
    result = run(doc)
    assert parameter(result, "get_a", "n")["enum"] == ["1", "2", "true"]
    assert parameter(result, "get_a", "m")["default"] == 10
    assert parameter(result, "get_a", "k")["enum"] == [1]
    assert "default" not in parameter(result, "get_a", "j")
    assert warnings_at(result, "/paths/~1a/get/parameters/2")
    assert warnings_at(result, "/paths/~1a/get/parameters/3")


def test_types_are_read_through_composition_and_nullability() -> None:
    doc = _op(
        [
            {"name": "a", "in": "query", "schema": {"allOf": [{"type": "integer"}]}},
            {
                "name": "b",
                "in": "query",
                "schema": {"anyOf": [{"type": "number"}, {"type": "null"}]},
            },
            {"name": "c", "in": "query", "schema": {"enum": [True, False]}},
            {"name": "d", "in": "query", "schema": {"type": ["boolean", "null"]}},
            {"name": "e", "in": "query"},
        ],
        version="3.1.0",
    )
    result = run(doc)
    types = {p["name"]: p["type"] for p in operation(result, "get_a")["parameters"]}
    assert types == {"a": "integer", "b": "number", "c": "boolean", "d": "boolean", "e": "string"}


def test_several_types_are_warned_about() -> None:
    doc = _op(
        [
            {
                "name": "id",
                "in": "query",
                "schema": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
            }
        ]
    )
    result = run(doc)
    assert parameter(result, "get_a", "id")["type"] == "integer"
    assert "several types" in warnings_at(result, "/paths/~1a/get/parameters/0")[0]


def test_array_parameters_keep_their_items() -> None:
    doc = _op(
        [
            {
                "name": "ids",
                "in": "query",
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Id"}},
            }
        ],
        schemas={"Id": {"type": "integer", "minimum": 1}},
    )
    result = run(doc)
    assert parameter(result, "get_a", "ids")["items"] == {"$ref": "#/schemas/Id"}
    assert result.connector["schemas"] == {"Id": {"type": "integer", "minimum": 1}}
    assert not result.warnings[1:]  # form + explode is how the connector sends arrays


def test_query_styles_are_kept_and_other_serialisations_warned_about() -> None:
    doc = _op(
        [
            {"name": "a", "in": "query", "explode": False, "schema": {"type": "array"}},
            {"name": "b", "in": "query", "style": "pipeDelimited", "schema": {"type": "array"}},
            {"name": "c", "in": "query", "style": "deepObject", "schema": {"type": "object"}},
            {"name": "d", "in": "header", "schema": {"type": "array"}},
            {
                "name": "e",
                "in": "path",
                "required": True,
                "style": "label",
                "schema": {"type": "array"},
            },
            {
                "name": "f",
                "in": "query",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
        ],
        path="/a/{e}",
    )
    result = run(doc)
    # The runtime sends these query styles as the document says (see runtime/styles.py).
    assert parameter(result, "get_a_by_e", "a")["style"] == "form"
    assert parameter(result, "get_a_by_e", "a")["explode"] is False
    assert parameter(result, "get_a_by_e", "b")["style"] == "pipeDelimited"
    assert parameter(result, "get_a_by_e", "c")["style"] == "deepObject"
    for index in range(3):
        assert not warnings_at(result, f"/paths/~1a~1{{e}}/get/parameters/{index}"), index
    for index in (3, 4):  # an array header, a label-style path
        assert warnings_at(result, f"/paths/~1a~1{{e}}/get/parameters/{index}"), index
    assert not warnings_at(result, "/paths/~1a~1{e}/get/parameters/5")  # JSON content: as sent
    assert parameter(result, "get_a_by_e", "f")["type"] == "object"
    assert "style" not in parameter(result, "get_a_by_e", "f")


def test_cookie_parameters_and_reserved_headers_are_left_out_with_a_warning() -> None:
    doc = _op(
        [
            {"name": "session", "in": "cookie", "schema": {"type": "string"}},
            {"name": "Accept", "in": "header", "schema": {"type": "string"}},
            {"name": "Authorization", "in": "header", "schema": {"type": "string"}},
        ]
    )
    result = run(doc)
    assert "parameters" not in operation(result, "get_a")
    assert "cookie" in warnings_at(result, "/paths/~1a/get/parameters/0")[0]
    assert "ignored" in warnings_at(result, "/paths/~1a/get/parameters/1")[0]


def test_the_same_name_in_two_places_keeps_the_first() -> None:
    doc = _op(
        [
            {"name": "id", "in": "query", "schema": {"type": "string"}},
            {"name": "id", "in": "header", "schema": {"type": "string"}},
        ]
    )
    result = run(doc)
    assert [p["location"] for p in operation(result, "get_a")["parameters"]] == ["query"]
    assert "declared in two places" in warnings_at(result, "/paths/~1a/get/parameters/1")[0]


def test_broken_parameters_are_skipped_with_a_warning() -> None:
    doc = _op([{"in": "query"}, "text", {"name": "ok", "in": "query"}])
    result = run(doc)
    assert [p["name"] for p in operation(result, "get_a")["parameters"]] == ["ok"]
    assert warnings_at(result, "/paths/~1a/get/parameters/0")
    assert warnings_at(result, "/paths/~1a/get/parameters/1")


def test_a_placeholder_without_a_parameter_gets_one() -> None:
    result = run(document({"/a/{id}": {"get": get()}}))
    assert parameter(result, "get_a_by_id", "id") == {
        "name": "id",
        "location": "path",
        "type": "string",
        "required": True,
    }
    assert result.warnings[0].pointer == "/paths/~1a~1{id}/get"


def test_swagger_parameters() -> None:
    doc = swagger(
        {
            "/a": {
                "get": {
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "type": "integer",
                            "maximum": 50,
                            "default": 20,
                        },
                        {
                            "name": "ids",
                            "in": "query",
                            "type": "array",
                            "items": {"type": "string"},
                        },
                        {
                            "name": "tags",
                            "in": "query",
                            "type": "array",
                            "items": {"type": "string"},
                            "collectionFormat": "multi",
                        },
                        {"name": "X-Id", "in": "header", "type": "string", "x-example": "abc"},
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        }
    )
    result = run(doc)
    assert parameter(result, "get_a", "limit") == {
        "name": "limit",
        "location": "query",
        "type": "integer",
        "default": 20,
    }
    ids = parameter(result, "get_a", "ids")
    assert ids["items"] == {"type": "string"}
    assert (ids["style"], ids["explode"]) == ("form", False)  # csv: comma-separated
    assert not warnings_at(result, "/paths/~1a/get/parameters/1")
    assert "style" not in parameter(result, "get_a", "tags")  # multi: the name repeats
    assert not warnings_at(result, "/paths/~1a/get/parameters/2")


def test_a_path_parameter_the_path_does_not_have_is_left_out() -> None:
    result = run(
        _op([{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}])
    )
    assert "parameters" not in operation(result, "get_a")
    assert "not in the path /a" in warnings_at(result, "/paths/~1a/get/parameters/0")[0]


def test_enums_of_objects_are_kept_once() -> None:
    values = [{"a": 1}, {"a": 1}, {"b": 2}]
    result = run(
        _op(
            [
                {
                    "name": "f",
                    "in": "query",
                    "content": {"application/json": {"schema": {"type": "object", "enum": values}}},
                }
            ]
        )
    )
    assert parameter(result, "get_a", "f")["enum"] == [{"a": 1}, {"b": 2}]


def test_prose_defaults_are_not_sent() -> None:
    doc = _op(
        [
            {
                "name": "fields",
                "in": "query",
                "schema": {"type": "string", "default": "name, desc, ... and labelNames"},
            },
            {
                "name": "since",
                "in": "query",
                "schema": {"type": "string", "default": "the current date"},
            },
            {"name": "sort", "in": "query", "schema": {"type": "string", "default": "created_at"}},
            {"name": "q", "in": "query", "schema": {"type": "string", "default": "open issues"}},
        ]
    )
    result = run(doc)
    assert "default" not in parameter(result, "get_a", "fields")
    assert "default" not in parameter(result, "get_a", "since")
    assert parameter(result, "get_a", "sort")["default"] == "created_at"
    assert parameter(result, "get_a", "q")["default"] == "open issues"  # a short phrase: a value
    prose = [w.message for w in result.warnings if "reads as a description" in w.message]
    assert len(prose) == 1 and "2 parameter(s)" in prose[0]
