"""Shared schemas at run time: $ref resolves in responses and bodies, compiled once per spec."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectory.errors import InputError, ResponseSchemaError
from connectory.runtime.schema_validation import build_validator, schema_registry_for

from .support import Recorder, build_client, build_spec

SCHEMAS = {
    "Item": {
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"type": "integer"}, "tags": {"$ref": "#/schemas/Tags"}},
    },
    "Tags": {"type": "array", "items": {"type": "string"}},
}


def spec_with_refs() -> Any:
    return build_spec(
        {
            "name": "list",
            "path": "/items",
            "response_schema": {"type": "array", "items": {"$ref": "#/schemas/Item"}},
        },
        {
            "name": "create",
            "method": "POST",
            "path": "/items",
            "parameters": [{"name": "tags", "location": "body", "type": "array"}],
            "request_body": {
                "schema": {"type": "object", "properties": {"tags": {"$ref": "#/schemas/Tags"}}}
            },
        },
        schemas=SCHEMAS,
    )


async def test_response_references_resolve() -> None:
    spec = spec_with_refs()
    recorder = Recorder(lambda r: httpx.Response(200, json=[{"id": 1, "tags": ["a", 2]}]))
    async with build_client(spec, recorder, response_validation="strict") as client:
        with pytest.raises(ResponseSchemaError, match=r"\$\[0\]\.tags\[1\]"):
            await client.call("list")


async def test_body_references_resolve_before_sending() -> None:
    spec = spec_with_refs()
    recorder = Recorder()
    async with build_client(spec, recorder) as client:
        with pytest.raises(InputError, match="does not match its schema"):
            await client.call("create", {"tags": ["a", 3]})
        await client.call("create", {"tags": ["a"]})
    assert len(recorder.requests) == 1


def test_the_registry_is_built_once_per_spec() -> None:
    spec = spec_with_refs()
    first = schema_registry_for(spec)
    assert schema_registry_for(spec) is first
    assert first.registry() is first.registry()


def test_remote_references_are_never_fetched() -> None:
    from referencing.exceptions import Unresolvable

    validator = build_validator({"$ref": "http://127.0.0.1:9/never.json"})
    with pytest.raises(Unresolvable):
        validator.is_valid({})
