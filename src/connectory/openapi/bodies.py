"""Request bodies: an object body becomes ``body`` parameters plus the body's JSON Schema.

The connector builds a body from its ``body`` parameters, one per top-level property, and
checks it against ``request_body.schema`` (which keeps ``allOf``/``oneOf``/``anyOf``), sent as
JSON or as a form. OpenAPI 3 ``requestBody`` and Swagger 2.0 ``in: body`` / ``in: formData``
parameters map the same way. Bodies that are not objects (arrays, text, files) and multipart
bodies cannot be built from parameters: the operation is imported without its body, with a
warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectory.openapi.context import ImportContext
from connectory.openapi.media import media_kind, pick_media
from connectory.openapi.parameters import SWAGGER_FORMATS, Located, apply_style
from connectory.openapi.pointers import Parts
from connectory.openapi.schemas import SchemaConverter
from connectory.openapi.shapes import NO_DEFAULT, ShapeReader
from connectory.openapi.values import NOT_FITTED, distinct, fit_value, is_prose

_JSON = "application/json"


@dataclass
class BodyMapping:
    """What an operation's request body becomes.

    Attributes:
        parameters: One ``body`` parameter per top-level property.
        request_body: The ``request_body`` block, or None.
        headers: Operation headers (a JSON media type other than ``application/json``).
    """

    parameters: list[dict[str, Any]] = field(default_factory=list)
    request_body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def map_request_body(
    context: ImportContext,
    converter: SchemaConverter,
    operation: dict[str, Any],
    operation_at: Parts,
    swagger_parameters: list[Located],
    taken: set[str],
) -> BodyMapping:
    """Return the body mapping of an operation (empty when it has no body).

    Args:
        context: The import.
        converter: The schema converter.
        operation: The operation object.
        operation_at: Where the operation is.
        swagger_parameters: Swagger 2.0 ``body`` and ``formData`` parameters (empty for 3.x).
        taken: Names of the operation's other parameters (a body property may not reuse one).
    """
    styles: dict[str, tuple[Any, Any]] = {}
    if context.is_swagger:
        found = _swagger_body(context, operation, swagger_parameters, styles)
    else:
        found = _openapi_body(context, operation, operation_at, styles)
    if found is None:
        return BodyMapping()
    media_type, schema, at = found
    converted = converter.convert_body(schema, at, "request")
    shape = ShapeReader(converter, "request").object(converted)
    if shape is None:
        context.warn(
            at,
            "the request body is not an object (an array, text or a file); a connector builds "
            "its body from parameters, so the operation is imported without its body",
        )
        return BodyMapping()
    mapping = BodyMapping(
        request_body={"content_type": media_kind(media_type), "schema": converted}
    )
    base = media_type.split(";", 1)[0].strip().lower()
    if media_kind(media_type) == "json" and base not in (_JSON, "*/*", "application/*"):
        mapping.headers["Content-Type"] = media_type
    if shape.open:
        context.warn(
            at,
            "the request body is a free-form object with no declared properties; the connector "
            "cannot pass arbitrary fields, so it sends an empty object",
        )
    reader = ShapeReader(converter, "request")
    for name, child in shape.properties.items():
        if name in taken:
            context.warn(
                at,
                f"body property '{name}' has the name of another parameter of the operation; "
                "the connector cannot tell them apart, so the body property is left out",
            )
            continue
        value = reader.value(child)
        parameter: dict[str, Any] = {"name": name, "location": "body", "type": value.type}
        if name in shape.required:
            parameter["required"] = True
        if value.description:
            parameter["description"] = value.description
        if value.enum:
            kept = [fit_value(item, value.type) for item in value.enum]
            kept = [item for item in kept if item is not NOT_FITTED]
            if kept:
                parameter["enum"] = distinct(kept)
        if (
            value.default is not NO_DEFAULT
            and value.default is not None
            and name not in (shape.required)
            and not is_prose(value.default)
        ):
            default = fit_value(value.default, value.type)
            if default is not NOT_FITTED and default in parameter.get("enum", [default]):
                parameter["default"] = default
        if value.type == "array" and isinstance(value.items, dict):
            parameter["items"] = value.items
        if media_kind(media_type) == "form":
            style, explode = styles.get(name, (None, None))
            if style is not None or value.type == "object":
                apply_style(context, at, parameter, style, explode)
        mapping.parameters.append(parameter)
    return mapping


def _openapi_body(
    context: ImportContext,
    operation: dict[str, Any],
    operation_at: Parts,
    styles: dict[str, tuple[Any, Any]],
) -> tuple[str, Any, Parts] | None:
    if "requestBody" not in operation:
        return None
    body, at = context.resolve(operation["requestBody"], (*operation_at, "requestBody"))
    if not isinstance(body, dict):
        return None
    content = body.get("content")
    if not isinstance(content, dict) or not content:
        context.warn(at, "the request body has no content; the operation sends no body")
        return None
    picked = pick_media(content, ("json", "form"))
    if picked is None:
        kinds = ", ".join(str(media_type) for media_type in content)
        context.warn(
            (*at, "content"),
            f"the request body is sent as {kinds}; a connector sends JSON or form bodies, so "
            "the operation is imported without its body",
        )
        return None
    media_type, media = picked
    schema = media.get("schema", {}) if isinstance(media, dict) else {}
    encoding = media.get("encoding") if isinstance(media, dict) else None
    if isinstance(encoding, dict):
        styles.update(
            {
                str(name): (spec.get("style"), spec.get("explode"))
                for name, spec in encoding.items()
                if isinstance(spec, dict)
            }
        )
    return media_type, schema, (*at, "content", media_type, "schema")


def _swagger_body(
    context: ImportContext,
    operation: dict[str, Any],
    parameters: list[Located],
    styles: dict[str, tuple[Any, Any]],
) -> tuple[str, Any, Parts] | None:
    consumes = operation.get("consumes", context.data.get("consumes"))
    media_types = (
        [item for item in consumes if isinstance(item, str)] if isinstance(consumes, list) else []
    )
    body = [(parameter, at) for parameter, at in parameters if parameter["in"] == "body"]
    form = [(parameter, at) for parameter, at in parameters if parameter["in"] == "formData"]
    if body:
        parameter, at = body[0]
        json_types = [item for item in media_types if media_kind(item) == "json"]
        if media_types and not json_types:
            context.warn(
                at,
                f"the body is sent as {', '.join(media_types)}; a connector sends JSON, so the "
                "operation is imported without its body",
            )
            return None
        if not media_types:
            context.warn(
                at,
                "the document declares no media type for the body (no consumes); it is sent as "
                "JSON",
            )
        return (json_types or [_JSON])[0], parameter.get("schema", {}), (*at, "schema")
    if not form:
        return None
    has_file = any(parameter.get("type") == "file" for parameter, _ in form)
    urlencoded = not media_types or "application/x-www-form-urlencoded" in media_types
    if has_file or not urlencoded:
        context.warn(
            form[0][1],
            "the form is multipart (file upload); a connector sends JSON or urlencoded forms, "
            "so the operation is imported without its body",
        )
        return None
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    required = []
    for parameter, _ in form:
        collection = str(parameter.get("collectionFormat", "csv"))
        if parameter.get("type") == "array" and collection in SWAGGER_FORMATS:
            styles[str(parameter["name"])] = SWAGGER_FORMATS[collection]
        fields = {
            key: value
            for key, value in parameter.items()
            if key not in ("name", "in", "required", "description", "collectionFormat")
        }
        if isinstance(parameter.get("description"), str):
            fields["description"] = parameter["description"]
        schema["properties"][parameter["name"]] = fields
        if parameter.get("required") is True:
            required.append(parameter["name"])
    if required:
        schema["required"] = required
    # The schema is built here, so warnings point at the first form parameter.
    return "application/x-www-form-urlencoded", schema, form[0][1]
