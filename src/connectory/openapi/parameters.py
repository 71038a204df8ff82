"""Parameters: path-level and operation-level merged, mapped to the connector's parameters.

Query, path and header parameters map one to one (name, location, type, required, default, enum,
description, items). What the connector cannot send as the document asks is a warning: cookie
parameters, serialisations other than the connector's (arrays in the query repeat the name,
arrays in the path are comma-separated, objects are JSON text), and the ``Accept``,
``Content-Type`` and ``Authorization`` headers, which OpenAPI itself says to ignore.
"""

from __future__ import annotations

from typing import Any

from connectory.openapi.context import ImportContext
from connectory.openapi.pointers import Parts
from connectory.openapi.schemas import SchemaConverter
from connectory.openapi.shapes import NO_DEFAULT, ShapeReader, ValueShape
from connectory.openapi.values import NOT_FITTED, distinct, fit_value, is_prose

#: Where parameters go in the connector format.
LOCATIONS = ("query", "path", "header")
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
#: Swagger 2.0 parameter fields that are schema keywords.
_SWAGGER_SCHEMA_FIELDS = (
    "type",
    "format",
    "items",
    "enum",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
    "x-nullable",
    "x-example",
)

Located = tuple[dict[str, Any], Parts]


def merged_parameters(
    context: ImportContext,
    path_item: dict[str, Any],
    path_at: Parts,
    operation: dict[str, Any],
    operation_at: Parts,
) -> list[Located]:
    """Return the operation's parameters: the path item's, overridden by name and location."""
    by_key: dict[tuple[str, str], Located] = {}
    for owner, base in ((path_item, path_at), (operation, operation_at)):
        items = owner.get("parameters")
        if items is None:
            continue
        if not isinstance(items, list):
            context.warn((*base, "parameters"), "parameters must be a list; they are ignored")
            continue
        for index, item in enumerate(items):
            at: Parts = (*base, "parameters", index)
            resolved, where = context.resolve(item, at)
            if not isinstance(resolved, dict):
                if resolved is not None:
                    context.warn(at, "a parameter must be an object; it is ignored")
                continue
            name, location = resolved.get("name"), resolved.get("in")
            if not isinstance(name, str) or not name or not isinstance(location, str):
                context.warn(at, "a parameter needs a name and an 'in'; it is ignored")
                continue
            by_key[(name, location)] = (resolved, where)
    return list(by_key.values())


def map_parameter(
    context: ImportContext, converter: SchemaConverter, parameter: dict[str, Any], at: Parts
) -> dict[str, Any] | None:
    """Return the connector parameter for a query, path or header parameter, or None.

    Parameters that cannot be sent (cookies, ignored headers) are warned about and skipped.
    """
    name, location = parameter["name"], parameter["in"]
    if location == "cookie":
        context.warn(at, f"cookie parameter '{name}' cannot be sent by a connector; it is left out")
        return None
    if location not in LOCATIONS:
        context.warn(at, f"parameter '{name}' in '{location}' is not supported; it is left out")
        return None
    if location == "header" and name.lower() in _IGNORED_HEADERS:
        context.warn(
            at,
            f"header parameter '{name}' is ignored, as OpenAPI says; the connector sets it "
            "(auth, content type)",
        )
        return None
    schema, schema_at = _parameter_schema(context, parameter, at)
    converted = converter.convert(schema, schema_at, "request")
    shape = ShapeReader(converter, "request").value(converted)
    required = location == "path" or parameter.get("required") is True
    out: dict[str, Any] = {"name": name, "location": location, "type": shape.type}
    if required:
        out["required"] = True
    description = parameter.get("description")
    if not isinstance(description, str):
        description = shape.description
    if description:
        out["description"] = description
    if shape.several_types:
        context.warn(
            at, f"parameter '{name}' accepts values of several types; it is taken as {shape.type}"
        )
    _add_values(context, at, out, shape, required)
    _add_example(parameter, out, shape)
    if shape.type == "array" and isinstance(shape.items, dict):
        out["items"] = shape.items
    _check_style(context, parameter, at, out)
    return out


def _parameter_schema(
    context: ImportContext, parameter: dict[str, Any], at: Parts
) -> tuple[Any, Parts]:
    if context.is_swagger:
        schema = {key: parameter[key] for key in _SWAGGER_SCHEMA_FIELDS if key in parameter}
        if "x-example" in schema:
            schema["example"] = schema.pop("x-example")
        return schema, at
    if "schema" in parameter:
        return parameter["schema"], (*at, "schema")
    content = parameter.get("content")
    if isinstance(content, dict) and content:
        media_type, media = next(iter(content.items()))
        if isinstance(media, dict) and "schema" in media:
            return media["schema"], (*at, "content", media_type, "schema")
    return {"type": "string"}, at


def _add_values(
    context: ImportContext, at: Parts, out: dict[str, Any], shape: ValueShape, required: bool
) -> None:
    name, kind = out["name"], out["type"]
    if shape.enum:
        fitted = [fit_value(value, kind) for value in shape.enum]
        kept = [value for value in fitted if value is not NOT_FITTED]
        if len(kept) < len(fitted):
            context.warn(at, f"enum values of parameter '{name}' that are not {kind} are left out")
        if kept:
            out["enum"] = distinct(kept)
    if shape.default is NO_DEFAULT or shape.default is None:
        return
    default = fit_value(shape.default, kind)
    if is_prose(shape.default):
        context.warn_many(
            "prose defaults",
            at,
            name,
            "{count} parameter(s) have a default that reads as a description, not a value "
            "({items}); it is not sent: the API applies its own default when the parameter is "
            "left out",
        )
        return
    if required:
        context.warn(
            at,
            f"parameter '{name}' is required, so its default ({str(shape.default)[:40]}) is "
            "never used; it is left out",
        )
    elif default is NOT_FITTED:
        context.warn(at, f"the default of parameter '{name}' is not {kind}; it is left out")
    elif "enum" in out and default not in out["enum"]:
        context.warn(at, f"the default of parameter '{name}' is not one of its enum values")
    else:
        out["default"] = default


def _add_example(parameter: dict[str, Any], out: dict[str, Any], shape: ValueShape) -> None:
    """Keep the first example of the parameter that fits its type (and enum).

    Its own ``example``, then its named ``examples``, then its schema's: the builder's "Test
    every operation" sends it for a required parameter.
    """
    candidates: list[Any] = []
    if "example" in parameter:
        candidates.append(parameter["example"])
    examples = parameter.get("examples")
    if isinstance(examples, dict):  # OpenAPI 3: named Example objects
        candidates += [
            e["value"] for e in examples.values() if isinstance(e, dict) and "value" in e
        ]
    candidates += shape.examples
    for value in candidates:
        fitted = fit_value(value, out["type"]) if value is not None else NOT_FITTED
        if fitted is NOT_FITTED or is_prose(value):
            continue
        if "enum" in out and fitted not in out["enum"]:
            continue
        out["example"] = fitted
        return


SWAGGER_FORMATS = {
    "csv": ("form", False),
    "ssv": ("spaceDelimited", False),
    "pipes": ("pipeDelimited", False),
    "multi": (None, None),
}
_QUERY_STYLES = ("form", "spaceDelimited", "pipeDelimited", "deepObject")


def apply_style(
    context: ImportContext,
    at: Parts,
    out: dict[str, Any],
    style: Any,
    explode: Any,
) -> None:
    """Set ``style``/``explode`` on a query or form-body parameter where they change the wire.

    Arrays that repeat their name (form, exploded) and scalars need nothing: that is how the
    connector sends them anyway.
    """
    name, kind = out["name"], out["type"]
    if kind not in ("array", "object"):
        return
    style = style if isinstance(style, str) else "form"
    if style not in _QUERY_STYLES:
        context.warn(
            at,
            f"parameter '{name}' has style {style}, which a query or form body does not use; "
            "it is sent the connector's way (arrays repeat the name, objects as JSON text)",
        )
        return
    explode = explode if isinstance(explode, bool) else style in ("form", "deepObject")
    if kind == "array" and style == "form" and explode:
        return
    # deepObject is defined for objects; arrays in it are sent name[0], name[1] (what APIs
    # that use it, like Stripe, accept), so no warning.
    out["style"] = style
    default_explode = style in ("form", "deepObject")
    if explode != default_explode:
        out["explode"] = explode


def _check_style(
    context: ImportContext, parameter: dict[str, Any], at: Parts, out: dict[str, Any]
) -> None:
    name, location, kind = out["name"], out["location"], out["type"]
    if kind not in ("array", "object"):
        return
    if context.is_swagger:
        collection = str(parameter.get("collectionFormat", "csv"))
        if kind == "array" and location == "query":
            if collection in SWAGGER_FORMATS:
                style, explode = SWAGGER_FORMATS[collection]
                if style is not None:
                    apply_style(context, at, out, style, explode)
            else:
                context.warn(
                    at,
                    f"array parameter '{name}' is {collection}-separated in the document, "
                    "which a connector cannot send; it repeats the name for each item "
                    "(?x=1&x=2): check what the API accepts",
                )
        elif kind == "array" and location == "header":
            _warn_header_array(context, at, name)
        return
    json_content = "content" in parameter
    default_style = {"query": "form", "path": "simple", "header": "simple"}[location]
    style = parameter.get("style", default_style)
    if location == "query" and not json_content:
        apply_style(context, at, out, style, parameter.get("explode"))
    elif location == "header" and kind == "array":
        _warn_header_array(context, at, name)
    elif kind == "object" and not json_content:
        context.warn(
            at,
            f"object parameter '{name}' (style {style}) is sent as JSON text by the connector",
        )
    elif location == "path" and style != "simple":
        context.warn(
            at, f"path parameter '{name}' has style {style}; the connector uses style simple"
        )


def _warn_header_array(context: ImportContext, at: Parts, name: str) -> None:
    context.warn(
        at, f"array header '{name}' is sent as JSON text by the connector, not comma-separated"
    )
