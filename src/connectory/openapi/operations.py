"""Operations: one per method and path, named, filtered, and mapped with their inputs and output."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from connectory.openapi.bodies import map_request_body
from connectory.openapi.context import ImportContext
from connectory.openapi.naming import UniqueNames, name_from_path, snake_case
from connectory.openapi.parameters import map_parameter, merged_parameters
from connectory.openapi.pointers import Parts
from connectory.openapi.responses import ResponseMapping, map_responses
from connectory.openapi.schemas import SchemaConverter
from connectory.openapi.servers import operation_server
from connectory.spec.suggest import did_you_mean

#: Placeholder names the connector format accepts (see connectory.spec.operations).
_PLACEHOLDER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
_UNSUPPORTED_METHODS = ("trace", "query")


@dataclass
class SourceOperation:
    """An operation as the document has it, with the name it gets in the connector."""

    name: str
    method: str
    path: str
    operation: dict[str, Any]
    at: Parts
    path_item: dict[str, Any]
    path_at: Parts
    operation_id: str | None
    tags: list[str] = field(default_factory=list)


@dataclass
class MappedOperation:
    """A connector operation and what pagination suggestions are made from."""

    source: SourceOperation
    spec: dict[str, Any]
    parameter_schemas: dict[str, Any]
    response: ResponseMapping


def list_operations(context: ImportContext) -> list[SourceOperation]:
    """Return every operation of the document in order, each with its unique connector name.

    Names are given over the whole document before any filter, so an operation keeps its name
    whichever subset is imported (re-imports compare by name).
    """
    paths = context.data.get("paths")
    if paths is None:
        return []
    if not isinstance(paths, dict):
        context.warn(("paths",), "paths must be an object; no operation is imported")
        return []
    names = UniqueNames()
    found: list[SourceOperation] = []
    for path, item in paths.items():
        path_text = str(path)
        if path_text.startswith("x-"):
            continue
        item, item_at = context.resolve(item, ("paths", path_text))
        if not isinstance(item, dict):
            continue
        for method, operation in item.items():
            at: Parts = (*item_at, str(method))
            if method in _UNSUPPORTED_METHODS:
                context.warn(at, f"{str(method).upper()} operations are not supported; left out")
                continue
            if method not in METHODS or not isinstance(operation, dict):
                continue
            operation_id = operation.get("operationId")
            operation_id = operation_id if isinstance(operation_id, str) and operation_id else None
            wanted = snake_case(operation_id) if operation_id else ""
            name = names.take(wanted or name_from_path(method, path_text))
            tags = operation.get("tags")
            found.append(
                SourceOperation(
                    name=name,
                    method=method.upper(),
                    path=path_text if path_text.startswith("/") else "/" + path_text,
                    operation=operation,
                    at=at,
                    path_item=item,
                    path_at=item_at,
                    operation_id=operation_id,
                    tags=[str(tag) for tag in tags] if isinstance(tags, list) else [],
                )
            )
    return found


def select_operations(
    context: ImportContext,
    operations: list[SourceOperation],
    tags: list[str] | None,
    operation_ids: list[str] | None,
) -> list[SourceOperation]:
    """Return the operations with any of *tags* or any of *operation_ids* (all when neither).

    An operation id matches the document's ``operationId`` or the connector name. A tag or id
    that matches nothing is an error, with the closest known value.
    """
    if not tags and not operation_ids:
        return operations
    known_tags = list(dict.fromkeys(tag for op in operations for tag in op.tags))
    for tag in tags or []:
        if tag not in known_tags:
            context.fail(
                "",
                f"no operation has the tag '{tag}'{did_you_mean(tag, known_tags)}; tags: "
                f"{', '.join(known_tags[:30]) or 'none'}",
            )
    known_ids = [op.operation_id for op in operations if op.operation_id] + [
        op.name for op in operations
    ]
    for wanted in operation_ids or []:
        if wanted not in known_ids:
            context.fail("", f"no operation has the id '{wanted}'{did_you_mean(wanted, known_ids)}")
    wanted_tags = set(tags or [])
    wanted_ids = set(operation_ids or [])
    return [
        op
        for op in operations
        if wanted_tags.intersection(op.tags) or {op.operation_id, op.name} & wanted_ids
    ]


def map_operation(
    context: ImportContext, converter: SchemaConverter, source: SourceOperation
) -> MappedOperation:
    """Return the connector operation for *source*."""
    operation = source.operation
    spec: dict[str, Any] = {"name": source.name, "method": source.method, "path": source.path}
    summary, description = operation.get("summary"), operation.get("description")
    if isinstance(summary, str) and summary.strip():
        spec["display_name"] = summary.strip()[:200]
    text = description if isinstance(description, str) and description.strip() else summary
    if isinstance(text, str) and text.strip():
        spec["description"] = text.strip()
    if operation.get("deprecated") is True:
        spec["description"] = "Deprecated. " + spec.get("description", "")
    parameters: list[dict[str, Any]] = []
    schemas: dict[str, Any] = {}
    body_sources = []
    taken: set[str] = set()
    located = merged_parameters(context, source.path_item, source.path_at, operation, source.at)
    placeholders = set(_placeholders(source.path))
    for parameter, at in located:
        if parameter["in"] in ("body", "formData"):
            body_sources.append((parameter, at))
            continue
        mapped = map_parameter(context, converter, parameter, at)
        if mapped is None:
            continue
        if mapped["location"] == "path" and mapped["name"] not in placeholders:
            context.warn(
                at,
                f"path parameter '{mapped['name']}' is not in the path {source.path}; it is "
                "left out",
            )
            continue
        if mapped["name"] in taken:
            context.warn(
                at,
                f"parameter '{mapped['name']}' is declared in two places; a connector names "
                "each parameter once, so this one is left out",
            )
            continue
        taken.add(mapped["name"])
        parameters.append(mapped)
        schemas[mapped["name"]] = _parameter_schema(parameter)
    _check_path(context, source, parameters)
    _rename_placeholders(context, source, spec, parameters, taken)
    body = map_request_body(context, converter, operation, source.at, body_sources, taken)
    parameters += body.parameters
    if parameters:
        spec["parameters"] = parameters
    if body.headers:
        spec["headers"] = body.headers
    if body.request_body is not None:
        spec["request_body"] = body.request_body
    response = map_responses(context, converter, operation, source.at)
    if response.schema is not None:
        spec["response_schema"] = response.schema
    if source.tags:
        spec["tags"] = source.tags
    _warn_unsupported(context, source)
    return MappedOperation(source, spec, schemas, response)


def _parameter_schema(parameter: dict[str, Any]) -> Any:
    schema = parameter.get("schema")
    return schema if isinstance(schema, dict) else parameter


def _check_path(
    context: ImportContext, source: SourceOperation, parameters: list[dict[str, Any]]
) -> None:
    in_path = {p["name"] for p in parameters if p["location"] == "path"}
    for placeholder in _placeholders(source.path):
        if placeholder not in in_path:
            context.warn(
                source.at,
                f"the path has {{{placeholder}}} but no path parameter of that name; a "
                "required text parameter is added",
            )
            parameters.append(
                {"name": placeholder, "location": "path", "type": "string", "required": True}
            )
            in_path.add(placeholder)


def _rename_placeholders(
    context: ImportContext,
    source: SourceOperation,
    spec: dict[str, Any],
    parameters: list[dict[str, Any]],
    taken: set[str],
) -> None:
    """Give path placeholders the connector cannot name (``{.format}``, ``{id:}``) safe names.

    A path parameter's name only says which placeholder it fills (it is never sent), so the
    rename changes nothing on the wire.
    """
    renames: dict[str, str] = {}
    for name in _placeholders(source.path):
        if _PLACEHOLDER_NAME.fullmatch(name):
            continue
        safe = re.sub(r"[^A-Za-z0-9_.\-]+", "_", name).strip("_.-") or "value"
        if not safe[0].isalpha():
            safe = "p_" + safe
        while safe in taken or safe in renames.values():
            safe += "_"
        renames[name] = safe
    if not renames:
        return
    path = source.path
    for old, new in renames.items():
        path = path.replace("{" + old + "}", "{" + new + "}")
    spec["path"] = path
    for parameter in parameters:
        if parameter["location"] == "path" and parameter["name"] in renames:
            parameter["name"] = renames[parameter["name"]]
            taken.add(parameter["name"])
    shown = ", ".join(f"{{{old}}} -> {{{new}}}" for old, new in list(renames.items())[:2])
    context.warn_many(
        "placeholders",
        source.at,
        source.name,
        "{count} operation(s) have path placeholders a connector cannot name ({items}); they "
        f"are renamed ({shown}); values are inserted as given, so pass any prefix the API "
        "expects (a '.json' for {.format})",
    )


def _placeholders(path: str) -> list[str]:
    names: list[str] = []
    start = path.find("{")
    while start >= 0:
        end = path.find("}", start)
        if end < 0:
            break
        names.append(path[start + 1 : end])
        start = path.find("{", end)
    return names


def _warn_unsupported(context: ImportContext, source: SourceOperation) -> None:
    operation = source.operation
    if isinstance(operation.get("callbacks"), dict) and operation["callbacks"]:
        context.warn_many(
            "callbacks",
            (*source.at, "callbacks"),
            source.name,
            "{count} operation(s) have callbacks ({items}); they are not imported: set up "
            "webhooks for them in the connector's events",
        )
    for owner, at in ((operation, source.at), (source.path_item, source.path_at)):
        servers = owner.get("servers")
        if not isinstance(servers, list) or not servers:
            continue
        url = operation_server(context, servers)
        if url is None or url == context.base_url:
            break  # the operation is called where the connector calls anything
        context.warn_many(
            f"server {url}",
            (*at, "servers"),
            source.name,
            f"{{count}} operation(s) have their own server {url} ({{items}}); a connector has "
            f"one base_url ({context.base_url}), so they are called there: import them into "
            "a connector of their own (--operation-id) if they only answer on that server",
        )
        break
