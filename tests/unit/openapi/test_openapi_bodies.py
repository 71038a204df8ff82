"""Request bodies: object bodies become body parameters plus the schema; the rest is warned."""

from __future__ import annotations

from typing import Any

from openapi_docs import document, json_body, operation, parameter, run, swagger, warnings_at

PET = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "description": "The name"},
        "status": {"type": "string", "enum": ["a", "b"], "default": "a"},
        "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
        "id": {"type": "integer", "readOnly": True},
    },
}
SCHEMAS = {"Pet": PET, "Tag": {"type": "object", "properties": {"name": {"type": "string"}}}}


def _post(body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return document({"/pets": {"post": {"requestBody": body, "responses": {}}}}, **extra)


def test_a_json_object_body_becomes_body_parameters_and_a_schema() -> None:
    result = run(_post(json_body({"$ref": "#/components/schemas/Pet"}), schemas=SCHEMAS))
    op = operation(result, "post_pets")
    assert [p["name"] for p in op["parameters"]] == ["name", "status", "tags"]  # no readOnly id
    assert parameter(result, "post_pets", "name") == {
        "name": "name",
        "location": "body",
        "type": "string",
        "required": True,
        "description": "The name",
    }
    assert parameter(result, "post_pets", "status")["default"] == "a"
    assert parameter(result, "post_pets", "tags")["items"]["$ref"] == "#/schemas/Tag"
    assert op["request_body"]["content_type"] == "json"
    assert op["request_body"]["schema"]["$ref"] == "#/schemas/Pet"
    assert "headers" not in op


def test_all_of_bodies_merge_their_properties() -> None:
    body = {
        "allOf": [
            {"$ref": "#/components/schemas/Pet"},
            {"type": "object", "required": ["owner"], "properties": {"owner": {"type": "string"}}},
        ]
    }
    result = run(_post(json_body(body), schemas=SCHEMAS))
    names = {
        p["name"]: p.get("required", False) for p in operation(result, "post_pets")["parameters"]
    }
    assert names == {"name": True, "status": False, "tags": False, "owner": True}


def test_one_of_bodies_require_only_what_every_alternative_requires() -> None:
    body = {
        "oneOf": [
            {"type": "object", "required": ["a", "c"], "properties": {"a": {}, "c": {}}},
            {"type": "object", "required": ["b", "c"], "properties": {"b": {}, "c": {}}},
        ]
    }
    result = run(_post(json_body(body)))
    required = {
        p["name"]: p.get("required", False) for p in operation(result, "post_pets")["parameters"]
    }
    assert required == {"a": False, "c": True, "b": False}
    assert "oneOf" in operation(result, "post_pets")["request_body"]["schema"]


def test_a_form_body() -> None:
    body = {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": {"name": {"type": "string"}}}
            }
        }
    }
    op = operation(run(_post(body)), "post_pets")
    assert op["request_body"]["content_type"] == "form"
    assert op["parameters"][0]["location"] == "body"


def test_json_is_preferred_and_a_vendor_json_type_is_sent_as_written() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    body = {
        "content": {
            "application/xml": {"schema": schema},
            "application/merge-patch+json": {"schema": schema},
        }
    }
    op = operation(run(_post(body)), "post_pets")
    assert op["headers"] == {"Content-Type": "application/merge-patch+json"}
    assert op["request_body"]["content_type"] == "json"


def test_bodies_that_cannot_be_built_from_parameters_are_warned_about() -> None:
    cases = {
        "multipart": {"content": {"multipart/form-data": {"schema": {"type": "object"}}}},
        "octet": {"content": {"application/octet-stream": {"schema": {"type": "string"}}}},
        "array": json_body({"type": "array", "items": {"type": "string"}}),
        "empty": {"content": {}},
    }
    for name, body in cases.items():
        result = run(_post(body))
        op = operation(result, "post_pets")
        assert "request_body" not in op, name
        assert any(
            w.pointer.startswith("/paths/~1pets/post/requestBody") for w in result.warnings
        ), name


def test_a_free_form_body_is_warned_about() -> None:
    result = run(_post(json_body({"type": "object", "additionalProperties": True})))
    assert "request_body" in operation(result, "post_pets")
    assert "free-form" in result.warnings[0].message


def test_a_body_property_named_like_a_parameter_is_left_out() -> None:
    doc = document(
        {
            "/pets/{name}": {
                "put": {
                    "parameters": [{"name": "name", "in": "path", "required": True}],
                    "requestBody": {"$ref": "#/components/requestBodies/Pet"},
                    "responses": {},
                }
            }
        },
        schemas=SCHEMAS,
        components={"requestBodies": {"Pet": json_body({"$ref": "#/components/schemas/Pet"})}},
    )
    result = run(doc)
    locations = [
        (p["name"], p["location"]) for p in operation(result, "put_pets_by_name")["parameters"]
    ]
    assert ("name", "path") in locations and ("name", "body") not in locations
    pointer = "/components/requestBodies/Pet/content/application~1json/schema"
    assert any("body property 'name'" in m for m in warnings_at(result, pointer))


def test_swagger_body_and_form_parameters() -> None:
    doc = swagger(
        {
            "/pets": {
                "post": {
                    "consumes": ["application/json"],
                    "parameters": [
                        {"name": "body", "in": "body", "schema": {"$ref": "#/definitions/Pet"}}
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            },
            "/pets/{id}": {
                "post": {
                    "consumes": ["application/x-www-form-urlencoded"],
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "type": "integer"},
                        {"name": "name", "in": "formData", "type": "string", "required": True},
                        {"name": "age", "in": "formData", "type": "integer"},
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            },
            "/pets/{id}/photo": {
                "post": {
                    "consumes": ["multipart/form-data"],
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "type": "integer"},
                        {"name": "file", "in": "formData", "type": "file"},
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            },
        },
        definitions=SCHEMAS,
    )
    doc["definitions"]["Pet"] = {
        **PET,
        "properties": {**PET["properties"], "tags": {"type": "array"}},
    }
    result = run(doc)
    assert operation(result, "post_pets")["request_body"]["schema"]["$ref"] == "#/schemas/Pet"
    form = operation(result, "post_pets_by_id")
    assert form["request_body"]["content_type"] == "form"
    assert form["request_body"]["schema"]["required"] == ["name"]
    assert [p["name"] for p in form["parameters"]] == ["id", "name", "age"]
    photo = operation(result, "post_pets_by_id_photo")
    assert "request_body" not in photo
    assert "multipart" in warnings_at(result, "/paths/~1pets~1{id}~1photo/post/parameters/1")[0]


def test_form_body_encodings_become_parameter_styles() -> None:
    # Stripe's way: metadata[order]=42, expand[]=... declared in the media type's encoding.
    body = {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                        "expand": {"type": "array", "items": {"type": "string"}},
                        "ids": {"type": "array", "items": {"type": "string"}},
                        "amount": {"type": "integer"},
                    },
                },
                "encoding": {
                    "metadata": {"style": "deepObject", "explode": True},
                    "expand": {"style": "deepObject", "explode": True},
                    "ids": {"style": "form", "explode": False},
                },
            }
        }
    }
    result = run(document({"/charges": {"post": {"requestBody": body, "responses": {}}}}))
    assert parameter(result, "post_charges", "metadata")["style"] == "deepObject"
    assert parameter(result, "post_charges", "expand")["style"] == "deepObject"
    ids = parameter(result, "post_charges", "ids")
    assert (ids["style"], ids["explode"]) == ("form", False)
    assert "style" not in parameter(result, "post_charges", "amount")
