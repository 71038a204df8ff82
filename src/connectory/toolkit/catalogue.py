"""The tool catalogue: one tool per operation and per collection method of a connector.

Names are what an agent calls: an operation keeps its own name (``get_item``), a collection
method is ``<collection>_<method>`` (``contacts_list``). A collection tool whose name an
operation already has becomes ``<collection>_records_<method>``. Names keep to the
characters every MCP client accepts (letters, digits, ``_`` and ``-``, at most 64).

Each tool says whether it only reads: operations marked safe (GET and HEAD unless the connector
sets ``safe:``) and the collection methods list, find_by_id, match and search. Everything else
changes data upstream and is offered only where a policy names it (see
:mod:`connectory.toolkit.policy`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from connectory.mappings import mapping_references
from connectory.spec.collections import WRITE_METHODS, CollectionMethodSpec, CollectionSpec
from connectory.spec.connector import ConnectorSpec
from connectory.spec.fields import InputFieldSpec
from connectory.spec.operations import OperationSpec, ParameterSpec
from connectory.spec.shared_schemas import bundle_schema, resolve_shared

ToolKind = Literal["operation", "collection"]

#: The argument that continues a capped or paged result (see :mod:`connectory.toolkit.results`).
CURSOR_ARGUMENT = "cursor"
#: Used instead when an operation has a parameter of its own called ``cursor``.
CURSOR_FALLBACK = "next_page"

_MAX_NAME = 64
_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]+")

_METHOD_VERBS = {
    "list": "List",
    "find_by_id": "Get one",
    "match": "Find the one",
    "search": "Search",
    "create": "Create",
    "update": "Update",
    "delete": "Delete",
}


@dataclass(frozen=True)
class ToolSpec:
    """One tool: what an agent sees, and what it runs.

    Attributes:
        name: The tool's name (unique in its connector).
        title: A human-readable name.
        description: What the tool does, for the agent.
        input_schema: JSON Schema (an object) of the arguments.
        kind: ``operation`` or ``collection``.
        target: The operation's name, or the collection's key.
        method: The collection method (``list``...); None for operations.
        read_only: True when the tool changes nothing upstream.
        paged: True when a result may carry ``next_cursor``.
        cursor_argument: The argument that takes ``next_cursor`` back.
    """

    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    kind: ToolKind
    target: str
    method: str | None = None
    read_only: bool = True
    paged: bool = False
    cursor_argument: str = CURSOR_ARGUMENT
    annotations: dict[str, bool] = field(default_factory=dict)


def build_tools(spec: ConnectorSpec) -> list[ToolSpec]:
    """Every tool of *spec*: its operations, then its collections' methods."""
    tools = [_operation_tool(operation, spec) for operation in spec.operations]
    taken = {tool.name for tool in tools}
    for collection in spec.collections:
        for method_name, method in collection.methods.defined().items():
            tool = _collection_tool(collection, method_name, method, spec, taken)
            taken.add(tool.name)
            tools.append(tool)
    return tools


def tool_index(tools: list[ToolSpec]) -> dict[str, ToolSpec]:
    """The tools by name."""
    return {tool.name: tool for tool in tools}


def safe_name(text: str) -> str:
    """*text* as a tool name: unsafe characters become ``_``; long names keep a digest."""
    name = _UNSAFE_CHARACTERS.sub("_", text).strip("_") or "tool"
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{name[: _MAX_NAME - 9]}_{digest}"


# ------------------------------------------------------------------------------ operations


def _operation_tool(operation: OperationSpec, spec: ConnectorSpec) -> ToolSpec:
    properties: dict[str, Any] = {}
    required: list[str] = []
    placeholders = set(operation.path_placeholders())
    for parameter in operation.parameters:
        properties[parameter.name] = _parameter_schema(parameter, spec.schemas)
        if parameter.required or parameter.name in placeholders:
            required.append(parameter.name)
    paged = operation.pagination is not None
    cursor = CURSOR_FALLBACK if CURSOR_ARGUMENT in properties else CURSOR_ARGUMENT
    if paged:
        properties[cursor] = _cursor_schema()
    schema = _arguments_schema(properties, required)
    read_only = operation.is_safe
    effect = "Reads only." if read_only else "Changes data upstream."
    summary = operation.description or operation.title
    paging = (
        " One page per call; a result with next_cursor has more: call again with cursor."
        if paged
        else ""
    )
    where = "JavaScript" if operation.is_javascript else f"{operation.method} {operation.path}"
    return ToolSpec(
        name=safe_name(operation.name),
        title=operation.title,
        description=f"{summary.strip()} ({where}) {effect}{paging}",
        input_schema=schema,
        kind="operation",
        target=operation.name,
        read_only=read_only,
        paged=paged,
        cursor_argument=cursor,
        annotations=_annotations(read_only, operation.method == "DELETE", operation.is_idempotent),
    )


def _cursor_schema() -> dict[str, Any]:
    """The cursor argument of a paged tool (named CURSOR_ARGUMENT, or CURSOR_FALLBACK)."""
    return {
        "type": "string",
        "description": "Continue a previous result: pass its next_cursor unchanged, with "
        "the same other arguments.",
    }


def _arguments_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """A tool's input schema: these arguments (those in *required* needed), no others."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def _parameter_schema(parameter: ParameterSpec, shared: Mapping[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": parameter.type}
    if parameter.type == "array":
        items = bundle_schema(parameter.items, shared) if parameter.items else {}
        schema["items"] = items if isinstance(items, Mapping) else {}
    if parameter.enum is not None:
        schema["enum"] = list(parameter.enum)
    if parameter.default is not None:
        schema["default"] = parameter.default
    if parameter.description:
        schema["description"] = parameter.description
    return schema


# ------------------------------------------------------------------------------ collections


def _collection_tool(
    collection: CollectionSpec,
    method_name: str,
    method: CollectionMethodSpec,
    spec: ConnectorSpec,
    taken: set[str],
) -> ToolSpec:
    name = safe_name(f"{collection.key}_{method_name}")
    if name in taken:
        name = safe_name(f"{collection.key}_records_{method_name}")
    fields = _fields_schema(collection, spec.schemas)
    properties: dict[str, Any] = {}
    required: list[str] = []
    if method_name in ("find_by_id", "update", "delete"):
        properties["id"] = {"type": ["string", "integer"], "description": "The record's id."}
        required.append("id")
    if method_name == "match":
        match_properties = {
            key: fields.get("properties", {}).get(key, {}) for key in method.match_fields
        }
        properties["fields"] = {
            "type": "object",
            "description": "Field values the one record must have.",
            "properties": match_properties,
            "additionalProperties": False,
            "minProperties": 1,
        }
        required.append("fields")
    if method_name == "search":
        properties["query"] = {"type": "string", "description": "The text to search for."}
        required.append("query")
    if method_name in ("list", "search") and method.filters:
        properties["filters"] = _filters_schema(method.filters, fields)
    if method_name in ("create", "update"):
        write_schema = dict(fields)
        if method_name == "update":
            write_schema.pop("required", None)
        write_schema["description"] = "The record's fields (read-only fields are refused)" + (
            "; only the fields to change." if method_name == "update" else "."
        )
        properties["fields"] = write_schema
        required.append("fields")
    merged = {**collection.parameters, **method.parameters}
    if merged:
        properties["parameters"] = _input_fields_schema(merged)
        if any(field.required and field.default is None for field in merged.values()):
            required.append("parameters")
    paged = method_name == "list"
    if paged:
        if _reads(method, spec, "page_size"):
            properties["page_size"] = {"type": "integer", "minimum": 1, "maximum": 1000}
        properties[CURSOR_ARGUMENT] = _cursor_schema()
    schema = _arguments_schema(properties, required)
    read_only = method_name not in WRITE_METHODS
    verb = _METHOD_VERBS[method_name]
    what = collection.title
    description = f"{verb} {what} record{'s' if method_name in ('list', 'search') else ''}"
    if collection.description:
        description += f" ({collection.description.strip()})"
    description += ". Records have id, name, fields, created_at and updated_at."
    if paged:
        description += " One page per call; a result with next_cursor has more."
    if not read_only:
        description += " Changes data upstream."
    return ToolSpec(
        name=name,
        title=f"{what}: {method_name.replace('_', ' ')}",
        description=description,
        input_schema=schema,
        kind="collection",
        target=collection.key,
        method=method_name,
        read_only=read_only,
        paged=paged,
        annotations=_annotations(read_only, method_name == "delete", method_name != "create"),
    )


def _fields_schema(collection: CollectionSpec, shared: Mapping[str, Any]) -> dict[str, Any]:
    # The top level resolved (its properties and required list in sight), the rest bundled.
    bundled = bundle_schema(resolve_shared(collection.fields_schema, shared), shared)
    return dict(bundled) if isinstance(bundled, Mapping) else {"type": "object"}


def _filters_schema(filters: list[str], fields: Mapping[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name in filters:
        if name in ("updated_since", "created_since"):
            properties[name] = {
                "type": "string",
                "format": "date-time",
                "description": "RFC 3339 time, e.g. 2024-05-01T00:00:00Z.",
            }
        else:
            found = fields.get("properties", {}).get(name, {})
            properties[name] = {
                key: value for key, value in found.items() if key not in ("readOnly", "writeOnly")
            }
    return {
        "type": "object",
        "description": "Filters the API applies; only these.",
        "properties": properties,
        "additionalProperties": False,
    }


def _input_fields_schema(fields: Mapping[str, InputFieldSpec]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, spec in fields.items():
        schema: dict[str, Any] = {"type": "string" if spec.type == "password" else spec.type}
        if spec.enum is not None:
            schema["enum"] = list(spec.enum)
        if spec.default is not None:
            schema["default"] = spec.default
        if spec.help or spec.label:
            schema["description"] = spec.help or spec.label
        properties[name] = schema
        if spec.required and spec.default is None:
            required.append(name)
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _reads(method: CollectionMethodSpec, spec: ConnectorSpec, name: str) -> bool:
    """Whether a method's mappings read variable *name* (as its runner decides at run time)."""
    if method.request is not None:
        request = method.request
        sources: list[Any] = [request.path, request.query, request.headers, request.body]
    elif method.input is None:
        operation = spec.operation(method.operation or "")
        return operation is not None and operation.parameter(name) is not None
    else:
        sources = [method.input]
    return any(
        reference.split(".")[0] == name
        for source in sources
        for _, reference in mapping_references(source)
    )


def _annotations(read_only: bool, destructive: bool, idempotent: bool) -> dict[str, bool]:
    return {
        "read_only": read_only,
        "destructive": (not read_only) and destructive,
        "idempotent": read_only or idempotent,
    }
