"""The success response: its JSON Schema and the headers it declares.

The success responses are the 2xx ones (``default`` when there is none). One schema is used as
it is; several different ones become ``anyOf``; a success response without a body (204) adds
``{"type": "null"}``, which is what an empty body decodes to. Only JSON bodies are checked, so a
success response that is XML or text has no schema (with a warning).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from connectory.openapi.context import ImportContext
from connectory.openapi.media import pick_media
from connectory.openapi.pointers import Parts
from connectory.openapi.schemas import SchemaConverter

_SUCCESS = re.compile(r"^2(\d\d|XX)$", re.IGNORECASE)


@dataclass
class ResponseMapping:
    """The success response of an operation.

    Attributes:
        schema: The JSON Schema of its body, or None (no JSON body is declared).
        headers: Lower-cased names of the headers the success responses declare.
        statuses: The success status codes, as written (``200``, ``2XX``, ``default``).
        examples: Example bodies of the JSON success responses, as the document gives them
            (the media type's ``example`` and ``examples``, the schema's ``example``); read
            by the pagination suggestions when the schema alone does not say.
    """

    schema: dict[str, Any] | None = None
    headers: set[str] = field(default_factory=set)
    statuses: list[str] = field(default_factory=list)
    examples: list[Any] = field(default_factory=list)


#: Example bodies kept per operation: the first few say as much as all of them.
MAX_EXAMPLES = 5


def map_responses(
    context: ImportContext,
    converter: SchemaConverter,
    operation: dict[str, Any],
    operation_at: Parts,
) -> ResponseMapping:
    """Return the success response mapping of an operation."""
    responses = operation.get("responses")
    responses_at = (*operation_at, "responses")
    if not isinstance(responses, dict):
        return ResponseMapping()
    codes = sorted(str(code) for code in responses if _SUCCESS.match(str(code)))
    if not codes and "default" in responses:
        codes = ["default"]
    mapping = ResponseMapping(statuses=codes)
    schemas: list[Any] = []
    empty = False
    for code in codes:
        key = code if code in responses else int(code)
        response, at = context.resolve(responses[key], (*responses_at, code))
        if not isinstance(response, dict):
            continue
        headers = response.get("headers")
        if isinstance(headers, dict):
            mapping.headers |= {str(name).lower() for name in headers}
        found = _body_schema(context, response, at)
        if found is None:
            empty = True
            continue
        schema, schema_at = found
        if schema is not None:
            schemas.append(converter.convert_body(schema, schema_at, "response"))
            if len(mapping.examples) < MAX_EXAMPLES:
                mapping.examples += _examples(context, response, schema, schema_at)
    mapping.schema = _combine(schemas, empty)
    del mapping.examples[MAX_EXAMPLES:]
    return mapping


def _examples(
    context: ImportContext, response: dict[str, Any], schema: Any, schema_at: Parts
) -> list[Any]:
    """The example bodies a JSON response declares: objects and arrays only."""
    found: list[Any] = []
    if context.is_swagger:
        examples = response.get("examples")
        if isinstance(examples, dict):
            found += [value for key, value in examples.items() if "json" in str(key).lower()]
    else:
        content = response.get("content")
        picked = pick_media(content, ("json",)) if isinstance(content, dict) else None
        media = picked[1] if picked is not None else None
        if isinstance(media, dict):
            if "example" in media:
                found.append(media["example"])
            named = media.get("examples")
            if isinstance(named, dict):
                for example in named.values():
                    resolved, _ = context.resolve(example, schema_at)
                    if isinstance(resolved, dict) and "value" in resolved:
                        found.append(resolved["value"])
    resolved_schema, _ = context.resolve(schema, schema_at)
    if isinstance(resolved_schema, dict):
        if "example" in resolved_schema:
            found.append(resolved_schema["example"])
        listed = resolved_schema.get("examples")
        if isinstance(listed, list):  # JSON Schema's examples (OpenAPI 3.1)
            found += listed
    return [value for value in found if isinstance(value, (dict, list))]


def _body_schema(
    context: ImportContext, response: dict[str, Any], at: Parts
) -> tuple[Any, Parts] | None:
    """Return ``(schema, where)``; ``(None, at)`` for a body that is not checked; None: no body."""
    if context.is_swagger:
        if "schema" not in response:
            return None
        return response["schema"], (*at, "schema")
    content = response.get("content")
    if not isinstance(content, dict) or not content:
        return None
    picked = pick_media(content, ("json",))
    if picked is None:
        kinds = ", ".join(str(media_type) for media_type in content)
        context.warn(
            (*at, "content"),
            f"the response is {kinds}; only JSON responses are checked against a schema",
        )
        return None, at
    media_type, media = picked
    if not isinstance(media, dict) or "schema" not in media:
        return None, at
    return media["schema"], (*at, "content", media_type, "schema")


def _combine(schemas: list[Any], empty: bool) -> dict[str, Any] | None:
    if not schemas:
        return None
    alternatives: list[Any] = []
    for schema in schemas:
        if schema not in alternatives:
            alternatives.append(schema)
    if empty:
        alternatives.append({"type": "null"})
    if len(alternatives) == 1:
        return alternatives[0] if isinstance(alternatives[0], dict) else {}
    return {"anyOf": alternatives}
