"""Schema conversion: OpenAPI 3.0 / Swagger 2.0 schemas become JSON Schema 2020-12."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_docs import document, json_body, returning, run, swagger, warnings_at

from connectory.openapi import ImportResult
from connectory.spec import check_connector_data
from connectory.spec.shared_schemas import bundle_schema


def _response(schema: Any, *, version: str = "3.0.3", schemas: Any = None) -> dict[str, Any]:
    """The response schema, bundled with the shared schemas it uses (``#/$defs/Name``)."""
    doc = document({"/a": {"get": returning(schema)}}, version=version, schemas=schemas)
    connector = run(doc).connector
    converted = connector["operations"][0]["response_schema"]
    bundled: dict[str, Any] = bundle_schema(converted, connector.get("schemas", {}))
    return bundled


def _request(schema: Any, schemas: Any = None) -> dict[str, Any]:
    """The request body schema, bundled like :func:`_response`'s."""
    doc = document(
        {"/a": {"post": {"requestBody": json_body(schema), "responses": {}}}}, schemas=schemas
    )
    connector = run(doc).connector
    body = connector["operations"][0]["request_body"]["schema"]
    bundled: dict[str, Any] = bundle_schema(body, connector.get("schemas", {}))
    return bundled


def _valid(schema: dict[str, Any], value: Any) -> bool:
    return Draft202012Validator(schema).is_valid(value)


def test_nullable_becomes_a_type_list() -> None:
    schema = _response({"type": "string", "nullable": True})
    assert schema == {"type": ["string", "null"]}


def test_nullable_with_enum_allows_null_in_the_enum() -> None:
    schema = _response({"type": "string", "enum": ["a", "b"], "nullable": True})
    assert schema["enum"] == ["a", "b", None]
    assert _valid(schema, None)
    assert not _valid(schema, "c")


def test_nullable_around_a_composition_wraps_it() -> None:
    schema = _response(
        {"allOf": [{"$ref": "#/components/schemas/Pet"}], "nullable": True, "type": "object"},
        schemas={"Pet": {"type": "object", "required": ["id"]}},
    )
    assert _valid(schema, None)
    assert _valid(schema, {"id": 1})
    assert not _valid(schema, {})


def test_nullable_next_to_a_ref_is_honoured() -> None:
    schema = _response(
        {"$ref": "#/components/schemas/Pet", "nullable": True},
        schemas={"Pet": {"type": "object"}},
    )
    assert schema["anyOf"] == [{"$ref": "#/$defs/Pet"}, {"type": "null"}]


def test_swagger_x_nullable_and_file() -> None:
    doc = swagger(
        {
            "/a": {
                "get": {
                    "produces": ["application/json"],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string", "x-nullable": True},
                                    "file": {"type": "file"},
                                },
                            },
                        }
                    },
                }
            }
        }
    )
    schema = run(doc).connector["operations"][0]["response_schema"]
    assert schema["properties"]["name"] == {"type": ["string", "null"]}
    assert schema["properties"]["file"] == {"type": "string", "format": "binary"}


def test_boolean_exclusive_bounds_become_numbers() -> None:
    schema = _response({"type": "integer", "minimum": 0, "exclusiveMinimum": True, "maximum": 10})
    assert schema == {"type": "integer", "exclusiveMinimum": 0, "maximum": 10}
    false_bound = _response({"type": "integer", "minimum": 0, "exclusiveMinimum": False})
    assert false_bound == {"type": "integer", "minimum": 0}


def test_example_becomes_examples_and_extensions_are_dropped() -> None:
    schema = _response(
        {
            "type": "string",
            "example": "Rex",
            "x-internal": True,
            "xml": {"name": "n"},
            "externalDocs": {"url": "https://x"},
        }
    )
    assert schema == {"type": "string", "examples": ["Rex"]}


def test_refs_become_defs_carried_by_each_schema() -> None:
    schema = _response(
        {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}},
        schemas={
            "Pet": {
                "type": "object",
                "properties": {"tag": {"$ref": "#/components/schemas/Tag"}},
            },
            "Tag": {"type": "string"},
            "Unused": {"type": "integer"},
        },
    )
    assert schema["items"] == {"$ref": "#/$defs/Pet"}
    assert set(schema["$defs"]) == {"Pet", "Tag"}
    assert _valid(schema, [{"tag": "x"}])
    assert not _valid(schema, [{"tag": 1}])


def test_refs_to_places_other_than_components_get_safe_names() -> None:
    schema = _response(
        {"$ref": "#/components/schemas/Pet/properties/name"},
        schemas={"Pet": {"type": "object", "properties": {"name": {"type": "string"}}}},
    )
    assert schema["$ref"] == "#/$defs/Pet_properties_name"
    assert schema["$defs"]["Pet_properties_name"] == {"type": "string"}


def test_all_of_one_of_any_of_are_kept_in_request_bodies() -> None:
    schema = _request(
        {
            "allOf": [
                {"$ref": "#/components/schemas/Base"},
                {
                    "oneOf": [
                        {"type": "object", "required": ["a"]},
                        {"type": "object", "required": ["b"]},
                    ]
                },
            ],
            "anyOf": [{"required": ["id"]}, {"required": ["name"]}],
        },
        schemas={"Base": {"type": "object", "properties": {"id": {"type": "integer"}}}},
    )
    assert "allOf" in schema and "anyOf" in schema
    assert schema["allOf"][1]["oneOf"]
    assert _valid(schema, {"id": 1, "a": 1})
    assert not _valid(schema, {"id": 1, "a": 1, "b": 2})  # oneOf: exactly one
    assert not _valid(schema, {"name": "x"})


def test_one_of_in_responses_becomes_any_of() -> None:
    # GitHub's event payload: oneOf events, one of which is any object. With "exactly one",
    # every event that matches another branch too would be reported as a mismatch.
    schema = _response(
        {
            "oneOf": [
                {"type": "object", "required": ["member"]},
                {"title": "PublicEvent", "type": "object"},
            ]
        }
    )
    assert "oneOf" not in schema
    assert _valid(schema, {"member": {}})


def test_one_of_with_a_discriminator_becomes_any_of() -> None:
    pets = {
        "Cat": {"type": "object", "properties": {"kind": {"type": "string"}}},
        "Dog": {"type": "object", "properties": {"kind": {"type": "string"}}},
    }
    schema = _response(
        {
            "oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
            "discriminator": {"propertyName": "kind"},
        },
        schemas=pets,
    )
    assert "oneOf" not in schema
    # Both alternatives accept any object: with oneOf, no pet at all would validate.
    assert _valid(schema, {"kind": "cat"})
    body = _request(
        {
            "oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
            "discriminator": {"propertyName": "kind"},
        },
        schemas=pets,
    )
    assert "oneOf" not in body


def test_read_only_properties_are_left_out_of_request_bodies() -> None:
    pet = {
        "type": "object",
        "required": ["id", "name"],
        "properties": {"id": {"type": "integer", "readOnly": True}, "name": {"type": "string"}},
    }
    body = _request({"$ref": "#/components/schemas/Pet"}, schemas={"Pet": pet})
    assert body["$ref"] == "#/$defs/Pet"  # used in one direction only: one schema, its name
    assert body["$defs"]["Pet"]["required"] == ["name"]
    assert "id" not in body["$defs"]["Pet"]["properties"]
    response = _response({"$ref": "#/components/schemas/Pet"}, schemas={"Pet": pet})
    assert response["$defs"]["Pet"]["required"] == ["id", "name"]


def test_write_only_properties_are_not_required_in_responses() -> None:
    user = {
        "type": "object",
        "required": ["name", "password"],
        "properties": {
            "name": {"type": "string"},
            "password": {"type": "string", "writeOnly": True},
        },
    }
    response = _response(user)
    assert response["required"] == ["name"]
    assert _request(user)["required"] == ["name", "password"]


def test_openapi_31_schemas_pass_through() -> None:
    schema = _response(
        {
            "type": ["string", "null"],
            "const": "x",
            "examples": ["x"],
            "prefixItems": [{"type": "string"}],
            "$ref": "#/components/schemas/Base",
        },
        version="3.1.0",
        schemas={"Base": {"description": "base"}},
    )
    assert schema["type"] == ["string", "null"]
    assert schema["examples"] == ["x"]
    assert schema["$ref"] == "#/$defs/Base"  # 3.1 keeps siblings of $ref


def test_siblings_of_ref_are_ignored_before_31_except_description() -> None:
    schema = _response(
        {"$ref": "#/components/schemas/Base", "description": "why", "type": "integer"},
        schemas={"Base": {"type": "string"}},
    )
    assert {k: v for k, v in schema.items() if k != "$defs"} == {
        "$ref": "#/$defs/Base",
        "description": "why",
    }


def test_tuple_items_become_prefix_items() -> None:
    schema = _response(
        {
            "type": "array",
            "items": [{"type": "string"}, {"type": "integer"}],
            "additionalItems": False,
        }
    )
    assert schema["prefixItems"] == [{"type": "string"}, {"type": "integer"}]
    assert schema["items"] is False


def test_invalid_keywords_are_left_out_with_a_warning() -> None:
    doc = document(
        {
            "/a": {
                "get": returning(
                    {
                        "type": "object",
                        "properties": {
                            "n": {"type": "integer", "maximum": "10", "minLength": -1},
                            "s": {"type": "str", "required": True},
                        },
                        "required": "n",
                    }
                )
            }
        }
    )
    result = run(doc)
    schema = result.connector["operations"][0]["response_schema"]
    assert schema["properties"]["n"] == {"type": "integer"}
    assert schema["properties"]["s"] == {}
    assert "required" not in schema
    base = "/paths/~1a/get/responses/200/content/application~1json/schema"
    assert warnings_at(result, f"{base}/properties/n/maximum")
    assert warnings_at(result, f"{base}/properties/s/type")
    assert warnings_at(result, f"{base}/properties/s/required")
    assert warnings_at(result, f"{base}/required")


def test_patterns_python_cannot_compile_are_dropped_with_a_warning() -> None:
    result = run(
        document(
            {
                "/a": {
                    "get": returning(
                        {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string", "pattern": "^\\p{L}+$"},
                                "code": {"type": "string", "pattern": "^[A-Z]{2}$"},
                            },
                            "patternProperties": {"(?<bad": {"type": "string"}},
                        }
                    )
                }
            }
        )
    )
    schema = result.connector["operations"][0]["response_schema"]
    assert "pattern" not in schema["properties"]["name"]
    assert schema["properties"]["code"]["pattern"] == "^[A-Z]{2}$"
    assert schema["patternProperties"] == {}
    assert sum("regular expression" in w.message for w in result.warnings) == 2


def test_a_schema_that_is_not_an_object_reads_as_any_value() -> None:
    result = run(document({"/a": {"get": returning("string")}}))
    assert result.connector["operations"][0]["response_schema"] == {}
    assert any("must be an object" in w.message for w in result.warnings)


def test_draft7_dependencies_are_split() -> None:
    schema = _response({"type": "object", "dependencies": {"a": ["b"], "c": {"required": ["d"]}}})
    assert schema["dependentRequired"] == {"a": ["b"]}
    assert schema["dependentSchemas"] == {"c": {"required": ["d"]}}


def test_the_document_is_not_changed() -> None:
    doc = document(
        {"/a": {"get": returning({"$ref": "#/components/schemas/Pet"})}},
        schemas={
            "Pet": {
                "type": "object",
                "nullable": True,
                "required": ["id", "id"],
                "properties": {"id": {"type": "integer", "example": 1, "maximum": "x"}},
            }
        },
    )
    before = repr(doc)
    run(doc)
    assert repr(doc) == before


@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
def test_every_converted_schema_is_valid_json_schema(version: str) -> None:
    schemas = {
        "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
        "B": {"type": "array", "items": {"$ref": "#/components/schemas/A"}, "minItems": 1.0},
    }
    result: ImportResult = run(
        document(
            {"/a": {"get": returning({"$ref": "#/components/schemas/A"})}},
            version=version,
            schemas=schemas,
        )
    )
    schema = result.connector["operations"][0]["response_schema"]
    Draft202012Validator.check_schema(schema)
    for shared in result.connector["schemas"].values():
        Draft202012Validator.check_schema(shared)
    assert result.connector["schemas"]["B"]["minItems"] == 1


def test_components_become_shared_schemas_held_once() -> None:
    pet = {"type": "object", "properties": {"tag": {"$ref": "#/components/schemas/Tag"}}}
    paths = {
        f"/p{index}": {
            "get": returning({"$ref": "#/components/schemas/Pet"}),
            "put": {
                "requestBody": json_body({"$ref": "#/components/schemas/Pet"}),
                "responses": {"200": json_body({"$ref": "#/components/schemas/Pet"})},
            },
        }
        for index in range(5)
    }
    connector = run(
        document(paths, schemas={"Pet": pet, "Tag": {"type": "string"}, "Unused": {}})
    ).connector
    # Same form in both directions: one schema each; components no operation uses are left out.
    assert connector["schemas"] == {
        "Pet": {"type": "object", "properties": {"tag": {"$ref": "#/schemas/Tag"}}},
        "Tag": {"type": "string"},
    }
    for operation in connector["operations"]:
        assert operation["response_schema"] == {"$ref": "#/schemas/Pet"}
        if "request_body" in operation:
            assert operation["request_body"]["schema"] == {"$ref": "#/schemas/Pet"}
    assert check_connector_data(connector).problems == []


def test_a_request_form_that_differs_is_a_second_schema_and_so_are_its_users() -> None:
    schemas = {
        "Owner": {"type": "object", "properties": {"pet": {"$ref": "#/components/schemas/Pet"}}},
        "Pet": {
            "type": "object",
            "required": ["id", "name"],
            "properties": {
                "id": {"type": "integer", "readOnly": True},
                "name": {"type": "string"},
                "tag": {"$ref": "#/components/schemas/Tag"},
            },
        },
        "Tag": {"type": "string"},
    }
    doc = document(
        {
            "/owners": {
                "post": {
                    "requestBody": json_body({"$ref": "#/components/schemas/Owner"}),
                    "responses": {"201": json_body({"$ref": "#/components/schemas/Owner"})},
                }
            }
        },
        schemas=schemas,
    )
    connector = run(doc).connector
    shared = connector["schemas"]
    assert set(shared) == {"Owner", "Owner.request", "Pet", "Pet.request", "Tag"}
    assert shared["Pet.request"]["required"] == ["name"]
    assert shared["Pet.request"]["properties"]["tag"] == {"$ref": "#/schemas/Tag"}  # shared
    assert shared["Owner.request"]["properties"]["pet"] == {"$ref": "#/schemas/Pet.request"}
    assert shared["Owner"]["properties"]["pet"] == {"$ref": "#/schemas/Pet"}
    operation = connector["operations"][0]
    assert operation["request_body"]["schema"] == {"$ref": "#/schemas/Owner.request"}
    assert operation["response_schema"] == {"$ref": "#/schemas/Owner"}
    assert check_connector_data(connector).problems == []


def test_a_recursive_schema_used_both_ways_is_held_once() -> None:
    node = {
        "type": "object",
        "properties": {
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}
        },
    }
    doc = document(
        {
            "/n": {
                "post": {
                    "requestBody": json_body({"$ref": "#/components/schemas/Node"}),
                    "responses": {"200": json_body({"$ref": "#/components/schemas/Node"})},
                }
            }
        },
        schemas={"Node": node},
    )
    assert set(run(doc).connector["schemas"]) == {"Node"}


def test_a_reference_into_a_component_points_into_its_shared_schema() -> None:
    # Azure's style: $ref to a property of another component; held once, not copied.
    gateway = {
        "type": "object",
        "properties": {"ip": {"type": "object", "properties": {"address": {"type": "string"}}}},
    }
    doc = document(
        {
            "/gateways": {"get": returning({"$ref": "#/components/schemas/Gateway"})},
            "/ip": {"get": returning({"$ref": "#/components/schemas/Gateway/properties/ip"})},
        },
        schemas={"Gateway": gateway},
    )
    connector = run(doc).connector
    assert set(connector["schemas"]) == {"Gateway"}
    ip = next(op for op in connector["operations"] if op["path"] == "/ip")
    assert ip["response_schema"] == {"$ref": "#/schemas/Gateway/properties/ip"}
    assert check_connector_data(connector).problems == []


def test_reusable_responses_and_request_bodies_are_shared_not_copied() -> None:
    # Amadeus's seat map: a 176 KB inline schema (with its example) in components/responses,
    # used by two operations, was copied into each; the connector was 3x the description.
    import json

    from connectory.openapi.yaml_text import dump_connector_yaml

    seat = {
        "type": "object",
        "properties": {f"field{n}": {"type": "string", "description": "x" * 80} for n in range(60)},
        "example": {f"field{n}": "value " * 10 for n in range(60)},
    }
    order = {
        "type": "object",
        "properties": {"seat": {"type": "string"}, "row": {"type": "integer"}},
    }
    paths = {
        f"/seats{index}": {
            "get": {"responses": {"200": {"$ref": "#/components/responses/SeatMap"}}},
            "post": {
                "requestBody": {"$ref": "#/components/requestBodies/Order"},
                "responses": {"201": {"$ref": "#/components/responses/SeatMap"}},
            },
        }
        for index in range(10)
    }
    doc = document(
        paths,
        components={
            "responses": {"SeatMap": json_body(seat)},
            "requestBodies": {"Order": json_body(order)},
        },
    )
    connector = run(doc).connector
    assert set(connector["schemas"]) == {"responses.SeatMap", "requestBodies.Order"}
    for operation in connector["operations"]:
        assert operation["response_schema"] == {"$ref": "#/schemas/responses.SeatMap"}
        if operation["method"] == "POST":
            assert operation["request_body"]["schema"] == {"$ref": "#/schemas/requestBodies.Order"}
            # Body parameters are still read through the reference.
            assert [p["name"] for p in operation["parameters"]] == ["seat", "row"]
    # Held once: the connector is about the description's size (17x with a copy each).
    size = len(dump_connector_yaml(connector).encode())
    assert size < 1.5 * len(json.dumps(doc).encode())
    # Swagger 2.0's top-level responses and body parameters are shared the same way.
    legacy = swagger(
        {
            f"/s{index}": {
                "post": {
                    "consumes": ["application/json"],
                    "parameters": [{"$ref": "#/parameters/Order"}],
                    "responses": {"200": {"$ref": "#/responses/SeatMap"}},
                }
            }
            for index in range(3)
        },
        responses={"SeatMap": {"description": "ok", "schema": seat}},
        parameters={"Order": {"name": "body", "in": "body", "schema": order}},
    )
    shared = run(legacy).connector
    assert set(shared["schemas"]) == {"responses.SeatMap", "parameters.Order"}
