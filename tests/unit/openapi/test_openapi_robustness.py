"""Broken documents: whatever is wrong, the import answers a connector or an OpenAPIError.

A kitchen-sink document is damaged at random places (deterministically), several hundred
times; every outcome must be a valid connector (with warnings) or an OpenAPIError listing the
problems, never another exception.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

from openapi_docs import document, get, json_body, swagger

from connectory.openapi import OpenAPIError, accept_pagination, import_openapi
from connectory.spec import check_connector_data

PET = {
    "type": "object",
    "required": ["name"],
    "nullable": True,
    "discriminator": {"propertyName": "kind"},
    "properties": {
        "id": {"type": "integer", "readOnly": True, "exclusiveMinimum": True, "minimum": 0},
        "name": {"type": "string", "pattern": "^[a-z]+$", "example": "rex"},
        "kind": {"type": "string", "enum": ["cat", "dog"]},
        "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
        "owner": {"allOf": [{"$ref": "#/components/schemas/Owner"}]},
    },
}
SCHEMAS = {
    "Pet": PET,
    "Tag": {"oneOf": [{"type": "string"}, {"type": "object"}]},
    "Owner": {"type": "object", "properties": {"pets": {"$ref": "#/components/schemas/Pet"}}},
}
KITCHEN_SINK = document(
    {
        "/pets": {
            "parameters": [{"name": "X-Trace", "in": "header", "schema": {"type": "string"}}],
            "get": get(
                {
                    "200": {
                        **json_body(
                            {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}}
                        ),
                        "headers": {"Link": {"schema": {"type": "string"}}},
                    }
                },
                operationId="listPets",
                tags=["pets"],
                parameters=[
                    {"name": "page", "in": "query", "schema": {"type": "integer", "default": 1}},
                    {"$ref": "#/components/parameters/Limit"},
                    {
                        "name": "ids",
                        "in": "query",
                        "schema": {"type": "array", "items": {"type": "integer"}},
                    },
                ],
                security=[{"key": []}],
            ),
            "post": {
                "operationId": "createPet",
                "requestBody": json_body({"$ref": "#/components/schemas/Pet"}),
                "responses": {
                    "201": json_body({"$ref": "#/components/schemas/Pet"}),
                    "204": {"description": "x"},
                },
                "security": [{"oauth": ["write"]}],
            },
        },
        "/pets/{id}": {
            "get": get(
                {"default": json_body({"$ref": "#/components/schemas/Pet"})}, operationId="getPet"
            ),
            "patch": {
                "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": PET}}},
                "responses": {},
            },
        },
    },
    schemas=SCHEMAS,
    components={
        "parameters": {
            "Limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 50}}
        },
        "securitySchemes": {
            "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
            "oauth": {
                "type": "oauth2",
                "flows": {"clientCredentials": {"tokenUrl": "/token", "scopes": {"write": "w"}}},
            },
        },
    },
)
SWAGGER_SINK = swagger(
    {
        "/pets": {
            "post": {
                "parameters": [
                    {"name": "body", "in": "body", "schema": {"$ref": "#/definitions/Pet"}},
                    {"name": "q", "in": "query", "type": "array", "items": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "ok", "schema": {"$ref": "#/definitions/Pet"}}
                },
            }
        },
        "/pets/{id}": {
            "put": {
                "consumes": ["application/x-www-form-urlencoded"],
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "type": "integer"},
                    {"name": "name", "in": "formData", "type": "string"},
                ],
                "responses": {"200": {"description": "ok"}},
            }
        },
    },
    definitions={
        "Pet": {"type": "object", "properties": {"name": {"type": "string", "x-nullable": True}}}
    },
    securityDefinitions={"basic": {"type": "basic"}},
    security=[{"basic": []}],
)
DAMAGE: list[Any] = [
    None,
    True,
    0,
    -1,
    2.5,
    "",
    "x",
    "{id}",
    [],
    {},
    [1, "a", None],
    [{"a": 1}, {"a": 1}],
    {"$ref": "#/components/schemas/Pet"},
    {"$ref": "#/definitions/Pet"},
    {"$ref": 5},
    {"type": ["string", 3]},
    {"type": "array"},
    {"in": "path", "name": "id"},
    {"enum": [{"a": 1}], "default": {"a": 1}},
    {"oneOf": []},
]


def _places(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _places(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _places(value, (*path, index))


def _damaged(rng: random.Random, original: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(original)
    places = [place for place in _places(doc) if place]
    for _ in range(rng.randint(1, 5)):
        place = rng.choice(places)
        parent: Any = doc
        try:
            for step in place[:-1]:
                parent = parent[step]
            parent[place[-1]] = copy.deepcopy(rng.choice(DAMAGE))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed the way there
    return doc


def test_damaged_documents_import_or_fail_cleanly() -> None:
    rng = random.Random(20240101)
    outcomes = {"imported": 0, "refused": 0}
    for _ in range(250):
        doc = _damaged(rng, rng.choice([KITCHEN_SINK, SWAGGER_SINK]))
        try:
            result = import_openapi(doc)
        except OpenAPIError as error:
            assert error.problems, error
            outcomes["refused"] += 1
            continue
        connector = accept_pagination(result.connector, result.suggestions)
        report = check_connector_data(connector)
        assert report.ok, [str(problem) for problem in report.errors]
        outcomes["imported"] += 1
    assert outcomes["imported"] > 120 and outcomes["refused"] > 10, outcomes


def test_the_undamaged_documents_import_cleanly() -> None:
    for doc in (KITCHEN_SINK, SWAGGER_SINK):
        result = import_openapi(doc)
        assert check_connector_data(result.connector).ok
